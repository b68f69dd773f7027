"""A per-token request budget: a token bucket in memory.

Each token may burst up to `burst` requests and is refilled at `rate` per second. In memory
on purpose: one API process answers one building area, and a restart forgiving every client
is harmless. The clock is passed in, so the arithmetic is tested without sleeping.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Final

# Forget buckets idle this long (they are full again by then anyway), so that the table
# cannot grow without bound with tokens that come and go.
_IDLE_FORGET_S: Final = 600.0
_SWEEP_EVERY: Final = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def take(self, key: str, now: float) -> float:
        """Spend one request of `key`'s budget: 0.0 if allowed, else the seconds to wait."""
        with self._lock:
            self._calls += 1
            if self._calls % _SWEEP_EVERY == 0:
                self._sweep(now)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            elapsed = max(0.0, now - bucket.stamp)
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    @staticmethod
    def retry_after_header(wait_s: float) -> str:
        """Retry-After takes whole seconds; round up so that a client obeying it is let through."""
        return str(max(1, math.ceil(wait_s)))

    def _sweep(self, now: float) -> None:
        stale = [k for k, b in self._buckets.items() if now - b.stamp > _IDLE_FORGET_S]
        for key in stale:
            del self._buckets[key]
