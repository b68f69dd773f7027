"""Delivery channels, one module each. Each sends one prepared message and says, by raising
`DeliveryError(retryable=...)`, whether a failure is worth another try (prometheus/alertmanager's
`notify/` does the same)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One delivery as a channel sees it: the same id and payload on every try."""

    id: str
    receiver: str
    title: str
    payload: str
    attempt: int  # 1 for the first try


class Channel(Protocol):
    def send(self, message: Outgoing, now: dt.datetime) -> None:
        """Deliver, or raise DeliveryError."""
        ...

    def close(self) -> None: ...
