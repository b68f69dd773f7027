"""Fixtures for the deployment tests.

`postgres` is written to be copied: a fresh PostgreSQL cluster per test, on a free loopback port,
with `.url` in the form `LOUYU_DATABASE_URL` takes. Tests using it carry
`@pytest.mark.integration` and are skipped where PostgreSQL is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from louyu.testing.postgres import Postgres
from louyu.testing.services import ServiceError


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
