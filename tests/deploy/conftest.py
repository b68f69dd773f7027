"""Fixtures for the deployment tests.

`postgres` is written to be copied: a fresh PostgreSQL cluster per test, on a free loopback port,
with `.url` in the form `LOUYU_DATABASE_URL` takes. Tests using it carry
`@pytest.mark.integration` and are skipped where PostgreSQL is not installed.

`shipped_broker` is mosquitto on deploy/mosquitto/ as shipped, one per test module
(tests/deploy/shipped_broker.py); `broker` is the same broker with the test's probes closed
after each test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from louyu.testing.postgres import Postgres
from louyu.testing.services import ServiceError
from tests.deploy.shipped_broker import Broker, start_shipped_broker


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Postgres]:
    """A fresh PostgreSQL server: database `louyu`, owner `louyu`, a random password."""
    try:
        server = Postgres(tmp_path / "postgres")
    except ServiceError as exc:  # not installed: `make sysdeps` installs it
        pytest.skip(str(exc))
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="module")
def shipped_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed (Debian package mosquitto)")
    broker = start_shipped_broker(tmp_path_factory.mktemp("shipped-mosquitto"))
    yield broker
    broker.close_probes()
    broker.server.kill()


@pytest.fixture
def broker(shipped_broker: Broker) -> Iterator[Broker]:
    yield shipped_broker
    shipped_broker.close_probes()
