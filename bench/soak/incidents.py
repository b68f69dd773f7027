"""Scripted AED incidents: a cabinet opens, the AED is taken (in use), and it comes back."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from bench.soak.district import Device
from bench.soak.load import AedState, Load

NOMINAL_OPEN_S, NOMINAL_IN_USE_S = 45.0, 120.0


@dataclass
class Incident:
    device: Device
    at: float  # wall seconds, planned
    open_s: float
    in_use_s: float
    steps: dict[str, float] = field(default_factory=dict)  # "opened", "in_use", "back" -> wall seconds sent

    @property
    def ends(self) -> float:
        return self.at + self.open_s + self.in_use_s


def plan(aeds: list[Device], started: float, duration_s: float, fault_times: list[float]) -> list[Incident]:
    """One incident every twelfth of the soak, and one just after each fault starts; each on an AED
    of its own, all closed before the soak's end."""
    scale = duration_s / 1800.0
    open_s, in_use_s = max(3.0, NOMINAL_OPEN_S * scale), max(6.0, NOMINAL_IN_USE_S * scale)
    times = sorted([started + duration_s * k / 12 for k in range(1, 11)] + [t + 0.5 for t in fault_times])
    last = started + duration_s - open_s - in_use_s - 1
    return [Incident(aeds[i], min(at, last), open_s, in_use_s) for i, at in enumerate(times)]


class Script:
    def __init__(self, load: Load, incidents: list[Incident]) -> None:
        self.load, self.incidents = load, incidents
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soak-incidents", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(10)

    def _run(self) -> None:
        steps: list[tuple[float, Incident, str]] = []
        for incident in self.incidents:
            steps.append((incident.at, incident, "opened"))
            steps.append((incident.at + incident.open_s, incident, "in_use"))
            steps.append((incident.ends, incident, "back"))
        for at, incident, step in sorted(steps, key=lambda item: item[0]):
            if self._stop.wait(max(0.0, at - time.time())):
                return
            building = incident.device.building
            self.load.aed[building] = {
                "opened": AedState("ready", True),
                "in_use": AedState("in_use", True),
                "back": AedState("ready", False),
            }[step]
            incident.steps[step] = time.time()
            self.load.send_now(incident.device)
