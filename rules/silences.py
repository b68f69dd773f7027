"""Silences (maintenance windows) answer one question: does this silence mute this alert?

Pure functions; the store and the engine both use them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from rules.records import SilenceRecord


def mutes(
    silence: SilenceRecord,
    *,
    rule: str,
    severity: str,
    building: str,
    kind: str,
    device: str,
    now: dt.datetime,
) -> bool:
    """True when the silence is active at `now` and every field it names matches.

    A critical alert (the AED lane) is muted only by a silence that names its rule: a
    building's maintenance window must never swallow an opened AED cabinet.
    """
    if not silence.active_at(now):
        return False
    if severity == "critical" and silence.rule != rule:
        return False
    return (
        (silence.rule is None or silence.rule == rule)
        and (silence.building is None or silence.building == building)
        and (silence.kind is None or silence.kind == kind)
        and (silence.device is None or silence.device == device)
    )


def muting(
    silences: Iterable[SilenceRecord],
    *,
    rule: str,
    severity: str,
    building: str,
    kind: str,
    device: str,
    now: dt.datetime,
) -> SilenceRecord | None:
    """The first silence that mutes the alert, if any."""
    for silence in silences:
        if mutes(silence, rule=rule, severity=severity, building=building, kind=kind, device=device, now=now):
            return silence
    return None
