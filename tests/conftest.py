"""Shared fixtures: real services on free loopback ports, and a check that no test leaks threads."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy.engine import Engine

from collector.negotiation import forget as forget_negotiated
from collector.registry import Registry
from louyu.testing.services import Influxd, Mosquitto, VictoriaMetrics
from louyu.testing.tls import Certificates, make_certificates, openssl_available
from rules.database import make_engine
from rules.database.migrate import upgrade


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database migrated to the newest revision, once per session: the migration
    (alembic loading its scripts) costs a quarter of a second, a file copy next to nothing."""
    path = tmp_path_factory.mktemp("migrated") / "louyu.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture
def engine(tmp_path: Path, migrated_sqlite: Path) -> Iterator[Engine]:
    """A fresh SQLite alert store (every table: alerts, tokens, notifier) in the test's directory:
    a copy of the freshly migrated database, so no test sees another's rows."""
    path = tmp_path / "louyu.db"
    shutil.copyfile(migrated_sqlite, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def registry() -> Registry:
    """The shipped Darong registry."""
    return Registry.load()


@pytest.fixture(scope="session")
def tls_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A private CA and the server certificate of 127.0.0.1, for brokers with a TLS listener
    and accounts (skips where openssl or mosquitto_passwd is missing)."""
    if not openssl_available():
        pytest.skip("openssl is not installed")
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed (Debian package mosquitto)")
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh broker with the settings the collector needs, persistence on."""
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.kill()


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[Influxd]:
    """A fresh InfluxDB 1.x (Debian's influxdb) with its own data directories."""
    server = Influxd(tmp_path / "influxd")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """VictoriaMetrics: a real server for the InfluxDB v2 write API."""
    server = VictoriaMetrics(tmp_path / "victoria")
    server.start()
    yield server
    server.kill()


@pytest.fixture(autouse=True, scope="module")
def fresh_negotiation() -> None:
    """Each test module negotiates the MQTT protocol anew: a broker of an earlier module may have
    had the same port, and what this process settled on for it (MQTT 5 with mosquitto) was then
    used on this module's broker (a RabbitMQ that takes only 3.1.1 was never reached). Within a
    module it is kept, as in a running part: tests/test_second_broker.py relies on that."""
    forget_negotiated()


@pytest.fixture(autouse=True)
def verify_cleanup() -> Iterator[None]:
    """Fail a test that leaves threads running behind it."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
        leaked += [
            t
            for t in threading.enumerate()
            if t not in before and t.is_alive() and t.name.startswith("louyu")
        ]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


@pytest.fixture(autouse=True)
def reset_logging_config() -> Iterator[None]:
    """A command run in-process configures structlog; the next test starts from the defaults."""
    yield
    structlog.reset_defaults()


class _ExceptionRecords(logging.Handler):
    def __init__(self, seen: list[str]) -> None:
        super().__init__()
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.seen.append(f"{record.name}: {record.getMessage()[:200]}")


@pytest.fixture(autouse=True)
def fail_on_logged_exception(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test during which an exception is logged fails, unless it is marked
    `allow_logged_exceptions`: an exception caught and logged is still a bug until a test says
    it is expected."""
    seen: list[str] = []

    def record(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if method == "exception" or event.get("exc_info"):
            seen.append(f"{event.get('event')}")
        return event

    structlog.configure(processors=[record, *structlog.get_config()["processors"]])
    handler = _ExceptionRecords(seen)
    logging.getLogger().addHandler(handler)
    yield
    logging.getLogger().removeHandler(handler)
    if seen and request.node.get_closest_marker("allow_logged_exceptions") is None:
        pytest.fail(f"exceptions were logged: {seen[:5]}")
