"""Deliver alert events strictly in id order, waiting briefly for ids that are not there yet.

Event ids come from the database as rows are inserted, but transactions commit in their own
order: with several writers on PostgreSQL (the rules engine, this API's acks), event 11 can be
visible while event 10 is still being committed. A stream that sent 11 and moved on would never
send 10, and a client resuming with `Last-Event-ID: 11` would never see it either. So an event
after a gap is held back until the gap fills, or until `grace_s` has passed (the id was rolled
back, or pruned, and will never come). SQLite commits one writer at a time, so there a gap is
never more than a pruned id.
"""

from __future__ import annotations

from collections.abc import Sequence

from rules.records import EventRecord


class OrderedEvents:
    def __init__(self, after: int, grace_s: float) -> None:
        self.cursor = after
        self.grace_s = grace_s
        self._gap_since: float | None = None

    @property
    def waiting(self) -> bool:
        """True while events are held back behind a gap (poll again soon)."""
        return self._gap_since is not None

    def take(self, batch: Sequence[EventRecord], now: float) -> list[EventRecord]:
        """The events of `batch` (ids above the cursor, ascending) that may go out now, in order."""
        out: list[EventRecord] = []
        for event in batch:
            if event.id <= self.cursor:
                continue
            if event.id != self.cursor + 1:
                if self._gap_since is None:
                    self._gap_since = now
                if now - self._gap_since < self.grace_s:
                    break
            self._gap_since = None
            self.cursor = event.id
            out.append(event)
        return out
