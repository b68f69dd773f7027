"""Alembic's entry point: runs the revisions on the connection that `rules.database.migrate`
hands over (the caller owns the transaction and the lock that makes processes take turns)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from rules.database.schema import metadata

if context.is_offline_mode():
    raise SystemExit("louyu migrations run against a database: no offline SQL mode")
connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise SystemExit("louyu migrations run through rules.database.migrate (`louyu db upgrade`)")
context.configure(connection=connection, target_metadata=metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
