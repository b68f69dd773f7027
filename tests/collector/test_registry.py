"""The registry as data: containment (sites, levels, spaces), and validation that names every
inconsistency with its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.registry import Registry, RegistryError
from collector.site import layout
from louyu.cli import app as louyu_cli

HEAD = "area: t\nbuildings:\n  - id: b\n    name: B\n    devices:\n"


def problems_of(text: str) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        Registry.from_text(text)
    return caught.value.problems


def test_the_shipped_registry_says_the_garage_contains_its_levels() -> None:
    registry = Registry.load()
    [tower_a] = [p for p in layout(registry) if p.building.id == "darong-a"]
    [garage] = tower_a.sites
    assert garage.lot.device == "garage" and garage.lot.capacity == 600
    assert [(lv.lot.device, lv.lot.capacity, len(lv.spaces)) for lv in garage.levels] == [
        ("garage-b1", 300, 300),
        ("garage-b2", 300, 300),
    ]
    assert garage.spaces == () and tower_a.spaces == ()


def test_a_registry_without_the_new_keys_still_loads() -> None:
    """Before `part_of`: every lot is a site of its own, and a space without `lot` is in its building."""
    registry = Registry.from_text(
        HEAD
        + """      - {kind: parking_lot, id: east, capacity: 10}
      - {kind: parking_lot, id: west, capacity: 10}
      - {kind: parking_space, id: s-1}
      - {kind: parking_space, id: s-2, lot: east}
"""
    )
    [place] = layout(registry)
    assert [s.lot.device for s in place.sites] == ["east", "west"]
    # `lot` on an AED is a tag for the rules (an AED in the garage): allowed, not parking.
    Registry.from_text(HEAD + "      - {kind: parking_lot, id: g}\n      - {kind: aed, id: e, lot: g}\n")
    # `lot` on an AED is a tag for the rules (an AED in the garage): allowed, not parking.
    Registry.from_text(HEAD + "      - {kind: parking_lot, id: g}\n      - {kind: aed, id: e, lot: g}\n")
    assert [s.device for s in place.sites[0].spaces] == ["s-2"]
    assert [s.device for s in place.spaces] == ["s-1"]


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        (
            "      - {kind: parking_lot, id: g, capacity: 100}\n"
            "      - {kind: parking_lot, id: g1, part_of: g, capacity: 120}\n",
            7,
            "level capacity 120 is larger than its site 'g' (100)",
        ),
        (
            "      - {kind: parking_lot, id: g, capacity: 100}\n"
            "      - {kind: parking_lot, id: g1, part_of: g, capacity: 60}\n"
            "      - {kind: parking_lot, id: g2, part_of: g, capacity: 60}\n",
            6,
            "its levels (g1, g2) hold 120 spaces, more than its capacity 100",
        ),
        ("      - {kind: parking_space, id: s, lot: nowhere}\n", 6, "unknown lot 'nowhere'"),
        (
            "      - {kind: aed, id: e}\n      - {kind: parking_space, id: s, lot: e}\n",
            7,
            "in 'e', which is an AED, not a parking lot",
        ),
        (
            "      - {kind: canteen, id: c}\n      - {kind: parking_lot, id: g, part_of: c}\n",
            7,
            "part of 'c', which is a canteen, not a parking lot",
        ),
        ("      - {kind: parking_lot, id: g, part_of: nowhere}\n", 6, "part of unknown lot 'nowhere'"),
        (
            "      - {kind: parking_lot, id: x, part_of: y}\n      - {kind: parking_lot, id: y, part_of: x}\n",
            6,
            "form a cycle: x -> y -> x",
        ),
        ("      - {kind: parking_lot, id: x, part_of: x}\n", 6, "form a cycle: x -> x"),
        (
            "      - {kind: parking_lot, id: g}\n      - {kind: parking_lot, id: g1, part_of: g}\n"
            "      - {kind: parking_lot, id: g2, part_of: g1}\n",
            8,
            "is part of 'g1', which is itself part of 'g'",
        ),
        (
            "      - {kind: aed, id: e}\n      - {kind: aed, id: e}\n",
            7,
            "device b/aed/e is listed twice (first at line 6)",
        ),
        (
            "      - {kind: parking_lot, id: g}\n      - {kind: parking_lot, id: g1, lot: g}\n",
            7,
            "a lot names the site it is a level of with part_of, not lot",
        ),
        ("      - {kind: aed, id: e, lot: g}\n", 6, "aed devices of b are in unknown lot 'g'"),
        ("      - {kind: parking_space, id: s, part_of: g}\n", 6, "only a parking lot can be part_of"),
        (
            "      - {kind: parking_lot, id: g, capacity: 2}\n    groups:\n"
            "      - {kind: parking_space, prefix: s-, count: 3, lot: g}\n",
            6,
            "holds 3 registered spaces, more than its capacity 2",
        ),
        ("      - {kind: aed, id: e, capacity: 0}\n", 6, "capacity: Input should be greater than 0"),
        ("      - {kind: aed, id: E}\n", 6, "buildings.0.devices.0.id"),
    ],
)
def test_each_inconsistency_is_named_with_its_line(body: str, line: int, words: str) -> None:
    found = problems_of(HEAD + body)
    assert any(p.startswith(f"line {line}: ") and words in p for p in found), found


def test_every_problem_is_reported_at_once_and_a_group_once() -> None:
    text = (
        HEAD
        + """      - {kind: parking_lot, id: g, capacity: 100}
      - {kind: parking_lot, id: g1, part_of: g, capacity: 120}
      - {kind: aed, id: e}
    groups:
      - {kind: parking_space, prefix: s-, count: 300, lot: nope}
  - id: b
    name: again
"""
    )
    found = problems_of(text)
    assert [p.split(":")[0] for p in found] == ["line 7", "line 10", "line 11"], found
    assert "building 'b' is listed twice (first at line 3)" in found[2]
    with pytest.raises(RegistryError) as caught:
        Registry.from_text(text, "site.yaml")
    assert str(caught.value).startswith("registry site.yaml: 3 problems:\n  line 7: ")


def test_louyu_registry_check(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD + "      - {kind: parking_space, id: s, lot: nowhere}\n", "utf-8")
    result = CliRunner().invoke(louyu_cli, ["registry", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: line 6: parking spaces of b are in unknown lot 'nowhere'" in result.output
    good = CliRunner().invoke(louyu_cli, ["registry", "check"])
    assert good.exit_code == 0, good.output
    assert "    level garage-b1 (capacity 300): 300 spaces" in good.output
