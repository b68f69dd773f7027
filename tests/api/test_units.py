"""Pure parts of the API: the rate limiter's arithmetic, roles, and the history planner under
arbitrary input (hypothesis)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.history import FIELDS, HistoryRequestError, auto_every, format_every, influxql, parse_every, plan
from api.ratelimit import RateLimiter
from api.roles import GRANTS, Permission, Role, allows


def test_bucket_bursts_then_refills_at_the_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a", 0.0) == pytest.approx(0.5)  # one token comes back in 1/rate s
    assert limiter.take("a", 0.5) == 0.0
    assert limiter.take("a", 0.5) == pytest.approx(0.5)
    assert limiter.take("b", 0.5) == 0.0  # per key
    assert limiter.take("a", 100.0) == 0.0  # refilled, but never above the burst
    assert [limiter.take("a", 100.0) for _ in range(3)][-1] > 0
    assert RateLimiter.retry_after_header(0.01) == "1"
    assert RateLimiter.retry_after_header(1.2) == "2"


def test_role_table() -> None:
    assert {r for r in Role if allows(r, Permission.ACK)} == {Role.PATROL, Role.OPERATOR, Role.ADMIN}
    assert {r for r in Role if allows(r, Permission.RESOLVE)} == {Role.OPERATOR, Role.ADMIN}
    assert {r for r in Role if allows(r, Permission.SILENCE)} == {Role.OPERATOR, Role.ADMIN}
    assert GRANTS[Role.INTEGRATION] == {Permission.READ, Permission.EVENTS}
    assert GRANTS[Role.ADMIN] == frozenset(Permission)


@pytest.mark.parametrize(
    ("text", "ms"), [("500ms", 500), ("10s", 10_000), ("5m", 300_000), ("2h", 7_200_000), ("1d", 86_400_000)]
)
def test_every(text: str, ms: int) -> None:
    assert parse_every(text) == ms
    assert parse_every(format_every(ms)) == ms


def test_auto_every_keeps_to_about_500_points() -> None:
    for span in (60_000, 3_600_000, 86_400_000, 30 * 86_400_000):
        assert span / auto_every(span) <= 500 or auto_every(span) == 86_400_000


_ALLOWED_STATEMENT = re.compile(
    r'^SELECT (mean|max|min|last)\("[a-z_]+"\) AS "v" FROM "(parking_space|parking_lot|aed|canteen)" '
    r"WHERE \"building\" = '[a-z0-9][a-z0-9_-]{0,63}' AND \"device\" = '[a-z0-9][a-z0-9_-]{0,63}' "
    r"AND time >= -?\d+ms AND time < -?\d+ms GROUP BY time\(\d+ms\) fill\(none\)$"
)


@given(
    building=st.one_of(st.text(max_size=80), st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True)),
    kind=st.one_of(st.text(max_size=20), st.sampled_from(list(FIELDS))),
    device=st.one_of(st.text(max_size=80), st.just("garage")),
    field=st.one_of(st.text(max_size=40), st.sampled_from(["occupied", "state", "battery_pct", "capacity"])),
    agg=st.sampled_from(["mean", "max", "min", "last"]),
    start=st.integers(-(2**40), 2**42),
    span=st.integers(-1000, 2**36),
    every=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["1m", "1h", "10s", "1d"])),
)
def test_plan_refuses_or_builds_only_the_one_statement_shape(
    building: str, kind: str, device: str, field: str, agg: str, start: int, span: int, every: str | None
) -> None:
    try:
        query = plan(building, kind, device, field, agg, start, start + span, every, 10_000)  # type: ignore[arg-type]
    except HistoryRequestError as error:
        assert str(error)  # always a reason
        return
    assert _ALLOWED_STATEMENT.fullmatch(influxql(query)), influxql(query)
    assert (query.end_ms - query.start_ms) / query.every_ms <= 10_000
