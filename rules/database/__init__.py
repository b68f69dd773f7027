"""The database every part shares (SQLite or PostgreSQL): base, engines, the list of tables, and
the migrations that bring a database to the schema of this version (`migrate.upgrade`).

A leaf: it imports nothing of louyu but `rules.records`' constants, so `rules/`, `api/` and the
wiring in `louyu/` all build on it. Table classes: `alerts`, `notifier`, `tokens`; the explicit
list of them: `schema.TABLES`.
"""

from rules.database.base import Base, UtcDateTime
from rules.database.engine import WRITE_OPTION, SessionSource, make_engine, normalize_url, writer
from rules.database.schema import TABLES, metadata

__all__ = [
    "TABLES",
    "WRITE_OPTION",
    "Base",
    "SessionSource",
    "UtcDateTime",
    "make_engine",
    "metadata",
    "normalize_url",
    "writer",
]
