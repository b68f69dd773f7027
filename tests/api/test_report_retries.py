"""Retries of scheduled reports' sendings, against real receivers on loopback: a webhook receiver
(HTTP, checking the Standard Webhooks signature) and an e-mail receiver (apprise's mailto:// to an
SMTP server) that fail first and then take the report, and a webhook receiver that takes it at
once. A failed receiver gets the report exactly once, after the failure; a receiver that took it
is never sent it again; a new API (new app, archive and scheduler on the same store) carries on
with the retries due, through its APScheduler job soon after start; a receiver still failing at
the last retry, or refusing the message itself, is given up and the list says so. The clock is
injected: no test waits for a backoff delay."""

from __future__ import annotations

import base64
import datetime as dt
import email
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook

from api.app import create_app
from api.config import ApiConfig
from api.reports.schedule import RETRY_LEASE, ReportScheduler
from api.roles import Role
from api.server import ApiServer
from api.tokens import TokenStore
from collector.registry import Registry
from rules.notify.config import RoutingConfig, parse_routing
from rules.store import AlertStore
from tests.api.report_receivers import Sink, SmtpSink, serving

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123").decode()
# 03:00 on Monday 30 November, Shanghai: the weekly run for the week before.
T0 = dt.datetime(2026, 11, 29, 19, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def signed(path: str, headers: dict[str, str], body: bytes) -> int | None:
    """The receiver's own check: a webhook whose signature does not verify is refused (401)."""
    if path == "/mail":
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    stamp = dt.datetime.fromtimestamp(int(lower["webhook-timestamp"]), dt.UTC)
    # `verify` would also refuse the injected clock's timestamps as too old: the signature alone.
    good = Webhook(SECRET).sign(lower["webhook-id"], stamp, body.decode()) == lower["webhook-signature"]
    return None if good else 401


def routing(hooks: Sink, smtp: SmtpSink, retry: str) -> RoutingConfig:
    return parse_routing(
        f"""
receivers:
  - name: facility-manager
    apprise: {{urls_env: REPORT_MAIL_URLS}}
  - name: city
    webhook: {{url: "{hooks.url}/city", secret_env: CITY_SECRET}}
  - name: district
    webhook: {{url: "{hooks.url}/district", secret_env: CITY_SECRET}}
reports:
  - kinds: [alert-handling]
    every: week
    at: "03:00"
    languages: [en]
    receivers: [facility-manager, city, district]
    link_base: https://louyu.example.com
    retry: {retry}
"""
    )


def new_app(engine: Engine, registry: Registry, tmp_path: Path, clock: Clock) -> FastAPI:
    return create_app(
        ApiConfig(rate_per_s=1000, rate_burst=1000, seed_from_influx=False), store=AlertStore(engine),
        tokens=TokenStore(engine), registry=registry, clock=clock, report_dir=tmp_path / "reports",
    )  # fmt: skip


def scheduler(app: FastAPI, config: RoutingConfig, clock: Clock, **timing: dt.timedelta) -> ReportScheduler:
    state = app.state.louyu
    return ReportScheduler(state.reports, state.archive, config, clock, metrics=state.metrics, **timing)


def sendings(app: FastAPI, channel: str, outcome: str) -> float:
    found = app.state.louyu.metrics.registry.get_sample_value(
        "louyu_report_sendings_total", {"channel": channel, "outcome": outcome}
    )
    return found or 0.0


def by_receiver(app: FastAPI, report_id: int) -> dict[str, dict[str, Any]]:
    kept = app.state.louyu.archive.get(report_id)
    assert kept is not None
    return {item["receiver"]: item for item in kept.sent}


@pytest.fixture
def receivers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sink, SmtpSink]]:
    hooks = Sink({"/city": [503, 200], "/district": [200]}, check=signed)
    smtp = SmtpSink([451, 250])
    monkeypatch.setenv(
        "REPORT_MAIL_URLS",
        f"mailto://127.0.0.1:{smtp.port}?mode=insecure&from=louyu@example.com&to=fm@example.com",
    )
    monkeypatch.setenv("CITY_SECRET", SECRET)
    with serving(hooks), serving(smtp):
        yield hooks, smtp


