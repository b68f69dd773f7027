"""The migrations ship inside the package: what setuptools puts into the wheel (`build_py`, the
step that collects packages and package data) finds and runs them with no source tree around."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = """
import json, sys
import rules.database
from sqlalchemy import inspect
from rules.database import make_engine
from rules.database.migrate import head, upgrade
engine = make_engine(sys.argv[1])
result = upgrade(engine)
print(json.dumps({"from": rules.database.__file__, "after": result.after, "head": head(),
                  "tables": len(inspect(engine).get_table_names())}))
engine.dispose()
"""


@pytest.mark.slow
def test_the_built_package_carries_and_runs_its_migrations(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("louyu", "collector", "rules", "api"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    built = tmp_path / "lib"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from setuptools import setup; setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(built),
        ],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    migrations = built / "rules" / "database" / "migrations"
    assert (migrations / "env.py").is_file() and (migrations / "script.py.mako").is_file()
    shipped = sorted(p.name for p in (migrations / "versions").glob("0*.py"))
    assert shipped == sorted(p.name for p in (ROOT / "rules/database/migrations/versions").glob("0*.py"))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(built)}
    done = subprocess.run(
        [sys.executable, "-c", RUN, f"sqlite:///{elsewhere / 'louyu.db'}"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["from"].startswith(str(built))
    assert report["after"] == report["head"]
    assert report["tables"] == 11  # ten tables and alembic_version
