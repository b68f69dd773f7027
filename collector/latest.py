"""The latest state of every device, in memory: one model for every process that needs it (the
API's device routes, board and buildings; the notifier's city snapshot).

Fed with valid messages (from a process's own MQTT subscription, and at start-up with the last
values InfluxDB holds). Thread-safe: paho's network thread writes while request handlers read.

Bounded twice over: a device the registry does not know is ignored (counted in `ignored`) unless
the registry-less open mode is on, and even then the table holds at most `max_devices` devices
(new ones beyond are counted in `dropped`). `len()` is the size metric.

`freshness` is the one staleness rule of the building summary (collector/summary.py) and the
device status: a reading counts while its device is within the silence window of its kind (the
windows of the shipped `aed-offline` and `device-offline` rules) and not reported offline.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Final, Literal

from collector.models import Availability, DeviceKey, FieldValue, Reading
from collector.registry import Registry

Freshness = Literal["fresh", "stale", "unknown"]

# The same windows as the shipped `aed-offline` (15 minutes) and `device-offline` (30) rules: a
# figure is withheld exactly when its device is about to be, or is, reported silent.
SILENT_AFTER_MS: Final[dict[str, int]] = {"aed": 15 * 60_000}
DEFAULT_SILENT_AFTER_MS: Final = 30 * 60_000

# Far above any real site (the Darong area has about 630 devices), low enough that a client
# publishing under endless made-up device names cannot exhaust memory in open mode.
MAX_DEVICES: Final = 100_000


def silent_after_ms(kind: str) -> int:
    return SILENT_AFTER_MS.get(kind, DEFAULT_SILENT_AFTER_MS)


@dataclass(slots=True)
class DeviceState:
    """What we last heard from one device. Fields merge: an AED that reports only its state
    keeps the battery level it reported a minute ago."""

    key: DeviceKey
    fields: dict[str, FieldValue] = field(default_factory=dict)
    field_ts_ms: dict[str, int] = field(default_factory=dict)
    reading_ts_ms: int | None = None  # time of the newest reading
    last_seen_ms: int | None = None  # newest reading or availability message
    online: bool | None = None  # from the availability topic; None when never told
    availability_ts_ms: int | None = None

    def copy(self) -> DeviceState:
        return DeviceState(
            self.key,
            dict(self.fields),
            dict(self.field_ts_ms),
            self.reading_ts_ms,
            self.last_seen_ms,
            self.online,
            self.availability_ts_ms,
        )


def freshness(state: DeviceState | None, now_ms: int) -> Freshness:
    """`unknown`: never read; `stale`: its newest reading is older than its kind's silence window,
    or the device says it is offline; `fresh` otherwise."""
    if state is None or state.reading_ts_ms is None:
        return "unknown"
    if state.online is False or now_ms - state.reading_ts_ms > silent_after_ms(state.key.kind):
        return "stale"
    return "fresh"


class LatestState:
    def __init__(
        self, registry: Registry | None, *, accept_unknown: bool = False, max_devices: int = MAX_DEVICES
    ) -> None:
        """`registry` None, or `accept_unknown`, is the open mode: every device is kept (up to
        `max_devices`)."""
        self.registry = registry
        self.accept_unknown = accept_unknown or registry is None
        self.max_devices = max_devices
        self.ignored = 0  # messages of devices the registry does not know (closed mode)
        self.dropped = 0  # messages of new devices refused because the table is full
        self.version = 0  # bumped on every change, so readers can tell cheaply whether to redraw
        self._states: dict[DeviceKey, DeviceState] = {}
        self._lock = threading.Lock()

    def _state(self, key: DeviceKey) -> DeviceState | None:
        state = self._states.get(key)
        if state is None:
            if not self.accept_unknown and self.registry is not None and key not in self.registry:
                self.ignored += 1
                return None
            if len(self._states) >= self.max_devices:
                self.dropped += 1
                return None
            state = self._states[key] = DeviceState(key)
        return state

    def apply(self, message: Reading | Availability) -> None:
        """Take in one valid message. Older readings never overwrite newer values."""
        with self._lock:
            state = self._state(message.key)
            if state is None:
                return
            if isinstance(message, Availability):
                if state.availability_ts_ms is None or message.ts_ms >= state.availability_ts_ms:
                    state.online = message.online
                    state.availability_ts_ms = message.ts_ms
            else:
                for name, value in message.fields.items():
                    if message.ts_ms >= state.field_ts_ms.get(name, -1):
                        state.fields[name] = value
                        state.field_ts_ms[name] = message.ts_ms
                if state.reading_ts_ms is None or message.ts_ms > state.reading_ts_ms:
                    state.reading_ts_ms = message.ts_ms
                # A device that speaks is online, whatever its retained availability said before.
                if state.online is False and (
                    state.availability_ts_ms is None or message.ts_ms > state.availability_ts_ms
                ):
                    state.online = True
            if state.last_seen_ms is None or message.ts_ms > state.last_seen_ms:
                state.last_seen_ms = message.ts_ms
            self.version += 1

    def seed(self, key: DeviceKey, name: str, value: FieldValue, ts_ms: int) -> None:
        """A last value from storage: kept only where nothing newer arrived live."""
        self.apply(Reading(key.building, key.kind, key.device, ts_ms, {name: value}))

    def get(self, key: DeviceKey) -> DeviceState | None:
        with self._lock:
            state = self._states.get(key)
            return state.copy() if state is not None else None

    def snapshot(self) -> dict[DeviceKey, DeviceState]:
        with self._lock:
            return {key: state.copy() for key, state in self._states.items()}

    def __len__(self) -> int:
        with self._lock:
            return len(self._states)
