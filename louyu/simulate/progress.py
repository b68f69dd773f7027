"""Counters of a simulator run and their display: a rich live panel, or plain lines in logs.

`Stats` is shared by the publishing thread and paho's network thread, so every update holds
its lock; `snapshot()` gives a consistent copy for display.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table


@dataclass(frozen=True, slots=True)
class Snapshot:
    elapsed_s: float
    sent: int
    acked: int
    errors: int
    waits: int
    connected: bool
    closed: bool
    sim_time: str
    scenarios: tuple[str, ...]
    failed_after_send: int = 0

    @property
    def in_flight(self) -> int:
        return max(0, self.sent - self.acked - self.failed_after_send)


class Stats:
    """What was handed to paho (`sent`), confirmed (`acked`), refused (`errors`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.sent = 0
        self.acked = 0
        self.errors = 0
        self.failed_after_send = 0  # sent, then refused by the broker (a PUBACK with an error)
        self.waits = 0  # times the publisher waited for the in-flight window
        self.connected = False
        self.closed = False  # the run is over and the connection closed on purpose
        self.sim_time = ""
        self.scenarios: tuple[str, ...] = ()

    def add_sent(self) -> None:
        with self._lock:
            self.sent += 1

    def add_acked(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self.acked += 1
            else:
                self.errors += 1
                self.failed_after_send += 1

    def add_error(self) -> None:
        with self._lock:
            self.errors += 1

    def add_wait(self) -> None:
        with self._lock:
            self.waits += 1

    def pending(self) -> int:
        with self._lock:
            return self.sent - self.acked - self.failed_after_send

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                time.monotonic() - self.started,
                self.sent,
                self.acked,
                self.errors,
                self.waits,
                self.connected,
                self.closed,
                self.sim_time,
                self.scenarios,
                self.failed_after_send,
            )


class RateMeter:
    """Messages per second over the last interval between two snapshots."""

    def __init__(self) -> None:
        self._last: tuple[float, int] | None = None

    def rate(self, snap: Snapshot) -> float:
        previous, self._last = self._last, (snap.elapsed_s, snap.sent)
        if previous is None or snap.elapsed_s <= previous[0]:
            return snap.sent / snap.elapsed_s if snap.elapsed_s > 0 else 0.0
        return (snap.sent - previous[1]) / (snap.elapsed_s - previous[0])


def plain_line(snap: Snapshot, rate: float) -> str:
    parts = [
        f"t={snap.elapsed_s:.0f}s",
        f"rate={rate:.0f}/s",
        f"sent={snap.sent}",
        f"acked={snap.acked}",
        f"in_flight={snap.in_flight}",
        f"errors={snap.errors}",
        f"broker={'closed' if snap.closed else 'connected' if snap.connected else 'connecting'}",
    ]
    if snap.sim_time:
        parts.append(f"sim={snap.sim_time}")
    if snap.scenarios:
        parts.append(f"scenarios={','.join(snap.scenarios)}")
    return " ".join(parts)


def table(snap: Snapshot, rate: float) -> Table:
    grid = Table(title="louyu simulate", show_header=False, box=None, padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_row("rate", f"{rate:,.0f} msg/s")
    grid.add_row("sent", f"{snap.sent:,}")
    grid.add_row("acked", f"{snap.acked:,}")
    grid.add_row("in flight", f"{snap.in_flight:,}")
    grid.add_row("errors", f"[red]{snap.errors:,}[/red]" if snap.errors else "0")
    broker = "closed" if snap.closed else "connected" if snap.connected else "[yellow]connecting[/yellow]"
    grid.add_row("broker", broker)
    if snap.sim_time:
        grid.add_row("simulated time", snap.sim_time)
    grid.add_row("scenarios", ", ".join(snap.scenarios) or "-")
    grid.add_row("elapsed", f"{snap.elapsed_s:,.0f} s")
    return grid


class Progress:
    """Shows `Stats` until `done` is set: a live panel on a terminal, a line every few seconds elsewhere."""

    def __init__(self, stats: Stats, stream: TextIO | None = None, plain_every_s: float = 5.0) -> None:
        self.stats = stats
        self.stream = stream or sys.stdout
        self.plain_every_s = plain_every_s

    @property
    def live(self) -> bool:
        return self.stream.isatty()

    def run(self, done: threading.Event) -> None:
        meter = RateMeter()
        if self.live:
            console = Console(file=self.stream)
            snap = self.stats.snapshot()
            with Live(table(snap, 0.0), console=console, refresh_per_second=1, transient=False) as live:
                while not done.wait(1.0):
                    snap = self.stats.snapshot()
                    live.update(table(snap, meter.rate(snap)))
                snap = self.stats.snapshot()
                live.update(table(snap, meter.rate(snap)))
            return
        while not done.wait(self.plain_every_s):
            snap = self.stats.snapshot()
            print(plain_line(snap, meter.rate(snap)), file=self.stream, flush=True)

    def summary(self) -> str:
        snap = self.stats.snapshot()
        average = snap.sent / snap.elapsed_s if snap.elapsed_s > 0 else 0.0
        return (
            f"sent {snap.sent} messages in {snap.elapsed_s:.1f} s ({average:.0f}/s), "
            f"acked {snap.acked}, errors {snap.errors}"
        )
