"""Drills: a simulated AED incident that runs through the real pipeline, marked everywhere.

The mark crosses the processes in the telemetry itself: a drill's readings carry `"drill": true`
(an optional field of the `aed` payload, docs/interface.md), the rules engine labels an alert
raised from such a reading `drill: "true"` and prefixes its summaries, and every later part
(store, API, notifier messages, the city platform's CloudEvents) reads the label. A real reading
of the same device, without the field, is never marked: a real emergency during a drill pages
as a real one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

import orjson

DRILL_LABEL: Final = "drill"
# Summary prefixes: "" for the main summary, then one per summary language (labels summary_<lang>).
DRILL_PREFIX: Final[dict[str, str]] = {"": "演练/DRILL: ", "zh": "【演练】", "en": "DRILL: "}
DrillStage = Literal["cabinet_open", "in_use", "back"]
STAGES: Final[tuple[DrillStage, ...]] = ("cabinet_open", "in_use", "back")
# What the cabinet reports at each stage.
_PAYLOADS: Final[dict[DrillStage, dict[str, object]]] = {
    "cabinet_open": {"state": "ready", "cabinet_open": True},
    "in_use": {"state": "in_use", "cabinet_open": True},
    "back": {"state": "ready", "cabinet_open": False},
}


def drill_summaries(summary: str, per_language: dict[str, str]) -> tuple[str, dict[str, str]]:
    """An alert's summary and its per-language ones (labels `summary_<lang>`), marked as a drill's."""
    marked = {
        name: DRILL_PREFIX.get(name.removeprefix("summary_"), DRILL_PREFIX[""]) + text
        for name, text in per_language.items()
    }
    return DRILL_PREFIX[""] + summary, marked


def is_drill(labels: dict[str, str]) -> bool:
    return labels.get(DRILL_LABEL) == "true"


@dataclass(frozen=True, slots=True)
class DrillMessage:
    stage: DrillStage
    topic: str
    payload: bytes


def drill_message(building: str, device: str, stage: DrillStage, at: dt.datetime) -> DrillMessage:
    """The telemetry message of one stage of a drill on an AED cabinet."""
    body = {"ts": int(at.timestamp() * 1000), **_PAYLOADS[stage], "drill": True}
    return DrillMessage(stage, f"louyu/{building}/aed/{device}", orjson.dumps(body))
