"""Migrations: a database as earlier versions left it (frozen SQL snapshots, with rows in every
table) is upgraded with every row kept and ends up exactly as the models describe it; a new
database is today's schema; processes starting together migrate once. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from api.roles import Role
from api.tokens import TokenStore
from louyu.cli import app
from rules.database import make_engine, metadata
from rules.database.migrate import current, differences, head, upgrade
from rules.notify.history import DeliveryHistory
from rules.notify.ledger import Ledger
from rules.records import SEVERITIES
from rules.store import AlertStore, NewAlert
from tests.database.legacy import (
    BEFORE_RANK,
    DATA,
    RANK_STEP,
    REVOKED_TOKEN,
    TODAY,
    TOKEN,
    describe,
    legacy,
    rows,
)

NOW = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)
# The schemas the field may hold: created by the last version before migrations; created before
# the severity rank; created before it and then upgraded by the hand-written step of 1d5146f.
LEGACY = {
    "today": (TODAY,),
    "before-rank": (BEFORE_RANK,),
    "rank-step": (BEFORE_RANK, RANK_STEP),
}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("schema", LEGACY)
def test_an_upgrade_keeps_every_row_and_matches_the_models(engine: Engine, schema: str) -> None:
    legacy(engine, *LEGACY[schema], DATA)
    before = rows(engine)
    assert current(engine) is None
    assert {t: len(r) for t, r in before.items()} == {
        "alert_events": 3,
        "alerts": 4,
        "api_tokens": 2,
        "notify_attempts": 3,
        "notify_cursor": 1,
        "notify_deliveries": 2,
        "notify_tracks": 1,
        "rule_pending": 1,
        "silences": 2,
    }

    upgraded = upgrade(engine)

    assert (upgraded.before, upgraded.after) == (None, head())
    # Every row kept, and the tables added since (the report archive, 0003) are there, empty.
    after = {**before, "reports": []}
    assert rows(engine) == after
    assert differences(engine) == []
    assert upgrade(engine).changed is False  # again: nothing to do
    assert rows(engine) == after

    # The rows read back through the parts that own them, and new writes carry on after them.
    with engine.connect() as conn:
        ranks = conn.execute(text("SELECT severity, severity_rank FROM alerts ORDER BY id")).all()
    assert [r for _, r in ranks] == [
        SEVERITIES.index(s) if s in SEVERITIES else len(SEVERITIES) for s, _ in ranks
    ]
    store = AlertStore(engine)
    by_severity, _ = store.list_alerts(sort="severity", limit=10)
    assert [(a.id, a.severity) for a in by_severity] == [
        (1, "critical"),
        (3, "minor"),
        (2, "warning"),
        (4, "page"),
    ]
    aed = store.get(1)
    assert aed is not None and aed.escalation_level == 1 and aed.labels == {"floor": "1F", "zone": "lobby"}
    assert aed.started_at == dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)
    assert [e.event for e in store.events(1)] == ["raised", "escalated"]
    assert [e.id for e in store.events_after(1)] == [2, 3]
    assert [s.reason for s in store.list_silences(active_at=dt.datetime(2026, 11, 27, 5, tzinfo=dt.UTC))] == [
        "service visit"
    ]
    assert [(p.rule, p.device) for p in store.load_pending()] == [("parking-full", "gw-a-peer")]
    raised = store.raise_alert(
        NewAlert("aed-cabinet-open", "critical", "darong-b", "aed", "aed-b-2f", "opened", True, {}), NOW
    )
    assert raised is not None and raised.alert.id == 5 and raised.id == 4
    tokens = TokenStore(engine)
    wang = tokens.authenticate(TOKEN, NOW)
    assert wang is not None and wang.name == "wang" and wang.role is Role.PATROL
    assert tokens.authenticate(REVOKED_TOKEN, NOW) is None
    _, fresh = tokens.create("li", Role.VIEWER, NOW)
    assert tokens.authenticate(fresh, NOW) is not None
    deliveries = DeliveryHistory(engine).for_alert(2)
    assert [(d.id, d.status, len(d.tries)) for d in deliveries] == [("evt-3-city", "pending", 2)]
    assert Ledger(engine).cursor() == 3


def test_a_database_with_only_some_tables_gets_the_others(engine: Engine) -> None:
    """`louyu rules` run alone created only the alert store's tables: the rest are added."""
    legacy(engine, TODAY, DATA)
    with engine.begin() as conn:
        for table in ("notify_attempts", "notify_deliveries", "notify_tracks", "notify_cursor", "api_tokens"):
            conn.execute(text(f"DROP TABLE {table}"))
    kept = rows(engine)

    upgrade(engine)

    after = rows(engine)
    assert set(after) == {t.name for t in metadata.sorted_tables}
    assert {t: r for t, r in after.items() if t in kept} == kept
    assert differences(engine) == []


