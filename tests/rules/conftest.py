"""Fixtures of the rules tests: an alert store on SQLite or PostgreSQL, a small registry, an engine.

The `store_url` fixture is the seam for databases: every store test body runs once per backend.
PostgreSQL comes from `louyu.testing.postgres` (a throwaway cluster, skipped where not installed).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from collector.registry import Registry
from rules.config import RuleSet, check_text
from rules.database import make_engine
from rules.database.migrate import upgrade
from rules.engine import RuleEngine
from rules.metrics import RulesMetrics
from rules.publisher import MemoryPublisher
from rules.store import AlertStore
from tests.database.helpers import drop_everything

T0 = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)  # 10:00 in Qingdao, a Friday

REGISTRY_YAML = """
area: test
timezone: Asia/Shanghai
buildings:
  - id: darong-a
    name: Tower A
    devices:
      - {kind: aed, id: aed-a-1f-lobby, floor: 1F, zone: lobby, location: "Tower A lobby"}
      - {kind: parking_lot, id: garage, capacity: 100, gateway: gw-a}
      - {kind: canteen, id: main-hall, capacity: 400}
    groups:
      - {kind: parking_space, prefix: b1-, count: 5, floor: B1, gateway: gw-a}
  - id: darong-b
    name: Tower B
    devices:
      - {kind: aed, id: aed-b-1f-lobby, floor: 1F, location: "Tower B lobby"}
      - {kind: parking_lot, id: gw-a-peer, capacity: 50}
      - {kind: parking_space, id: gw-b}
    groups:
      - {kind: parking_space, prefix: s-, count: 3, gateway: gw-b}
"""


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from louyu.testing.postgres import Postgres, postgres_bindir
    from louyu.testing.services import ServiceError

    try:
        postgres_bindir()
    except ServiceError as error:  # not installed here: the PostgreSQL half is skipped, not failed
        pytest.skip(f"PostgreSQL not available: {error}")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv missing")
    server = Postgres(tmp_path_factory.mktemp("postgres"))
    server.start()
    yield server
    server.kill()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/db/louyu.db"
    server = request.getfixturevalue("postgres_server")
    url: str = server.url
    return url


def _fresh_sqlite(path: Path, migrated_sqlite: Path) -> Engine:
    """A copy of the database migrated once per session (tests/conftest.py): the same tables as
    a migration here, without its quarter of a second."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_sqlite, path)
    return make_engine(f"sqlite:///{path}")


@pytest.fixture
def db(store_url: str, tmp_path: Path, migrated_sqlite: Path) -> Iterator[Engine]:
    if store_url.startswith("sqlite"):
        engine = _fresh_sqlite(tmp_path / "db" / "louyu.db", migrated_sqlite)
    else:
        engine = make_engine(store_url)
        drop_everything(engine)
        upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path, migrated_sqlite: Path) -> Iterator[Engine]:
    engine = _fresh_sqlite(tmp_path / "db" / "louyu.db", migrated_sqlite)
    yield engine
    engine.dispose()


@pytest.fixture
def store(db: Engine) -> AlertStore:
    return AlertStore(db)


@pytest.fixture
def registry() -> Registry:
    return Registry.from_text(REGISTRY_YAML)


def ruleset_from(text: str) -> RuleSet:
    model, problems = check_text(text)
    assert model is not None, problems
    return RuleSet(model, "<test>")


class Harness:
    """An engine on a SQLite store with a memory publisher; time is always passed in."""

    def __init__(self, ruleset: RuleSet, registry: Registry, db: Engine) -> None:
        self.store = AlertStore(db)
        self.publisher = MemoryPublisher()
        self.engine = RuleEngine(
            ruleset, registry, self.store, self.publisher, metrics=RulesMetrics(CollectorRegistry())
        )

    def restart(self) -> Harness:
        fresh = Harness(self.engine.ruleset, self.engine.registry, self.store.engine)
        return fresh


@pytest.fixture
def make_harness(registry: Registry, sqlite_db: Engine) -> object:
    def make(rules_yaml: str | None = None, now: dt.datetime = T0) -> Harness:
        from rules.config import load_rules

        ruleset = ruleset_from(rules_yaml) if rules_yaml else load_rules()
        harness = Harness(ruleset, registry, sqlite_db)
        harness.engine.load(now)
        return harness

    return make
