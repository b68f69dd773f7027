"""The latest reading of every device, fed by the notifier's own telemetry subscription, for the
building status snapshot. Fields merge (an AED reporting only its state keeps its battery level)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from collector.models import DeviceKey, FieldValue, Reading


@dataclass(slots=True)
class Latest:
    fields: dict[str, FieldValue] = field(default_factory=dict)
    ts_ms: int = 0


class LatestReadings:
    def __init__(self) -> None:
        self._latest: dict[DeviceKey, Latest] = {}
        self._lock = threading.Lock()

    def apply(self, reading: Reading) -> None:
        with self._lock:
            latest = self._latest.setdefault(reading.key, Latest())
            if reading.ts_ms >= latest.ts_ms:
                latest.fields.update(reading.fields)
                latest.ts_ms = reading.ts_ms

    def snapshot(self) -> dict[DeviceKey, Latest]:
        with self._lock:
            return {key: Latest(dict(v.fields), v.ts_ms) for key, v in self._latest.items()}
