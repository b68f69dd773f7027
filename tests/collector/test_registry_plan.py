"""The registry's site plan: outlines and positions in metres in the site frame, each problem
named with its line, and registries without them still valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.geometry import area, centroid, contains, overlap, ring_problems
from collector.registry import Registry, RegistryError
from louyu.cli import app as louyu_cli

SQUARE = "[[0, 0], [40, 0], [40, 30], [0, 30], [0, 0]]"


def building(bid: str, outline: str | None = SQUARE, devices: str = "") -> str:
    text = f"  - id: {bid}\n    name: {bid.upper()}\n"
    if outline is not None:
        text += f"    outline: {outline}\n"
    return text + "    devices:\n" + (devices or "      []\n")


def problems_of(text: str) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        Registry.from_text(text)
    return caught.value.problems


def test_the_shipped_registry_draws_seventeen_towers_apart_with_their_aeds_inside() -> None:
    registry = Registry.load()
    outlines = {b.id: b.outline for b in registry.buildings.values()}
    assert len(outlines) == 17 and all(o is not None for o in outlines.values())
    rings = [o for o in outlines.values() if o is not None]
    for i, ring in enumerate(rings):
        assert ring_problems(ring) == []
        # Towers, not rooms or districts: a few hundred to a few thousand square metres each.
        assert 500 <= area(ring) <= 5000
        assert not any(overlap(ring, other) for other in rings[i + 1 :])
    aeds = registry.devices(kind="aed")
    assert aeds and all(a.position is not None for a in aeds)
    for aed in aeds:
        home = outlines[aed.building]
        assert home is not None and aed.position is not None and contains(home, aed.position)
    [canteen] = registry.devices(kind="canteen")
    assert canteen.position is not None
    garage = registry.get("darong-a", "parking_lot", "garage")
    assert garage is not None and garage.outline is not None and area(garage.outline) > 5000


def test_a_registry_without_a_plan_still_loads() -> None:
    registry = Registry.from_text("area: t\nbuildings:\n" + building("b", None))
    assert registry.buildings["b"].outline is None


def test_the_outline_becomes_points_in_metres() -> None:
    registry = Registry.from_text(
        "area: t\nbuildings:\n"
        + building("b", devices="      - {kind: aed, id: e, floor: 1F, position: [20, 2.5]}\n")
    )
    ring = registry.buildings["b"].outline
    assert ring == ((0, 0), (40, 0), (40, 30), (0, 30), (0, 0))
    assert ring is not None
    assert centroid(ring) == pytest.approx((20, 15))
    device = registry.get("b", "aed", "e")
    assert device is not None and device.position == (20, 2.5) and device.floor == "1F"


@pytest.mark.parametrize(
    ("outline", "words"),
    [
        (
            "[[0, 0], [40, 0], [40, 30], [0, 30]]",
            "not closed: its last point [0, 30] must repeat its first [0, 0]",
        ),
        ("[[0, 0], [40, 0], [0, 0]]", "at least 4 points"),
        ("[[0, 0], [40, 0], [40, 0], [0, 0]]", "at least 3 distinct corners"),
        ("[[0, 0], [40, 30], [40, 0], [0, 30], [0, 0]]", "crosses itself (edges 1 and 3)"),
        (
            "[[120.38, 36.10], [120.3801, 36.10], [120.3801, 36.1001], [120.38, 36.10]]",
            "not degrees",
        ),
        ("[[0, 0], [40, 0], [40, .nan], [0, 0]]", "finite number"),
        ("[[0, 0], [40, 0], [40, .inf], [0, 0]]", "finite number"),
        ("[[0, 0], [40, 0], [40, 1.0e+9], [0, 0]]", "less than or equal to 100000"),
        ("[[0, 0], [40, 0], [40, '30'], [0, 0]]", "valid number"),
        ("[[0, 0], [40, 0, 1], [40, 30], [0, 0]]", "at most 2 items"),
    ],
)
def test_a_bad_outline_is_named_with_its_line(outline: str, words: str) -> None:
    triangle = "[[100, 0], [140, 0], [140, 30], [100, 0]]"
    text = "area: t\nbuildings:\n" + building("ok", triangle) + building("b", outline)
    [problem] = problems_of(text)
    assert problem.startswith("line 10: ") and words in problem, problem


def test_overlapping_buildings_an_aed_outside_its_building_and_an_outline_on_an_aed_are_named() -> None:
    text = (
        "area: t\nbuildings:\n"
        + building("a")
        + building(
            "b",
            "[[30, 20], [70, 20], [70, 50], [30, 50], [30, 20]]",
            "      - {kind: aed, id: out, position: [200, 5]}\n"
            "      - {kind: aed, id: in, position: [50, 30]}\n"
            "      - {kind: canteen, id: c, outline: " + SQUARE + "}\n"
            "      - {kind: parking_lot, id: g, position: [500, 500], outline: [[0, 0], [1, 1], [0, 0], [0, 0]]}\n",
        )
        # A building inside another one is an overlap too.
        + building("c", "[[10, 10], [20, 10], [20, 20], [10, 20], [10, 10]]")
    )
    problems = problems_of(text)
    assert problems == [
        "line 10: building b: its outline overlaps a's (line 5)",
        "line 12: b/aed/out: position [200, 5] is outside its building's outline",
        "line 14: b/canteen/c: only a building or a parking lot has an outline",
        "line 15: b/parking_lot/g: the outline needs at least 3 distinct corners",
        "line 18: building c: its outline overlaps a's (line 5)",
    ]


def test_louyu_registry_check_names_plan_problems_and_counts_what_is_drawn(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("area: t\nbuildings:\n" + building("b", "[[0, 0], [40, 0], [40, 30], [0, 30]]"))
    result = CliRunner().invoke(louyu_cli, ["registry", "check", str(bad)])
    assert result.exit_code == 1
    assert "line 5: building b: the outline is not closed" in result.output
    good = CliRunner().invoke(louyu_cli, ["registry", "check"])
    assert good.exit_code == 0, good.output
    assert "site plan: 17 of 17 buildings drawn, 23 devices placed" in good.output
