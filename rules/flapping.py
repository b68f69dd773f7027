"""Flap detection: how often a rule's condition changed for one device within a window."""

from __future__ import annotations

import datetime as dt
from collections import deque


class FlapCounter:
    """Times of recent changes (raise or clear) for one rule and device."""

    __slots__ = ("changes",)

    def __init__(self) -> None:
        self.changes: deque[dt.datetime] = deque()

    def record(self, now: dt.datetime, window: dt.timedelta) -> int:
        """Note one change at `now`; returns how many changes fall within the window."""
        self.changes.append(now)
        cutoff = now - window
        while self.changes and self.changes[0] < cutoff:
            self.changes.popleft()
        return len(self.changes)

    def reset(self) -> None:
        self.changes.clear()
