"""The sending state of a kept report, one entry per receiver in the `reports.sent` column: what the
last attempt did and what comes next. Pure: the schedule (api/reports/schedule.py) sends and keeps.

An entry: `{"receiver", "ok", "error", "attempts", "last_attempt_at", "next_attempt_at",
"gave_up"}`. After the n-th failed attempt the next one is `delays[n-1]` later; when the delays run
out, or the receiver refused the message itself, the entry is given up and says so. A receiver
that got the report is never due again, so it never gets it twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from api.reports.sending import Attempt


def entry(
    previous: dict[str, Any] | None, attempt: Attempt, now: dt.datetime, delays: Sequence[dt.timedelta]
) -> dict[str, Any]:
    """The receiver's entry after `attempt`, made at `now` (`previous`: its entry before, if any)."""
    attempts = int((previous or {}).get("attempts", 1 if previous else 0)) + 1
    next_at: dt.datetime | None = None
    if not attempt.ok and attempt.retryable and attempts <= len(delays):
        next_at = now + delays[attempts - 1]
    return {
        "receiver": attempt.receiver,
        "ok": attempt.ok,
        "error": attempt.error,
        "attempts": attempts,
        "last_attempt_at": now.isoformat(),
        "next_attempt_at": next_at.isoformat() if next_at is not None else None,
        "gave_up": not attempt.ok and next_at is None,
    }


def _next_attempt(item: dict[str, Any]) -> dt.datetime | None:
    """When the receiver is to be tried again: None once it got the report or was given up."""
    at = item.get("next_attempt_at")
    if item.get("ok") or item.get("gave_up") or not at:
        return None
    return dt.datetime.fromisoformat(at)


def due(item: dict[str, Any], now: dt.datetime) -> bool:
    """The receiver failed, is not given up and its next attempt is due by `now`."""
    at = _next_attempt(item)
    return at is not None and at <= now


def next_retry(entries: Iterable[dict[str, Any]]) -> dt.datetime | None:
    """When the earliest receiver still to retry is due; None when none is."""
    return min((at for e in entries if (at := _next_attempt(e)) is not None), default=None)
