"""`louyu quarantine list | promote | clear` on a quarantine file the collector's store wrote."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from collector.models import DeviceKey
from collector.quarantine import Quarantine, Sighting
from collector.registry import Registry
from louyu.cli import app

REGISTRY = """\
area: test
buildings:
  - id: darong-a
    name: Tower A
    devices:
      - {kind: aed, id: aed-a-1f-lobby, floor: 1F}
    groups:
      - {kind: parking_space, prefix: b1-, count: 3}
"""


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Quarantine]:
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY)
    monkeypatch.setenv("LOUYU_DEAD_LETTER_PATH", str(tmp_path / "dead.db"))
    monkeypatch.setenv("LOUYU_REGISTRY_FILE", str(registry))
    quarantine = Quarantine(tmp_path / "dead.db", max_rows=100)
    now = int(time.time() * 1000)
    quarantine.add(
        [(DeviceKey("darong-a", "parking_space", "zz-1"), Sighting(now - 5000, now - 5000, 3, "{}"))]
    )
    quarantine.add(
        [
            (
                DeviceKey("darong-a", "aed", "fake-aed"),
                Sighting(now - 9000, now - 1000, 7, '{"state": "\x1b[2J\x1b]0;pwned\x07ready\u202e"}'),
            ),
            (DeviceKey("new-tower", "canteen", "hall"), Sighting(now - 3000, now - 3000, 1, "{}")),
        ]
    )
    yield quarantine
    quarantine.close()


def test_list_is_newest_first_with_counts_and_escapes_control_characters(store: Quarantine) -> None:
    result = CliRunner().invoke(app, ["quarantine", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("3 unknown devices held in") and "0 evicted" in lines[0]
    devices = [line.split()[1] for line in lines[1:] if not line.startswith(" ")]
    assert devices == ["darong-a/aed/fake-aed", "new-tower/canteen/hall", "darong-a/parking_space/zz-1"]
    assert "7 messages" in lines[1]
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\u202e" not in result.stdout
    assert "\\x1b[2J\\x1b]0;pwned\\x07ready\\u202e" in result.stdout
    only = CliRunner().invoke(app, ["quarantine", "list", "--building", "new-tower"])
    assert only.stdout.splitlines()[0].startswith("1 unknown devices")


def test_promote_prints_entries_the_registry_accepts_and_leaves_the_quarantine(
    store: Quarantine, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["quarantine", "promote", "darong-a/aed/fake-aed", "new-tower/canteen/hall"]
    )
    assert result.exit_code == 0, result.output
    assert store.count() == 1, "promoted devices leave the quarantine"
    # Paste the printed entries where the comments say, as an operator would.
    chunks = result.stdout.split("# ")
    existing = yaml.safe_load(next(c for c in chunks if c.startswith("under")).split("\n", 1)[1])
    new = yaml.safe_load(next(c for c in chunks if c.startswith("a new building")).split("\n", 1)[1])
    assert existing == [{"kind": "aed", "id": "fake-aed"}]
    spec = yaml.safe_load(REGISTRY)
    spec["buildings"][0]["devices"] += existing
    spec["buildings"] += new
    registry = Registry.from_text(yaml.safe_dump(spec))
    assert registry.get("darong-a", "aed", "fake-aed") is not None
    assert registry.get("new-tower", "canteen", "hall") is not None
    assert len(registry) == len(Registry.from_text(REGISTRY)) + 2


def test_promote_refuses_unknown_and_registered_devices(store: Quarantine) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["quarantine", "promote", "darong-a/aed/never-heard"])
    assert missing.exit_code != 0 and "not in the quarantine" in str(missing.exception)
    known = runner.invoke(app, ["quarantine", "promote", "darong-a/parking_space/b1-001"])
    assert known.exit_code != 0 and "already in" in str(known.exception)
    malformed = runner.invoke(app, ["quarantine", "promote", "darong-a/lift/x"])
    assert malformed.exit_code == 2 and "not a kind" in malformed.output
    assert store.count() == 3


def test_clear_all_or_one_building(store: Quarantine) -> None:
    runner = CliRunner()
    refused = runner.invoke(app, ["quarantine", "clear"], input="n\n")
    assert refused.exit_code != 0 and store.count() == 3
    one = runner.invoke(app, ["quarantine", "clear", "--building", "new-tower", "--yes"])
    assert one.exit_code == 0 and "1 quarantined devices forgotten" in one.stdout
    assert store.count() == 2
    every = runner.invoke(app, ["quarantine", "clear"], input="y\n")
    assert every.exit_code == 0 and store.count() == 0
