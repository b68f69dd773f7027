"""The fault schedule: what strikes when, scaled to the soak's length.

The nominal schedule is for 30 minutes; a shorter soak keeps the order and shrinks each window by
the same factor (an influxd outage of 10 minutes becomes 1 minute in a 3-minute soak).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.soak.load import Load
from bench.soak.observe import WebhookReceiver
from bench.soak.system import System

NOMINAL_S = 1800.0
RESTART_DELAY_S = 2.0  # as systemd's RestartSec would
SKEW_MS = 10 * 60 * 1000  # the gateway whose clock is off is this far ahead


@dataclass
class Fault:
    name: str
    at: float  # fraction of the soak
    nominal_s: float  # length in a 30-minute soak; 0 for a kill or restart
    started: float | None = None  # wall seconds
    ended: float | None = None
    note: str = ""

    def length(self, duration_s: float) -> float:
        return self.nominal_s * duration_s / NOMINAL_S


def schedule() -> list[Fault]:
    return [
        Fault("collector SIGKILL", 0.10, 0),
        Fault("rules engine SIGKILL", 0.17, 0),
        Fault("notifier SIGKILL", 0.23, 0),
        Fault("API restart", 0.28, 0),
        Fault("influxd stopped (60 s nominal)", 0.33, 60),
        Fault("broker restart", 0.40, 0),
        Fault("webhook answers 503 (5 min nominal)", 0.45, 300),
        Fault("gateway clock 10 min ahead (2 min nominal)", 0.58, 120),
        Fault("gateways reconnect in a burst (1 min held nominal)", 0.63, 60),
        Fault("influxd stopped (10 min nominal)", 0.66, 600),
        Fault("spool disk nearly full (3 min nominal)", 0.72, 180),
    ]


@dataclass
class SpoolDisk:
    """The spool's directory on a small filesystem of its own, so that it can be filled."""

    path: Path
    size_mb: int = 1024
    mounted: bool = False
    filler: Path = field(init=False)

    def __post_init__(self) -> None:
        self.filler = self.path / "filler"

    def mount(self) -> str:
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m", "soak-spool", str(self.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        self.mounted = done.returncode == 0
        return "" if self.mounted else f"not run: cannot mount a tmpfs ({done.stderr.strip()})"

    def fill(self, leave_bytes: int = 64 * 1024) -> None:
        # The spool keeps writing meanwhile (InfluxDB is down when this strikes): what was free a
        # moment ago may be gone, so take what is free again, a little less each time.
        with self.filler.open("wb") as out:
            for attempt in range(8):
                stat = os.statvfs(self.path)
                have = os.fstat(out.fileno()).st_blocks * 512
                want = have + stat.f_bavail * stat.f_frsize - leave_bytes - attempt * 1024 * 1024
                if want <= have:
                    return
                try:
                    os.posix_fallocate(out.fileno(), 0, want)
                    return
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
            raise OSError(errno.ENOSPC, "the spool's disk kept filling faster than it could be filled")

    def empty(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.filler.unlink()

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=False, capture_output=True)


class Injector:
    """Runs the schedule in a thread of its own."""

    def __init__(
        self,
        system: System,
        load: Load,
        webhook: WebhookReceiver,
        spool: SpoolDisk,
        duration_s: float,
        started: float,
        burst_buildings: set[str],
        skew_building: str,
    ) -> None:
        self.system, self.load, self.webhook, self.spool = system, load, webhook, spool
        self.duration_s, self.started = duration_s, started
        self.burst_buildings, self.skew_building = burst_buildings, skew_building
        self.faults = schedule()
        self.errors: list[str] = []
        # Called as the skewed clock is set right: what the collector stored by then shows
        # whether it took readings that were more than five minutes ahead when they came.
        self.after_skew: Callable[[], None] | None = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soak-faults", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(60)

    def _sleep_until(self, wall: float) -> bool:
        return not self._stop.wait(max(0.0, wall - time.time()))

    def _run(self) -> None:
        # Run in order of start; windows may nest (the spool fills during the long influxd outage).
        pending: list[tuple[float, Fault, bool]] = []
        for fault in self.faults:
            at = self.started + fault.at * self.duration_s
            pending.append((at, fault, True))
            if fault.nominal_s:
                pending.append((at + fault.length(self.duration_s), fault, False))
        for at, fault, begin in sorted(pending, key=lambda item: item[0]):
            if not self._sleep_until(at):
                return
            try:
                if begin:
                    fault.started = time.time()
                    self._begin(fault)
                    if not fault.nominal_s:
                        fault.ended = time.time()
                else:
                    self._end(fault)
                    fault.ended = time.time()
            except Exception as error:  # noqa: BLE001 (a failed fault is reported, the soak goes on)
                self.errors.append(f"{fault.name}: {error!r}")

    def _begin(self, fault: Fault) -> None:
        parts = self.system.parts
        name = fault.name
        if name.endswith("SIGKILL"):
            part = {"collector": "collector", "rules": "rules", "notifier": "notifier"}[name.split()[0]]
            parts[part].kill()
            time.sleep(RESTART_DELAY_S)
            parts[part].start()
        elif name == "API restart":
            parts["api"].stop()
            parts["api"].start()
        elif name.startswith("influxd stopped"):
            self.system.influxd.stop()
        elif name == "broker restart":
            self.system.broker.stop()
            time.sleep(RESTART_DELAY_S)
            self.system.broker.start()
        elif name.startswith("webhook"):
            self.webhook.failing.set()
        elif name.startswith("gateway clock"):
            with self.load.lock:
                self.load.skew[self.skew_building] = SKEW_MS
        elif name.startswith("gateways reconnect"):
            self.load.hold(self.burst_buildings)
        elif name.startswith("spool disk"):
            if not self.spool.mounted:
                fault.note = "skipped: the spool is not on a filesystem of its own"
                return
            self.spool.fill()

    def _end(self, fault: Fault) -> None:
        name = fault.name
        if name.startswith("influxd stopped"):
            self.system.influxd.start()
        elif name.startswith("webhook"):
            self.webhook.failing.clear()
        elif name.startswith("gateway clock"):
            with self.load.lock:
                self.load.skew.pop(self.skew_building, None)
            if self.after_skew is not None:
                self.after_skew()
        elif name.startswith("gateways reconnect"):
            self.load.release()
        elif name.startswith("spool disk"):
            self.spool.empty()
