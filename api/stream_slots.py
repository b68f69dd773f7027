"""How many event streams (SSE) may be open at once: in all, and per token.

Each open stream holds a connection, a task and a store poll every few seconds; without a
bound one token (or a leaked one) could open thousands. A stream takes a slot before its
response starts and gives it back when the response ends, however it ends.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


class StreamLimitError(Exception):
    """No slot: too many streams for this token, or in all."""

    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"at most {limit} open event streams {scope}; close one or retry later")
        self.scope = scope


@dataclass(slots=True)
class StreamSlot:
    slots: StreamSlots
    token_id: int
    released: bool = False

    def release(self) -> None:
        """Give the slot back; a second call does nothing."""
        if not self.released:
            self.released = True
            self.slots.give_back(self.token_id)


@dataclass(slots=True)
class StreamSlots:
    max_total: int
    max_per_token: int
    total: int = 0
    by_token: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, token_id: int) -> StreamSlot:
        with self._lock:
            held = self.by_token.get(token_id, 0)
            if held >= self.max_per_token:
                raise StreamLimitError("per token", self.max_per_token)
            if self.total >= self.max_total:
                raise StreamLimitError("on this server", self.max_total)
            self.by_token[token_id] = held + 1
            self.total += 1
        return StreamSlot(self, token_id)

    def give_back(self, token_id: int) -> None:
        with self._lock:
            held = self.by_token.get(token_id, 0) - 1
            if held > 0:
                self.by_token[token_id] = held
            else:
                self.by_token.pop(token_id, None)
            self.total = max(0, self.total - 1)
