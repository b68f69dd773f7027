"""Rate-limited logging for events a sensor can trigger at will (rejections, unknown devices).

A hostile or broken device decides how often these happen; one log line per message would let it
fill the disk and bury every other line. A `LogThrottle` lets the first `burst` events of each key
through per window, counts the rest, and when the window ends logs one summary line per key
saying how many it held back. Keys come from the message (a building name can be invented), so
the number of keys per window is bounded too: past `max_keys`, new keys share one `_other` key.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import structlog

OTHER_KEY: Final = "_other"  # outside the topic name pattern: never a real building or reason


class LogThrottle:
    def __init__(
        self,
        event: str,
        key_name: str,
        *,
        burst: int = 5,
        window_s: float = 60.0,
        max_keys: int = 20,
        logger: Any = None,
    ) -> None:
        self.event = event
        self.key_name = key_name
        self.burst = burst
        self.window_s = window_s
        self.max_keys = max_keys
        self.log = logger if logger is not None else structlog.get_logger("louyu.collector")
        self.suppressed_total = 0
        self._lock = threading.Lock()
        self._window_end: float | None = None
        self._counts: dict[str, int] = {}

    def allow(self, key: str, now: float) -> bool:
        """True if this event may be logged; counts it either way."""
        ended: dict[str, int] = {}
        with self._lock:
            if self._window_end is None or now >= self._window_end:
                ended = self._reset(now)
            counts = self._counts
            if key not in counts and len(counts) >= self.max_keys:
                key = OTHER_KEY
            seen = counts.get(key, 0) + 1
            counts[key] = seen
            allowed = seen <= self.burst
            if not allowed:
                self.suppressed_total += 1
        self._summarise(ended)
        return allowed

    def roll(self, now: float) -> None:
        """Log the summaries of a window that has ended, even if no event came since."""
        if self._window_end is None or now < self._window_end:
            return  # read without the lock: a stale answer only delays the summary to the next call
        with self._lock:
            ended: dict[str, int] = {}
            if self._window_end is not None and now >= self._window_end:
                ended = self._held_back()
                self._counts = {}
                self._window_end = None  # the next event opens the next window
        self._summarise(ended)

    def _reset(self, now: float) -> dict[str, int]:
        ended = self._held_back()
        self._counts = {}
        self._window_end = now + self.window_s
        return ended

    def _held_back(self) -> dict[str, int]:
        return {key: n - self.burst for key, n in self._counts.items() if n > self.burst}

    def _summarise(self, ended: dict[str, int]) -> None:
        for key, suppressed in sorted(ended.items()):
            self.log.warning(
                f"{self.event}: further lines suppressed",
                **{self.key_name: key},
                suppressed=suppressed,
                window_s=self.window_s,
            )
