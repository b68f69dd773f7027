"""`GET /api/v1/alerts?q=` finds an alert by the words of its zh summary, through the real app on
uvicorn and its SQLite store (the store's search on PostgreSQL too: tests/rules/test_alert_text_search.py)."""

from __future__ import annotations

import datetime as dt

from api.roles import Role
from rules.store import NewAlert
from tests.api.conftest import Api


def test_q_matches_the_zh_and_en_summaries(api: Api) -> None:
    event = api.store.raise_alert(
        NewAlert(
            "aed-cabinet-open",
            "critical",
            "darong-b",
            "aed",
            "aed-b-1f-lobby",
            "AED cabinet opened at aed-b-1f-lobby",
            True,
            {
                "summary_zh": "B 座大堂 AED 柜门已打开",
                "summary_en": "AED cabinet opened in the Tower B lobby",
            },
        ),
        dt.datetime.now(dt.UTC),
    )
    assert event is not None
    with api.client(Role.VIEWER) as client:
        for q, expected in (
            ("柜门已打开", [event.alert.id]),
            ("tower b lobby", [event.alert.id]),
            ("餐厅", []),
        ):
            body = client.get("/api/v1/alerts", params={"q": q}).json()
            assert [a["id"] for a in body["items"]] == expected, q
