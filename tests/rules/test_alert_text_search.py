"""The alert list's text search finds an alert by either language's summary (labels `summary_zh`
and `summary_en`), not only by the main summary. On SQLite and PostgreSQL (the `store` fixture),
and through the API's `q` on the real app."""

from __future__ import annotations

import datetime as dt

from rules.records import AlertRecord
from rules.store import AlertStore, NewAlert
from tests.rules.conftest import T0

LABELS = {
    "floor": "地下二层",
    "summary_zh": "B 座一楼大堂前台旁的 AED 柜门已打开",
    "summary_en": "AED cabinet opened: Tower B lobby, beside reception",
}


def raise_two(store: AlertStore) -> tuple[AlertRecord, AlertRecord]:
    # The main summary is the English one; a second alert has no per-language labels at all.
    first = store.raise_alert(
        NewAlert(
            "aed-cabinet-open",
            "critical",
            "darong-b",
            "aed",
            "aed-b-1f-lobby",
            "AED cabinet opened at aed-b-1f-lobby",
            True,
            dict(LABELS),
        ),
        T0,
    )
    other = store.raise_alert(
        NewAlert(
            "canteen-crowded",
            "warning",
            "darong-b",
            "canteen",
            "main-hall",
            "Canteen crowded",
            0.97,
            {"summary_en": "Canteen crowded: 97%"},
        ),
        T0 + dt.timedelta(minutes=1),
    )
    assert first is not None and other is not None
    return first.alert, other.alert


def found(store: AlertStore, text: str) -> list[int]:
    return [a.id for a in store.list_alerts(text=text, limit=50)[0]]


def test_text_search_reads_both_languages_summaries(store: AlertStore) -> None:
    aed, canteen = raise_two(store)
    # Words only the zh summary holds: before, the search read the English summary alone.
    assert found(store, "柜门已打开") == [aed.id]
    assert found(store, "大堂前台") == [aed.id]
    # Words only the en label holds (the main summary says neither), in any case.
    assert found(store, "BESIDE RECEPTION") == [aed.id]
    assert found(store, "97%") == [canteen.id]
    # The main summary, device, building and rule still match as before.
    assert found(store, "cabinet opened at") == [aed.id]
    assert found(store, "main-hall") == [canteen.id]
    assert sorted(found(store, "darong-b")) == sorted([aed.id, canteen.id])
    # A label that is not a summary is not searched, and a miss is a miss.
    assert found(store, "地下二层") == []
    assert found(store, "餐厅") == []
    # LIKE's wildcards are taken literally in the labels too.
    assert found(store, "%") == [canteen.id]
    assert found(store, "_") == []
