"""Fixtures of the database tests: an empty database on SQLite or on a real PostgreSQL.

One PostgreSQL server for the module's tests; each test gets a database of its own on it, so a
test can leave any schema behind.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from louyu.testing.postgres import Postgres, postgres_bindir
from louyu.testing.services import ServiceError


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    try:
        postgres_bindir()
    except ServiceError as error:  # the claims are about PostgreSQL: missing it is a failure
        pytest.fail(f"{error}")
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv is missing (util-linux)")
    server = Postgres(tmp_path_factory.mktemp("postgres"))
    server.start()
    yield server
    server.remove()


def _admin(server: Postgres) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(server.conninfo, autocommit=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (what LOUYU_DATABASE_URL names)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'louyu.db'}"
        return
    server: Postgres = request.getfixturevalue("postgres_server")
    name = f"t_{secrets.token_hex(4)}"
    with _admin(server) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield server.url.rsplit("/", 1)[0] + f"/{name}"
    with _admin(server) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
