"""Engines and sessions on the database every part shares.

SQLite (the default, `sqlite:///var/louyu.db`) runs in WAL mode so that readers (the API, the
notifier) never wait for the engine's writes. PostgreSQL URLs (`postgresql://...`) are mapped to
psycopg 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

# How long a SQLite writer waits for another writer's lock before failing. Writes are short
# (one alert, one event), so a few seconds only ever pass under pathological contention.
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option that makes a SQLite transaction take the write lock at BEGIN. A deferred
# transaction that reads and then writes can fail at once with SQLITE_BUSY (no waiting) when
# another engine committed in between; taking the lock up front makes it wait instead.
WRITE_OPTION = "louyu_write"


def normalize_url(database_url: str) -> URL:
    """`postgresql://` and `postgres://` mean psycopg 3 (SQLAlchemy would pick psycopg2)."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    url = normalize_url(database_url)
    if url.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
    engine = create_engine(url, **kwargs)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's own is always deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def writer(engine: Engine) -> Engine:
    """The same engine (and pool), with write transactions that lock at BEGIN on SQLite."""
    return engine.execution_options(**{WRITE_OPTION: True})


class SessionSource:
    """Sessions on one engine: readers on it, writers through `writer()` (on SQLite their
    transactions lock at BEGIN, so racing writers wait rather than fail). Loaded objects stay
    readable after commit, so records can be built from them outside the session."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write = writer(engine)

    def _reader(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def _writer(self) -> Session:
        return Session(self._write, expire_on_commit=False)
