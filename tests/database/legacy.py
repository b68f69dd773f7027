"""Databases as earlier louyu versions left them: the frozen SQL under `snapshots/`, loaded
as-is (no SQLAlchemy model involved), and what the tests compare before and after an upgrade.

How the snapshots were made, once, from the code of the commit each one names: the schemas by
compiling that commit's `Base.metadata.create_all` (every table the API process registered) on a
mock engine of each dialect; the rank step by running 1d5146f's `create_all` on a before-rank
database and recording the DDL it issued. `data.sql` is hand-written in the form that code stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text

SNAPSHOTS = Path(__file__).with_name("snapshots")
TODAY = "main-1d5146f"  # create_all of the last version before migrations
BEFORE_RANK = "before-rank-b1ba015"  # create_all of the version before the severity rank
RANK_STEP = "rank-step-1d5146f"  # what 1d5146f's hand-written step did to a BEFORE_RANK database
DATA = "data"  # rows in every table (same SQL on both backends)
TOKEN = "louyu_" + "s" * 43  # the valid token whose hash data.sql holds (not a real credential)
REVOKED_TOKEN = "louyu_" + "r" * 43


def run_sql(engine: Engine, name: str) -> None:
    """Run `snapshots/<name>.<backend>.sql` (or `<name>.sql`) in one transaction, as a DBA would."""
    backend = engine.dialect.name
    path = SNAPSHOTS / f"{name}.{backend}.sql"
    script = (path if path.exists() else SNAPSHOTS / f"{name}.sql").read_text("utf-8")
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if backend == "sqlite":
            driver.executescript(f"BEGIN;\n{script}\nCOMMIT;")
        else:
            with driver.cursor() as cursor:
                cursor.execute("SET TIME ZONE 'UTC'")  # data.sql's times are UTC without offset
                cursor.execute(script)
            driver.commit()
    finally:
        raw.close()


def legacy(engine: Engine, *names: str) -> None:
    for name in names:
        run_sql(engine, name)


def rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every louyu table, in primary-key order (the generated rank left out: a
    database from before it has none)."""
    inspector = inspect(engine)
    found: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in sorted(inspector.get_table_names()):
            if table == "alembic_version":
                continue
            order = ", ".join(inspector.get_pk_constraint(table)["constrained_columns"])
            found[table] = [
                {k: v for k, v in row.items() if k != "severity_rank"}
                for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}")).mappings()
            ]
    return found


def describe(engine: Engine) -> dict[str, Any]:
    """The schema as the database reports it: columns (type, null, default, generated), keys,
    unique constraints, indexes (with their WHERE)."""
    inspector = inspect(engine)
    schema: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"), c.get("computed"))
                for c in inspector.get_columns(table)
            ],
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted(
                (
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    tuple(f["referred_columns"]),
                    str(f["options"]),
                )
                for f in inspector.get_foreign_keys(table)
            ),
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "indexes": sorted(
                (
                    str(i["name"]),
                    tuple(map(str, i["column_names"])),
                    i["unique"],
                    sorted((k, str(v)) for k, v in i.get("dialect_options", {}).items()),  # WHERE
                )
                for i in inspector.get_indexes(table)
            ),
        }
    return schema
