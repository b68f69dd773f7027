"""Events go out strictly in id order; an id that is not there yet is waited for, briefly."""

from __future__ import annotations

import datetime as dt

from api.event_order import OrderedEvents
from rules.records import AlertRecord, EventRecord

_AT = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
_ALERT = AlertRecord(1, "aed-fault", "major", "firing", "darong-b", "aed", "a", "s", None, _AT, _AT)


def ev(*ids: int) -> list[EventRecord]:
    return [EventRecord(i, 1, "raised", _AT, None, None, _ALERT) for i in ids]


def ids(events: list[EventRecord]) -> list[int]:
    return [e.id for e in events]


def test_contiguous_ids_go_out_at_once() -> None:
    order = OrderedEvents(after=10, grace_s=2)
    assert ids(order.take(ev(11, 12, 13), now=0)) == [11, 12, 13]
    assert order.cursor == 13 and not order.waiting
    assert ids(order.take(ev(12, 13, 14), now=0)) == [14]  # never twice


def test_an_event_after_a_gap_waits_for_the_missing_one() -> None:
    order = OrderedEvents(after=10, grace_s=2)
    assert ids(order.take(ev(11, 13, 14), now=0)) == [11]  # 12 is still committing
    assert order.waiting
    assert ids(order.take(ev(13, 14), now=1)) == []
    assert ids(order.take(ev(12, 13, 14), now=1.5)) == [12, 13, 14]  # it came: all in order
    assert not order.waiting


def test_a_gap_that_never_fills_is_skipped_after_the_grace() -> None:
    order = OrderedEvents(after=10, grace_s=2)
    assert ids(order.take(ev(12, 13), now=0)) == []  # 11 was rolled back
    assert ids(order.take(ev(12, 13), now=1.9)) == []
    assert ids(order.take(ev(12, 13), now=2.0)) == [12, 13]
    assert ids(order.take(ev(15), now=3.0)) == []  # a new gap starts its own clock
    assert ids(order.take(ev(15), now=5.0)) == [15]