def test_a_new_database_is_the_schema_of_the_last_version_before_migrations_and_later_tables(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    upgrade(engine)
    assert current(engine) == head()
    assert differences(engine) == []
    # The same schema as create_all of 1d5146f made, column by column and index by index.
    reference_url = database_url
    if engine.dialect.name == "sqlite":
        reference_url = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'louyu.db'}"
        reference = make_engine(reference_url)
    else:
        reference = make_engine(database_url)
        with reference.begin() as conn:
            conn.execute(text("CREATE SCHEMA reference"))
        reference.dispose()
        reference = make_engine(database_url, connect_args={"options": "-c search_path=reference"})
    try:
        legacy(reference, TODAY)
        # Plus the tables added by later revisions (0003: the report archive), which the models describe.
        described = describe(engine)
        assert set(described) - set(describe(reference)) == {"reports"}
        assert {k: v for k, v in described.items() if k != "reports"} == describe(reference)
    finally:
        reference.dispose()
    # The comparison with the models sees a difference when there is one.
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_alerts_severity_rank"))
    assert [d[0] for d in differences(engine) if isinstance(d, tuple)] == ["add_index"]


def test_processes_starting_together_upgrade_once(engine: Engine, database_url: str) -> None:
    legacy(engine, BEFORE_RANK, DATA)
    before = rows(engine)
    engines = [make_engine(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    results: list[tuple[str | None, str]] = []
    errors: list[BaseException] = []

    def start(own: Engine) -> None:
        barrier.wait()
        try:
            result = upgrade(own)
            results.append((result.before, result.after))
        except Exception as error:  # noqa: BLE001 - reported after join
            errors.append(error)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for own in engines:
        own.dispose()
    assert errors == []
    # One of them migrated; the others waited for its lock and found the database at head.
    assert sorted(results, key=str) == sorted([(None, head())] + [(head(), head())] * 3, key=str)
    assert rows(engine) == {**before, "reports": []}
    assert differences(engine) == []


def test_louyu_db_status_and_upgrade(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy(engine, BEFORE_RANK, DATA)
    monkeypatch.setenv("LOUYU_DATABASE_URL", database_url)
    runner = CliRunner()
    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == 1 and f"database revision: none; this version: {head()}" in status.stdout
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"database upgraded from no revision to {head()}" in upgraded.stdout
    assert runner.invoke(app, ["db", "status"]).exit_code == 0
    again = runner.invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0 and "nothing to do" in again.stdout
    assert differences(engine) == []
    with engine.begin() as conn:  # changed by hand behind louyu's back
        conn.execute(text("DROP INDEX ix_alerts_state_updated"))
    drifted = runner.invoke(app, ["db", "status"])
    assert drifted.exit_code == 1 and "ix_alerts_state_updated" in drifted.stderr


def test_a_database_newer_than_the_code_is_refused(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An older version meeting a newer schema stops rather than run on tables it does not know."""
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    monkeypatch.setenv("LOUYU_DATABASE_URL", database_url)
    runner = CliRunner()
    refused = runner.invoke(app, ["db", "upgrade"])
    assert refused.exit_code == 1
    assert "upgrade failed" in refused.stderr and "9999" in refused.stderr
    assert runner.invoke(app, ["db", "status"]).exit_code == 1
    assert current(engine) == "9999"


def test_a_failing_upgrade_leaves_the_database_as_it_was(engine: Engine) -> None:
    """A revision that fails halfway (here the baseline: an index name it needs is taken, after
    it created the first table) rolls back with everything before it: DDL is transactional."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE squatter (id INTEGER PRIMARY KEY, started_at INTEGER)"))
        conn.execute(text("CREATE INDEX ix_alerts_started ON squatter (started_at)"))
    with pytest.raises(DBAPIError, match="ix_alerts_started"):
        upgrade(engine)
    assert sorted(inspect(engine).get_table_names()) == ["squatter"]
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE squatter"))
    assert upgrade(engine).after == head()
