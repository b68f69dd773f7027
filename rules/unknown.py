"""Devices that report but are not in the registry, counted per building with a bound.

Their readings are not evaluated (anyone allowed to publish under a building could invent
them); the engine raises one `unknown-devices` alert per building from these counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

# Distinct unknown devices remembered per building: past this, the count says "at least".
MAX_PER_BUILDING: Final = 10_000


@dataclass(slots=True)
class UnknownDevices:
    """The unknown devices of one building (or of the area, for unknown buildings)."""

    devices: set[tuple[str, str, str]] = field(default_factory=set)
    last_at: float = 0.0  # epoch seconds of the newest message from one of them
    overflow: bool = False
    reported: int = 0  # the count last written on the alert

    def see(self, key: tuple[str, str, str], at: float) -> None:
        self.last_at = at
        if key in self.devices:
            return
        if len(self.devices) < MAX_PER_BUILDING:
            self.devices.add(key)
        else:
            self.overflow = True

    @property
    def count(self) -> int:
        """Distinct unknown devices seen, at most `MAX_PER_BUILDING`."""
        return len(self.devices)
