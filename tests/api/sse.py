"""A small SSE reader for the tests: parses `id:` / `data:` lines into events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class SseEvent:
    id: int
    data: dict[str, Any]


def read_events(response: httpx.Response) -> Iterator[SseEvent]:
    event_id: str | None = None
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data:
                assert event_id is not None, "every event carries an id"
                yield SseEvent(int(event_id), json.loads("\n".join(data)))
            event_id, data = None, []
        elif line.startswith(":"):
            continue  # keep-alive comment
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                event_id = value
            elif name == "data":
                data.append(value)


def take(response: httpx.Response, count: int) -> list[SseEvent]:
    out: list[SseEvent] = []
    for event in read_events(response):
        out.append(event)
        if len(out) == count:
            break
    return out
