"""The schema does not depend on what a process imported: every table is in the leaf's explicit
list, and a new database made by importing only `rules.database` has all of them."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from rules.database import TABLES, Base, make_engine

ROOT = Path(__file__).resolve().parents[2]

LEAF_ONLY = """
import json, sys
from sqlalchemy import inspect
from rules.database import TABLES, make_engine
from rules.database.migrate import upgrade
engine = make_engine(sys.argv[1])
upgrade(engine)
print(json.dumps({
    "tables": sorted(inspect(engine).get_table_names()),
    "listed": sorted(t.name for t in TABLES),
    "imported": sorted(m for m in sys.modules if m.split(".")[0] in ("api", "louyu", "collector")
                       or m.startswith(("rules.store", "rules.notify", "rules.engine", "rules.runner"))),
}))
engine.dispose()
"""


def test_every_table_any_module_declares_is_in_the_explicit_list() -> None:
    # Everything a process may import: the API app, the CLI with every command, notifier, engine.
    for module in ("api.app", "louyu.cli", "rules.notify.service", "rules.runner", "rules.store"):
        importlib.import_module(module)
    importlib.import_module("louyu.cli").build()  # the CLI imports its commands' modules only here
    assert sorted(Base.metadata.tables) == sorted(t.name for t in TABLES)
    assert len(TABLES) == len(set(TABLES)) == 10


def test_a_new_database_made_by_the_leaf_alone_has_every_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'louyu.db'}"
    done = subprocess.run(
        [sys.executable, "-c", LEAF_ONLY, url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["imported"] == []  # nothing but the leaf (and rules.records' constants)
    assert report["tables"] == sorted([*report["listed"], "alembic_version"])
    engine = make_engine(url)
    try:
        assert sorted(inspect(engine).get_table_names()) == sorted([*Base.metadata.tables, "alembic_version"])
    finally:
        engine.dispose()
