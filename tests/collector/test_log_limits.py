"""The log rate limit: first N per key per window, then one summary line with the count held back."""

from __future__ import annotations

from typing import Any

from collector.log_limits import OTHER_KEY, LogThrottle


class Lines:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))


def test_first_n_per_key_then_a_summary_when_the_window_ends() -> None:
    lines = Lines()
    throttle = LogThrottle("message rejected", "reason", burst=3, window_s=60.0, logger=lines)
    allowed = [throttle.allow("not_json", 100.0 + n * 0.01) for n in range(1000)]
    assert allowed == [True] * 3 + [False] * 997
    assert throttle.allow("wrong_type", 101.0), "each key has its own allowance"
    assert lines.lines == []
    throttle.roll(159.9)
    assert lines.lines == [], "the window has not ended"
    throttle.roll(160.0)
    assert lines.lines == [
        (
            "message rejected: further lines suppressed",
            {"reason": "not_json", "suppressed": 997, "window_s": 60.0},
        )
    ]
    assert throttle.suppressed_total == 997
    throttle.roll(500.0)
    assert len(lines.lines) == 1, "a summary is logged once"
    assert throttle.allow("not_json", 500.0), "a new window opens with the next event"


def test_the_next_event_after_the_window_logs_the_summary_too() -> None:
    lines = Lines()
    throttle = LogThrottle("unknown device", "building", burst=1, window_s=10.0, logger=lines)
    assert throttle.allow("darong-a", 0.0)
    assert not throttle.allow("darong-a", 1.0)
    assert throttle.allow("darong-a", 10.0)
    assert lines.lines == [
        (
            "unknown device: further lines suppressed",
            {"building": "darong-a", "suppressed": 1, "window_s": 10.0},
        )
    ]


def test_invented_keys_cannot_open_windows_of_their_own() -> None:
    lines = Lines()
    throttle = LogThrottle("unknown device", "building", burst=1, window_s=60.0, max_keys=5, logger=lines)
    allowed = sum(throttle.allow(f"fake-{n}", 0.0) for n in range(10_000))
    assert allowed == 5 + 1, "five keys, then one line for every other key together"
    throttle.roll(60.0)
    assert lines.lines == [
        (
            "unknown device: further lines suppressed",
            {"building": OTHER_KEY, "suppressed": 10_000 - 6, "window_s": 60.0},
        )
    ]
