"""How often each kind of device is expected to report: its heartbeat, the longest a working device
stays quiet when nothing changes (it also reports every change in between).

One owner for this fact: the simulator beats at these intervals, and the data-quality report
counts the readings it expects from them and calls a gap of several intervals a silent period.
They sit well inside the silence windows after which a device is `silent` (collector/latest.py:
15 minutes for an AED, 30 for the rest), so one missed heartbeat never looks like a dead device.
"""

from __future__ import annotations

from typing import Final

_MINUTE_MS: Final = 60_000

# Space sensors beat every 10 minutes (a battery lasts years at that rate); AEDs every 5 ("every
# few minutes", as cabinet vendors do); lot counters and canteen counters every minute.
HEARTBEAT_MS: Final[dict[str, int]] = {
    "parking_space": 10 * _MINUTE_MS,
    "parking_lot": 1 * _MINUTE_MS,
    "aed": 5 * _MINUTE_MS,
    "canteen": 1 * _MINUTE_MS,
}
