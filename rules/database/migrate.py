"""Bringing a database to this version's schema with the Alembic revisions in `migrations/`.

Every service calls `upgrade(engine)` at start-up (as do `louyu token` and `louyu db upgrade`).
It runs in one transaction that takes a lock first (BEGIN IMMEDIATE on SQLite, an advisory lock
on PostgreSQL), so processes starting together on one database take turns: the first one
migrates, the others find the database at head and only read its revision.

A database made before migrations existed has no `alembic_version` table. The baseline revision
creates only the tables it lacks and the next one only adds what an older alert table lacks, so
such a database, from whichever version and whichever services ran on it, is adopted as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import structlog
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from rules.database.engine import writer
from rules.database.schema import metadata

log = structlog.get_logger("louyu.database")

MIGRATIONS: Final = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key of schema changes (any constant that no other code on the database uses).
PG_LOCK_KEY: Final = 0x6C6F7579_75646200  # "louyudb\0"


@dataclass(frozen=True, slots=True)
class Upgraded:
    before: str | None  # None: no migration had run (a new database, or one from before them)
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, without any ini file: the revisions ship inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The revision this version's code expects."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:  # pragma: no cover - the package always ships its revisions
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return revision


def current(engine: Engine) -> str | None:
    """The database's revision; None when no migration has run on it."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def differences(engine: Engine) -> list[Any]:
    """How the database differs from this version's tables, as Alembic's autogenerate sees it
    (operations such as `("add_index", Index(...))`); empty when it matches."""
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))


def upgrade(engine: Engine, target: str = "head") -> Upgraded:
    """Bring the database to `target` (this version's schema by default), under the lock."""
    with writer(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        before = MigrationContext.configure(connection).get_current_revision()
        # The transaction is already open, so Alembic runs every revision inside it: a failed
        # revision leaves the database as it was (SQLite and PostgreSQL both have transactional DDL).
        command.upgrade(alembic_config(connection), target)
        after = MigrationContext.configure(connection).get_current_revision()
    if after is None:  # pragma: no cover - alembic stamps every revision it runs
        raise RuntimeError("the database has no revision after upgrade")
    result = Upgraded(before, after)
    if result.changed:
        log.info("database_upgraded", before=before, after=after, backend=engine.dialect.name)
    return result
