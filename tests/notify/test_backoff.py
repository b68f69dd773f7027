"""Exponential backoff with jitter, bounded by the delivery's deadline."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given
from hypothesis import strategies as st

from rules.notify.backoff import backoff_delay, next_attempt_at
from rules.notify.config import Retry

RETRY = Retry(initial=dt.timedelta(seconds=1), max=dt.timedelta(minutes=5), deadline=dt.timedelta(hours=1))
T0 = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)


def test_the_ceiling_doubles_up_to_the_maximum() -> None:
    ceilings = [backoff_delay(RETRY, n, 0.9999999).total_seconds() for n in range(1, 12)]
    assert [round(c) for c in ceilings] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    floors = [backoff_delay(RETRY, n, 0.0).total_seconds() for n in range(1, 4)]
    assert floors == [0.5, 1.0, 2.0]


@given(st.integers(1, 60), st.floats(0, 1, exclude_max=True))
def test_delays_stay_within_half_and_full_ceiling(attempts: int, draw: float) -> None:
    ceiling = min(300.0, 2.0 ** (attempts - 1))
    delay = backoff_delay(RETRY, attempts, draw).total_seconds()
    assert ceiling / 2 <= delay <= ceiling


def test_jitter_spreads_retries_of_many_deliveries() -> None:
    rng = random.Random(7)
    times = {next_attempt_at(RETRY, 6, T0, T0 + dt.timedelta(hours=1), rng) for _ in range(100)}
    assert len(times) == 100


def test_the_deadline_ends_retrying() -> None:
    deadline = T0 + dt.timedelta(seconds=10)
    last = next_attempt_at(RETRY, 9, T0 + dt.timedelta(seconds=9), deadline)
    assert last == deadline  # one last try at the deadline itself
    assert next_attempt_at(RETRY, 10, deadline, deadline) is None
