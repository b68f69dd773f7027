"""The alerts the engine raises of itself, about a whole building rather than one device.

They are not in the rules file (a site cannot switch them off by mistake) and use the key
(rule, building, kind `building`, device = the building id). docs/alerts.md lists them.
"""

from __future__ import annotations

from typing import Final

from rules.config import Rule

BUILDING: Final = "building"  # the `kind` of a building-level alert

# `louyu/{building}/availability` says offline: the gateway of the whole building is down.
BUILDING_OFFLINE: Final = Rule.model_validate(
    {
        "id": "building-offline",
        "severity": "major",
        "offline": True,
        "summary": "Building offline (its gateway says so): {building_name}",
    }
)
# Readings from devices that are not in the registry: not evaluated, one alert per building
# (or, for buildings that are not in the registry either, one for the area).
UNKNOWN_DEVICES: Final = Rule.model_validate(
    {
        "id": "unknown-devices",
        "severity": "warning",
        "offline": True,
        "summary": "Devices not in the registry reporting ({value}): {building_name}",
    }
)
# One sweep would raise more liveness alerts in a building than `liveness_summary_over`.
LIVENESS_SUMMARY: Final = Rule.model_validate(
    {
        "id": "devices-silent",
        "severity": "minor",
        "offline": True,
        "summary": "{value} devices not reporting: {building_name}",
    }
)
BUILTIN: Final = {r.id: r for r in (BUILDING_OFFLINE, UNKNOWN_DEVICES, LIVENESS_SUMMARY)}
