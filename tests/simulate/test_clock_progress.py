"""Simulated time, the `ts` rule, option parsing, and the progress display."""

from __future__ import annotations

import datetime as dt
import io
import threading
from zoneinfo import ZoneInfo

import pytest

from louyu.simulate.clock import SimClock, parse_duration, parse_start, payload_ts
from louyu.simulate.errors import BadTimeError
from louyu.simulate.progress import Progress, RateMeter, Stats, plain_line

TZ = ZoneInfo("Asia/Shanghai")
NOW = int(dt.datetime(2026, 11, 26, 15, 0, tzinfo=TZ).timestamp() * 1000)
DAY = 86_400_000


@pytest.mark.parametrize(
    ("sim", "speed", "expected"),
    [
        (NOW - 2 * DAY, 1.0, NOW - 2 * DAY),  # real pace, inside the window: simulated time
        (NOW, 1.0, NOW),
        (NOW - 8 * DAY, 1.0, NOW),  # too old for the contract: real time
        (NOW + 3_600_000, 1.0, NOW),  # in the future: real time
        (NOW - 2 * DAY, 60.0, NOW),  # accelerated: real time
    ],
)
def test_payload_ts_stays_inside_the_contract_window(sim: int, speed: float, expected: int) -> None:
    assert payload_ts(sim, NOW, speed) == expected


def test_sim_clock_runs_at_speed() -> None:
    clock = SimClock(start_sim_ms=1_000_000, speed=60.0, start_monotonic=0.0)
    assert clock.sim_ms(10.0) == 1_000_000 + 600_000
    with pytest.raises(ValueError, match="positive"):
        SimClock.starting_now(None, 0)


def test_parse_start_forms() -> None:
    assert parse_start(None, TZ) is None
    assert parse_start("now", TZ) is None
    assert parse_start("07:30", TZ, NOW) == int(
        dt.datetime(2026, 11, 26, 7, 30, tzinfo=TZ).timestamp() * 1000
    )
    assert parse_start("2026-11-27", TZ) == int(dt.datetime(2026, 11, 27, tzinfo=TZ).timestamp() * 1000)
    assert parse_start("2026-11-27T09:00:00+00:00", TZ) == int(
        dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC).timestamp() * 1000
    )
    assert parse_start("2026-11-27T09:00", TZ) == int(
        dt.datetime(2026, 11, 27, 9, tzinfo=TZ).timestamp() * 1000
    )
    with pytest.raises(BadTimeError, match="--start"):
        parse_start("tomorrow-ish", TZ)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("5m", 300), ("1.5h", 5400), ("250ms", 0.25)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_parse_duration_refuses_nonsense() -> None:
    with pytest.raises(BadTimeError, match="--duration"):
        parse_duration("soon", "--duration")


def test_plain_progress_lines_carry_rate_sent_errors_acked() -> None:
    stats = Stats()
    for _ in range(10):
        stats.add_sent()
    for _ in range(7):
        stats.add_acked(True)
    stats.add_acked(False)
    stats.add_error()
    snap = stats.snapshot()
    assert snap.in_flight == 2
    line = plain_line(snap, 12.0)
    for part in ("rate=12/s", "sent=10", "acked=7", "errors=2", "in_flight=2"):
        assert part in line


def test_plain_mode_when_not_a_tty_prints_lines_until_done() -> None:
    stats = Stats()
    stats.add_sent()
    stream = io.StringIO()
    progress = Progress(stats, stream, plain_every_s=0.05)
    assert not progress.live
    done = threading.Event()
    thread = threading.Thread(target=progress.run, args=(done,), name="test-progress")
    thread.start()
    threading.Event().wait(0.3)
    done.set()
    thread.join()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 3 and all("sent=1" in line for line in lines)
    assert "sent 1 messages" in progress.summary()


def test_rate_meter_measures_between_snapshots() -> None:
    stats = Stats()
    meter = RateMeter()
    first = stats.snapshot()
    meter.rate(first)
    for _ in range(50):
        stats.add_sent()
    second = stats.snapshot()
    assert meter.rate(second) == pytest.approx(50 / (second.elapsed_s - first.elapsed_s))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_panel_on_a_terminal_shows_the_counters() -> None:
    stats = Stats()
    for _ in range(3):
        stats.add_sent()
    stats.add_acked(True)
    stats.scenarios = ("garage-full",)
    stream = _Terminal()
    progress = Progress(stats, stream)
    assert progress.live
    done = threading.Event()
    done.set()  # one final refresh, then return
    progress.run(done)
    shown = stream.getvalue()
    for text in ("rate", "sent", "acked", "errors", "in flight", "garage-full"):
        assert text in shown
