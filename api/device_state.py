"""The latest state of every device this process has heard of, in memory.

Fed by the API's own MQTT subscription to the telemetry topics (and, at start-up, by the last
values InfluxDB holds), read by the device routes and the dashboard. Thread-safe: the paho
network thread writes while request handlers read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from collector.models import Availability, DeviceKey, FieldValue, Reading


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


# Far above any real site (the Darong area has about 630 devices), low enough that a client
# publishing under endless made-up device names cannot exhaust memory.
MAX_DEVICES = 100_000


class DeviceStateTable:
    def __init__(self, max_devices: int = MAX_DEVICES) -> None:
        self._states: dict[DeviceKey, DeviceState] = {}
        self._lock = threading.Lock()
        self.max_devices = max_devices
        self.dropped = 0  # messages of new devices refused because the table is full
        self.version = 0  # bumped on every change, so readers can tell cheaply whether to redraw

    def _state(self, key: DeviceKey) -> DeviceState | None:
        state = self._states.get(key)
        if state is None:
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
