"""Plane geometry of the site plan, pure: the checks a registry's outlines and positions pass.

The frame (docs/interface.md, "The site plan"): metres in a local site frame, x to the east, y to
the north, from an origin the registry's author chooses (a corner of the site). An outline is a
closed ring as in GeoJSON: at least four points, the last one repeating the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Final

Point = tuple[float, float]
Ring = tuple[Point, ...]

# A site is a few hundred metres across; a coordinate beyond this is a typing mistake.
MAX_COORDINATE_M: Final = 100_000.0
# Smaller than a lift shaft: outlines written in degrees (or in kilometres) land here.
MIN_AREA_M2: Final = 1.0


def area(ring: Ring) -> float:
    """The enclosed area (shoelace formula), whatever the ring's direction."""
    total = 0.0
    for (x1, y1), (x2, y2) in pairwise(ring):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def centroid(ring: Ring) -> Point:
    """The centre of the enclosed area (where a label goes); the mean of the points when flat."""
    signed = 0.0
    cx = cy = 0.0
    for (x1, y1), (x2, y2) in pairwise(ring):
        cross = x1 * y2 - x2 * y1
        signed += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if abs(signed) < 1e-12:
        points = ring[:-1] or ring
        return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
    return (cx / (3 * signed), cy / (3 * signed))


def _orientation(a: Point, b: Point, c: Point) -> int:
    value = (b[1] - a[1]) * (c[0] - b[0]) - (b[0] - a[0]) * (c[1] - b[1])
    return 0 if abs(value) < 1e-9 else (1 if value > 0 else -1)


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether segment ab and segment cd share a point (touching counts)."""
    o1, o2, o3, o4 = (
        _orientation(a, b, c),
        _orientation(a, b, d),
        _orientation(c, d, a),
        _orientation(c, d, b),
    )
    if o1 != o2 and o3 != o4:
        return True
    return (
        (o1 == 0 and _on_segment(a, b, c))
        or (o2 == 0 and _on_segment(a, b, d))
        or (o3 == 0 and _on_segment(c, d, a))
        or (o4 == 0 and _on_segment(c, d, b))
    )


def _edges(ring: Ring) -> list[tuple[Point, Point]]:
    return list(pairwise(ring))


def self_crossing(ring: Ring) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges (by index) that meet, or None for a simple polygon."""
    edges = _edges(ring)
    n = len(edges)
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbours share a corner by construction
            if segments_cross(*edges[i], *edges[j]):
                return (i, j)
    return None


def contains(ring: Ring, point: Point) -> bool:
    """Whether `point` is inside the ring or on its edge (ray casting)."""
    x, y = point
    inside = False
    for a, b in _edges(ring):
        if _orientation(a, b, point) == 0 and _on_segment(a, b, point):
            return True
        if (a[1] > y) != (b[1] > y):
            x_cross = a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if x < x_cross:
                inside = not inside
    return inside


def overlap(first: Ring, second: Ring) -> bool:
    """Whether two simple polygons share more than nothing: crossing edges, or one inside the other."""
    if any(segments_cross(*e, *f) for e in _edges(first) for f in _edges(second)):
        return True
    return contains(first, second[0]) or contains(second, first[0])


def ring_problems(ring: Sequence[Point]) -> list[str]:
    """What is wrong with an outline as a closed simple polygon in metres, in words; [] if nothing."""
    if len(ring) < 4:
        return [f"an outline needs at least 4 points (a triangle and its first point again), not {len(ring)}"]
    points = tuple(ring)
    if points[0] != points[-1]:
        return [
            f"the outline is not closed: its last point {_fmt(points[-1])} must repeat its first {_fmt(points[0])}"
        ]
    if len(set(points[:-1])) < 3:
        return ["the outline needs at least 3 distinct corners"]
    crossing = self_crossing(points)
    if crossing is not None:
        # (Its area means nothing then: a bow tie's two halves cancel out.)
        i, j = crossing
        return [f"the outline crosses itself (edges {i + 1} and {j + 1})"]
    enclosed = area(points)
    if enclosed < MIN_AREA_M2:
        return [
            f"the outline encloses {enclosed:.3g} m²: coordinates are metres in the site frame, not degrees"
        ]
    return []


def _fmt(point: Point) -> str:
    return f"[{point[0]:g}, {point[1]:g}]"
