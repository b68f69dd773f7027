"""`/api/v1/events`: every alert event as it happens, as server-sent events.

The SSE id of each event is the store's event id. A client that reconnects with
`Last-Event-ID: N` (browsers do it by themselves) is sent every stored event after N, then
the live ones; without it, only events from now on. The store is read whenever the MQTT
subscription to `louyu/alerts/#` (or a local ack/resolve) signals news, and every
`sse_poll_s` seconds regardless, so that nothing depends on the broker being up.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, HTTPException, Query
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from api.deps import AUTH_RESPONSES, State, Streamer
from api.event_order import OrderedEvents
from api.models import Problem
from api.state import ApiState
from api.stream_slots import StreamLimitError, StreamSlot

router = APIRouter(tags=["events"], responses=AUTH_RESPONSES)

RECONNECT_MS = 2000
# When a client refused for too many streams may try again.
STREAM_RETRY_S = 10
GAP_RETRY_S = 0.05


@router.get(
    "/api/v1/events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "An endless `text/event-stream`. Each event: `id` = event id, `data` = "
            '`{"event_id", "event", "at", "by", "note", "alert": {...}}` (docs/architecture.md).',
            "content": {
                "text/event-stream": {
                    "example": 'id: 1234\ndata: {"event_id": 1234, "event": "raised", "at": '
                    '"2026-11-27T01:00:00.123000+00:00", "by": null, "note": null, "alert": {"id": 42}}\n\n'
                }
            },
        },
        400: {"model": Problem, "description": "Last-Event-ID that is not an event id"},
        429: {
            "model": Problem,
            "description": "too many requests for this token, or too many open event streams for this "
            "token or on this server (`ApiConfig.sse_max_streams_per_token`, `sse_max_streams`); "
            "see Retry-After",
        },
    },
)
async def events(
    token: Streamer,
    app: State,
    last_event_id: Annotated[
        str | None, Header(max_length=32, description="resume after this event id (SSE reconnect)")
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=2**62, description="resume after this event id; 0: every stored event"),
    ] = None,
) -> EventSourceResponse:
    """Alert events (raised, acknowledged, resolved, escalated, ...) in the order they happened."""
    cursor: int | None
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not text.isdigit() or len(text) > 18:
            raise HTTPException(400, "Last-Event-ID must be an event id (a non-negative integer)")
        cursor = int(text)
    elif after is not None:
        cursor = after
    else:
        cursor = None
    newest = await anyio.to_thread.run_sync(app.store.last_event_id)
    # An id beyond the newest (a store that was replaced): follow from now rather than wait
    # silently until the new ids pass the old one.
    if cursor is None or cursor > newest:
        cursor = newest
    try:
        slot = app.streams.take(token.id)
    except StreamLimitError as error:
        app.metrics.auth_failures.labels("stream_limit").inc()
        raise HTTPException(429, str(error), headers={"Retry-After": str(STREAM_RETRY_S)}) from error
    return SlotEventSourceResponse(
        slot,
        _stream(app, cursor, token.id),
        ping=app.config.sse_ping_s,
        send_timeout=30,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


class SlotEventSourceResponse(EventSourceResponse):
    """Gives its stream slot back when the response ends, however it ends (a generator that
    never started would never run its own `finally`)."""

    def __init__(self, slot: StreamSlot, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


async def _stream(app: ApiState, cursor: int, token_id: int) -> AsyncIterator[ServerSentEvent]:
    app.metrics.streams.inc()
    checked = time.monotonic()
    order = OrderedEvents(cursor, app.config.sse_gap_grace_s)
    try:
        # Tell EventSource clients how soon to reconnect when the connection drops (ms).
        yield ServerSentEvent(comment="louyu alert events", retry=RECONNECT_MS)
        while not app.wakeup.closed:
            batch = await anyio.to_thread.run_sync(app.store.events_after, order.cursor, app.config.sse_batch)
            for event in order.take(batch, time.monotonic()):
                yield ServerSentEvent(data=json.dumps(event.to_json(), ensure_ascii=False), id=str(event.id))
            if time.monotonic() - checked > app.config.sse_recheck_s:
                checked = time.monotonic()
                valid = await anyio.to_thread.run_sync(app.tokens.still_valid, token_id, app.clock())
                if not valid:
                    return  # the client reconnects and meets the 401
            if order.waiting:
                await asyncio.sleep(GAP_RETRY_S)
            elif len(batch) < app.config.sse_batch:
                await app.wakeup.wait(app.config.sse_poll_s)
    finally:
        app.metrics.streams.dec()
