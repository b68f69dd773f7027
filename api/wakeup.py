"""Wake the event streams when something happened, from any thread.

The MQTT subscription to `louyu/alerts/#` calls `notify()` from paho's thread, and so do the
routes that acknowledge or resolve; every open stream then reads the store for what is new.
The store stays the source of truth: a wake-up only says "look now" and carries no data, so
a lost or duplicated wake-up costs at most one poll interval, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Wakeup:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.closed = False

    def notify(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(event.set)

    def close(self) -> None:
        """Tell every stream to finish, e.g. before the server shuts down."""
        self.closed = True
        self.notify()

    async def wait(self, timeout: float) -> bool:
        """Sleep until notified or `timeout` seconds pass; True when notified."""
        if self.closed:
            return True
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(entry)
