"""The API on a PostgreSQL alert store (several hosts share alerts and tokens there)."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.roles import Role
from louyu.testing.postgres import Postgres, postgres_bindir
from louyu.testing.services import ServiceError
from rules.database import make_engine
from rules.database.alerts import EventRow
from rules.database.migrate import upgrade
from tests.api.conftest import Api
from tests.api.sse import read_events, take
from tests.api.test_hardening import assert_crafted_cursors_refused

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """Overrides the SQLite engine of conftest.py: every fixture built on it runs on PostgreSQL."""
    try:
        postgres_bindir()
    except ServiceError as error:
        pytest.fail(f"{error}")
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv is missing (util-linux)")
    server = Postgres(tmp_path / "postgres")
    server.start()
    engine = make_engine(server.url)
    upgrade(engine)
    yield engine
    engine.dispose()
    server.kill()


def test_the_api_on_postgresql(api: Api) -> None:
    alerts = [api.raise_alert(device=f"aed-{n}").alert for n in range(5)]
    with api.client(Role.OPERATOR) as client:
        page = client.get("/api/v1/alerts", params={"limit": 2, "sort": "started_at"}).json()
        second = client.get(
            "/api/v1/alerts", params={"limit": 2, "sort": "started_at", "cursor": page["next_cursor"]}
        )
        assert [a["id"] for a in page["items"] + second.json()["items"]] == [a.id for a in alerts[:4]]
        # The priority order's cursor (CASE expression, mixed directions) and the filters' counts.
        api.store.acknowledge(alerts[4].id, "patrol-wang", None, dt.datetime.now(dt.UTC))
        first = client.get("/api/v1/alerts", params={"limit": 3, "sort": "priority", "q": "AED"}).json()
        rest = client.get(
            "/api/v1/alerts",
            params={"limit": 3, "sort": "priority", "q": "AED", "cursor": first["next_cursor"]},
        ).json()
        assert [a["id"] for a in first["items"] + rest["items"]] == [a.id for a in reversed(alerts[:4])] + [
            alerts[4].id
        ]
        assert first["counts"]["state"] == {"firing": 4, "acknowledged": 1, "resolved": 0}
        with client.stream("GET", "/api/v1/events") as stream:
            assert (
                client.post(f"/api/v1/alerts/{alerts[0].id}/ack", json={"note": "on my way"}).status_code
                == 200
            )
            assert client.post(f"/api/v1/alerts/{alerts[0].id}/resolve").status_code == 200
            events = take(stream, 2)
        assert [(e.data["event"], e.data["by"]) for e in events] == [
            ("acknowledged", "operator-1"),
            ("resolved", "operator-1"),
        ]
        assert client.post(f"/api/v1/alerts/{alerts[0].id}/ack").status_code == 409
        silence = client.post(
            "/api/v1/silences", json={"device": "aed-1", "duration_minutes": 30, "reason": "service visit"}
        )
        assert silence.status_code == 201
        assert client.delete(f"/api/v1/silences/{silence.json()['id']}").status_code == 200
    api.tokens.revoke_name("operator-1", dt.datetime.now(dt.UTC))
    with api.client(Role.OPERATOR) as client:
        assert client.get("/api/v1/alerts").status_code == 401


def test_an_event_committed_late_is_not_skipped(api: Api) -> None:
    """Two writers: event N+1 commits while event N is still in its transaction. The stream
    holds N+1 back until N is there, so it sends both, in id order."""
    first = api.raise_alert(device="first")
    with api.client(Role.VIEWER) as client, client.stream("GET", "/api/v1/events") as stream:
        events = read_events(stream)
        slow = Session(api.store.engine)
        slow.begin()
        row = EventRow(
            alert_id=first.alert.id,
            event="reminded",
            at=dt.datetime.now(dt.UTC),
            by=None,
            note="slow writer",
            alert=first.alert.to_json(),
        )
        slow.add(row)
        slow.flush()  # takes id N from the sequence, not yet visible
        slow_id = row.id
        fast = api.raise_alert(device="fast")  # N+1, committed at once
        assert fast.id == slow_id + 1
        time.sleep(1.2)  # the stream polls (every 0.5 s here), sees N+1 and holds it (grace 2 s)
        slow.commit()
        slow.close()
        got = [next(events), next(events)]
    assert [e.id for e in got] == [slow_id, fast.id]
    assert got[0].data["note"] == "slow writer"


def test_crafted_cursors_are_400s_on_postgresql(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    assert_crafted_cursors_refused(api, caplog)