def test_failed_receivers_get_the_report_once_after_a_restart_and_the_others_never_again(
    engine: Engine, registry: Registry, tmp_path: Path, receivers: tuple[Sink, SmtpSink]
) -> None:
    hooks, smtp = receivers
    config = routing(hooks, smtp, "[1m, 5m]")
    clock = Clock(T0)
    first = new_app(engine, registry, tmp_path, clock)
    (report_id,) = scheduler(first, config, clock).run(0)

    # The first sending: the city's webhook answered 503, the mail server 451, the district took it.
    state = by_receiver(first, report_id)
    assert (hooks.to("/city"), hooks.to("/district"), len(smtp.refused), len(smtp.accepted)) == (
        [503],
        [200],
        1,
        0,
    )
    assert state["district"] == {
        "receiver": "district", "ok": True, "error": None, "attempts": 1,
        "last_attempt_at": T0.isoformat(), "next_attempt_at": None, "gave_up": False,
    }  # fmt: skip
    assert state["city"]["error"].startswith("HTTP 503")
    assert state["facility-manager"]["error"] == "apprise: the notification failed"
    for name in ("city", "facility-manager"):
        assert (state[name]["ok"], state[name]["attempts"], state[name]["gave_up"]) == (False, 1, False)
        assert state[name]["next_attempt_at"] == (T0 + MINUTE).isoformat()
    kept = first.state.louyu.archive.get(report_id)
    assert kept is not None and kept.retry_at == T0 + MINUTE
    assert (sendings(first, "webhook", "retry"), sendings(first, "webhook", "ok")) == (1, 1)
    assert sendings(first, "apprise", "retry") == 1

    # Not due yet: nothing is sent.
    clock.now = T0 + dt.timedelta(seconds=59)
    assert scheduler(first, config, clock).retry_due() == []
    assert len(hooks.received) == 2 and len(smtp.refused) + len(smtp.accepted) == 1

    # The API restarts after the retry fell due: a new app and scheduler on the same store send it
    # from their periodic job soon after start, without anyone calling them.
    clock.now = T0 + 2 * MINUTE
    second = new_app(engine, registry, tmp_path, clock)
    restarted = scheduler(
        second,
        config,
        clock,
        retry_check=dt.timedelta(seconds=30),
        first_retry_check=dt.timedelta(seconds=0.2),
    )
    restarted.start()
    try:
        assert "reports-retry" in dict(restarted.jobs())
        deadline = time.monotonic() + 30
        while not all(s["ok"] for s in by_receiver(second, report_id).values()):
            assert time.monotonic() < deadline, by_receiver(second, report_id)
            time.sleep(0.05)
    finally:
        restarted.stop()

    state = by_receiver(second, report_id)
    for name in ("city", "facility-manager"):
        assert state[name] == {
            "receiver": name, "ok": True, "error": None, "attempts": 2,
            "last_attempt_at": (T0 + 2 * MINUTE).isoformat(), "next_attempt_at": None, "gave_up": False,
        }  # fmt: skip
    assert state["district"]["attempts"] == 1  # untouched
    kept = second.state.louyu.archive.get(report_id)
    assert kept is not None and kept.retry_at is None
    assert (sendings(second, "webhook", "ok"), sendings(second, "apprise", "ok")) == (1, 1)
    assert sendings(second, "webhook", "retry") == sendings(second, "apprise", "retry") == 0

    # Exactly once per receiver: the city's 503 then 200, the district's single 200, one mail taken.
    assert (hooks.to("/city"), hooks.to("/district")) == ([503, 200], [200])
    assert (len(smtp.refused), len(smtp.accepted)) == (1, 1)
    # The retry is the same message, under the same webhook id (a receiver may drop repeats by it).
    city = [(h, b) for p, h, b in hooks.received if p == "/city"]
    assert city[0][1] == city[1][1]
    assert city[0][0]["webhook-id"] == city[1][0]["webhook-id"] == f"report-{report_id}-city"
    assert json.loads(city[1][1])["id"] == report_id
    # The mail carries the kept PDF.
    assert kept.files is not None
    pdf_name = next(name for name in kept.files if name.endswith(".pdf"))
    mail = email.message_from_bytes(smtp.accepted[0])
    assert mail["To"] == "fm@example.com"
    (attachment,) = [part for part in mail.walk() if part.get_filename()]
    assert (
        attachment.get_payload(decode=True) == (tmp_path / "reports" / str(report_id) / pdf_name).read_bytes()
    )

    # Later runs of the retry job send nothing more, to anyone.
    clock.now = T0 + dt.timedelta(days=2)
    assert scheduler(second, config, clock).retry_due() == []
    assert len(hooks.received) == 3 and len(smtp.accepted) + len(smtp.refused) == 2


