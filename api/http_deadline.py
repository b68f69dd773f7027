"""A deadline for reading a request's headers, which uvicorn does not have.

uvicorn's `timeout_keep_alive` only runs between requests, is cancelled by every byte that
arrives, and is not armed at all on a connection that has not sent a request yet: a client that
connects and sends nothing, or trickles a header a byte at a time (slowloris), holds a
connection open for ever. 200 such connections were all still open after 25 s.

`header_deadline_protocol(seconds)` is uvicorn's h11 protocol with one timer more: armed when
the connection opens and again after each response (for the next request on a kept-alive
connection), cancelled once a request's headers are complete. When it fires, the connection
is closed. A request being answered, an event stream included, is never affected.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderDeadlineProtocol(H11Protocol):
    header_timeout_s: float = 10.0
    closed_by_deadline: int = 0  # connections closed for it, by every instance (for tests, metrics)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request's headers are complete: it is being answered
            self._cancel_header_deadline()

    def on_response_complete(self) -> None:
        # Armed before the parent handles a pipelined request (which then cancels it).
        self._arm_header_deadline()
        super().on_response_complete()

    def _arm_header_deadline(self) -> None:
        self._cancel_header_deadline()
        if not self.transport.is_closing():
            self._header_deadline = self.loop.call_later(self.header_timeout_s, self._header_deadline_passed)

    def _cancel_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _header_deadline_passed(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            type(self).closed_by_deadline += 1
            self.transport.close()


def header_deadline_protocol(header_timeout_s: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for `uvicorn.Config(http=...)`, with this deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout_s": header_timeout_s})
