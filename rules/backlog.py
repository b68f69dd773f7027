"""What the broker's backlog may do to the engine's state: pure helpers, no I/O.

A reading older than the newest one applied for its device is stale (`ReadingOrder`); a stored
`for` timer does not run while the engine is away and the broker keeps the gap's readings for it
(`resumed_since`). docs/rules.md, "Restarts: the broker session and its backlog".
"""

from __future__ import annotations

import datetime as dt

Key = tuple[str, str, str]  # building, kind, device


class ReadingOrder:
    """Per device, the newest `ts` applied so far: a reading older than that is stale.

    A device publishes in order and MQTT keeps that order, so an older reading only comes from
    somewhere else: a gateway flushing what it buffered after newer readings went out, or a
    redelivery. Applied, it would put the device's state back in time (a closed cabinet "open"
    again, an open one "closed"). A `ts` counts at most as its arrival time, so a device whose
    clock ran ahead and is then set right is not shut out until its clock catches up. Readings
    without a `ts` (stamped on arrival) are never stale and leave no mark.
    """

    def __init__(self) -> None:
        self.newest: dict[Key, int] = {}

    def accept(self, key: Key, ts_ms: int, received_ms: int) -> bool:
        if ts_ms == received_ms:
            return True
        newest = self.newest.get(key)
        if newest is not None and ts_ms < newest:
            return False
        mark = min(ts_ms, received_ms)
        if newest is None or mark > newest:
            self.newest[key] = mark
        return True


def resumed_since(
    since: dt.datetime, reconnected: dt.datetime, disconnected: dt.datetime | None
) -> dt.datetime:
    """Where a stored `for` timer stands when the broker replays the readings of a gap.

    The gap's readings arrive in a burst and are judged on arrival, so the gap itself must not
    count towards the duration, or the first replayed reading would complete the timer even when
    a later one shows that the condition had stopped holding: the timer is moved on by the time
    it spent in the gap. After a restart the moment the engine stopped is unknown (`disconnected`
    None) and the whole time since the timer started is taken as gap: the timer starts again at
    the reconnection. Never before `since`.
    """
    start = since if disconnected is None else max(since, disconnected)
    return since + max(reconnected - start, dt.timedelta(0))
