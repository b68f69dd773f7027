"""Exponential backoff with full jitter (the AWS architecture blog's "full jitter"): pure, `now` and
the random draw passed in, so retries of many deliveries to one recovering receiver spread out instead
of arriving together."""

from __future__ import annotations

import datetime as dt
import random

from rules.notify.config import Retry


def backoff_delay(retry: Retry, attempts: int, draw: float) -> dt.timedelta:
    """Delay before the next try after `attempts` failures (>= 1); `draw` uniform in [0, 1).

    The ceiling doubles with every failure up to `retry.max`; the delay is drawn in [ceiling/2, ceiling)
    so that it never collapses to zero (a half-jitter: spread, yet still backing off)."""
    ceiling = min(
        retry.max.total_seconds(), retry.initial.total_seconds() * retry.multiplier ** (attempts - 1)
    )
    return dt.timedelta(seconds=ceiling * (0.5 + 0.5 * draw))


def next_attempt_at(
    retry: Retry, attempts: int, now: dt.datetime, deadline: dt.datetime, rng: random.Random | None = None
) -> dt.datetime | None:
    """When to try again, or None when the deadline has passed or would pass before the next try."""
    draw = (rng or random).random()
    when = now + backoff_delay(retry, attempts, draw)
    if now >= deadline:
        return None
    return min(when, deadline)