def test_a_receiver_still_failing_is_given_up_after_the_last_retry_and_the_list_says_so(
    engine: Engine, registry: Registry, tmp_path: Path, receivers: tuple[Sink, SmtpSink]
) -> None:
    hooks, smtp = receivers
    hooks.script["/city"] = [503]  # down all along
    hooks.script["/district"] = [400]  # refuses the message: sending it again cannot help
    smtp.script = [250]
    config = routing(hooks, smtp, "[1m, 5m]")
    clock = Clock(T0)
    app = new_app(engine, registry, tmp_path, clock)
    schedule = scheduler(app, config, clock)
    (report_id,) = schedule.run(0)
    assert by_receiver(app, report_id)["district"] | {"error": None} == {
        "receiver": "district", "ok": False, "error": None, "attempts": 1,
        "last_attempt_at": T0.isoformat(), "next_attempt_at": None, "gave_up": True,
    }  # fmt: skip
    assert by_receiver(app, report_id)["district"]["error"].startswith("HTTP 400")

    # Another API process takes the due retry and dies while sending: its lease holds the retry
    # away from this process, then runs out, and this process sends it.
    clock.now = T0 + MINUTE
    ((due_id, seen),) = app.state.louyu.archive.due(clock.now)
    assert due_id == report_id and app.state.louyu.archive.take(report_id, seen, clock.now + RETRY_LEASE)
    assert not app.state.louyu.archive.take(report_id, seen, clock.now + RETRY_LEASE)  # taken once
    assert schedule.retry_due() == []
    clock.now = T0 + MINUTE + RETRY_LEASE
    assert schedule.retry_due() == [report_id]
    city = by_receiver(app, report_id)["city"]
    assert (city["attempts"], city["gave_up"], city["next_attempt_at"]) == (
        2, False, (clock.now + 5 * MINUTE).isoformat(),
    )  # fmt: skip

    # The last retry fails too: given up, in words, and never tried again.
    clock.now += 5 * MINUTE
    assert schedule.retry_due() == [report_id]
    clock.now += dt.timedelta(days=3)
    assert schedule.retry_due() == []
    assert hooks.to("/city") == [503, 503, 503] and hooks.to("/district") == [400]
    assert len(smtp.accepted) == 1
    assert (sendings(app, "webhook", "failed"), sendings(app, "webhook", "retry")) == (2, 2)
    assert sendings(app, "apprise", "ok") == 1

    server = ApiServer(app, "127.0.0.1", 0)
    server.start()
    try:
        token = TokenStore(engine).create("op", Role.OPERATOR, T0)[1]
        page = httpx.get(
            f"{server.url}/api/v1/reports", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()
        exposition = httpx.get(f"{server.url}/metrics", timeout=10).text
    finally:
        server.stop()
    assert 'louyu_report_sendings_total{channel="webhook",outcome="failed"} 2.0' in exposition
    checked = subprocess.run(
        ["promtool", "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (listed,) = page["items"]
    assert listed["retry_at"] is None
    sent = {s["receiver"]: s for s in listed["sent"]}
    assert sent["city"]["ok"] is False and sent["city"]["gave_up"] is True and sent["city"]["attempts"] == 3
    assert sent["city"]["error"].startswith("HTTP 503") and sent["city"]["next_attempt_at"] is None
    assert (
        dt.datetime.fromisoformat(sent["city"]["last_attempt_at"]) == T0 + 16 * MINUTE
    )  # 1 min, the lease, 5 min
    assert sent["district"]["gave_up"] is True and sent["district"]["attempts"] == 1
    mail = sent["facility-manager"]
    assert dt.datetime.fromisoformat(mail.pop("last_attempt_at")) == T0
    assert mail == {
        "receiver": "facility-manager", "ok": True, "error": None, "attempts": 1, "next_attempt_at": None,
        "gave_up": False,
    }  # fmt: skip
