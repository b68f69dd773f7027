"""A one-value cache with a time to live and a single flight.

The public board is opened by hundreds of phones at once around noon. Whatever the crowd, the
board is computed at most once per `ttl_s`: the first request after expiry computes it, the
requests arriving meanwhile wait for that one result instead of starting their own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class TtlCache(Generic[T]):
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._value: T | None = None
        self._stamp = 0.0
        self._lock = asyncio.Lock()
        self.computations = 0  # how many times the value was computed: the load on the system

    def _fresh(self) -> bool:
        return self._value is not None and self._clock() - self._stamp < self.ttl_s

    async def get(self, compute: Callable[[], Awaitable[T]]) -> tuple[T, float]:
        """The value and its age in seconds."""
        if self._fresh():
            assert self._value is not None
            return self._value, self._clock() - self._stamp
        async with self._lock:
            # Another request may have refreshed it while this one waited for the lock.
            if not self._fresh():
                value = await compute()
                self._value, self._stamp = value, self._clock()
                self.computations += 1
            assert self._value is not None
            return self._value, self._clock() - self._stamp

    def clear(self) -> None:
        self._value = None
