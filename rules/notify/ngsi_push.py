"""Keeping a city NGSI-LD context broker up to date with the parking entities (rules/notify/ngsi_ld.py).

Every `every`, once the receiver's previous round is out (no pending delivery left), the entities
are built from the latest readings and compared with what was last planned for that broker (a
content hash per entity id); the changed ones are cut into batch upsert requests of at most `batch`
entities, sites before levels before spots (so a relationship's target is sent before, or with,
what refers to it). Each request is one delivery row: the ledger's outbox gives it retries with
backoff, the same bytes on every try, survival across a kill, and order (a receiver's deliveries go
one at a time, in insertion order, so an entity's contents reach the broker in the order they were
planned).

Waiting for the previous round coalesces: while the broker is away no new rounds pile up, and the
round after it comes back sends each entity's latest content once. The hashes live in memory: a
restarted notifier sends every entity once more (upsert is idempotent), after the rows left pending.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from collector.latest import DeviceState
from collector.models import DeviceKey
from collector.registry import Registry
from rules.notify.config import NgsiLdChannel, Receiver
from rules.notify.ngsi_ld import CORE_CONTEXT, TYPES, entities
from rules.notify.planner import Planned

REASON = "snapshot"  # a state push, like the building status snapshot


def content_hash(entity: Mapping[str, Any]) -> str:
    body = {k: v for k, v in entity.items() if k != "@context"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class EntityHashes:
    """What was last planned for one broker: entity id -> content hash. Shared by the timer (which
    plans) and the send thread (which forgets what the broker refused, so the next round sends it
    again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hashes: dict[str, str] = {}

    def changed(self, found: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
        with self._lock:
            pairs = [(e, content_hash(e)) for e in found]
            return [(e, h) for e, h in pairs if self._hashes.get(e["id"]) != h]

    def remember(self, pairs: Iterable[tuple[dict[str, Any], str]]) -> None:
        with self._lock:
            self._hashes.update((e["id"], h) for e, h in pairs)

    def forget(self, ids: Iterable[str]) -> None:
        with self._lock:
            for entity_id in ids:
                self._hashes.pop(entity_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._hashes)


def current(
    spec: NgsiLdChannel, registry: Registry, latest: Mapping[DeviceKey, DeviceState], now_ms: int
) -> list[dict[str, Any]]:
    """The entities of the configured types, in containment order (sites, levels, spots)."""
    found: list[dict[str, Any]] = []
    for entity_type in TYPES:
        if entity_type in spec.types:
            found += entities(entity_type, registry, latest, now_ms)
    return found


def request_body(spec: NgsiLdChannel, batch: Sequence[Mapping[str, Any]]) -> str:
    """The upsert body. With a `Link` header the entities carry no @context (the spec refuses one in
    an `application/json` body); inline, each carries the configured context and the core one."""
    if spec.inline_context:
        body = [{**e, "@context": [spec.context, CORE_CONTEXT]} for e in batch]
    else:
        body = [{k: v for k, v in e.items() if k != "@context"} for e in batch]
    return orjson.dumps(body).decode("utf-8")


def entity_ids(payload: str) -> list[str]:
    loaded: list[dict[str, Any]] = orjson.loads(payload)
    return [str(e["id"]) for e in loaded]


def plan_push(
    receiver: Receiver, changed: Sequence[tuple[dict[str, Any], str]], now: dt.datetime
) -> list[Planned]:
    """One delivery per batch of changed entities, in order."""
    spec = receiver.ngsi_ld
    assert spec is not None
    stamp = int(now.timestamp() * 1000)
    planned = []
    for k, start in enumerate(range(0, len(changed), spec.batch)):
        batch = [e for e, _ in changed[start : start + spec.batch]]
        planned.append(
            Planned(
                id=f"ngsi-{stamp}-{k}-{receiver.name}",
                receiver=receiver.name,
                channel=receiver.channel,
                reason=REASON,
                level=0,
                route=None,
                title=f"NGSI-LD upsert of {len(batch)} entities",
                payload=request_body(spec, batch),
                next_attempt_at=now,
                deadline=now + receiver.retry.deadline,
            )
        )
    return planned
