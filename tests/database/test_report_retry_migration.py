"""Revision 0004 (report sending retries) on a `reports` table that 0003 left with a kept report:
the row keeps its sending record, has nothing to retry, and lists with the new fields' defaults;
two API processes that find the same retry due take it once. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from api.reports.archive import ReportArchive
from api.reports.periods import choose
from api.routes.reports import KeptReportPublic
from rules.database import make_engine
from rules.database.migrate import current, differences, head, upgrade

NOW = dt.datetime(2026, 11, 1, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_a_kept_report_of_0003_is_upgraded_and_listed_with_its_sending_state(engine: Engine) -> None:
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO reports (kind, period_kind, period_start, period_end, scope, lang, created_at,"
                " status, files, sent) VALUES ('aed-readiness', 'month', :start, :end, '', 'zh', :now,"
                " 'kept', :files, :sent)"
            ),
            {
                "start": dt.datetime(2026, 10, 1), "end": dt.datetime(2026, 11, 1), "now": dt.datetime(2026, 11, 1, 3),
                "files": '["a.pdf"]', "sent": '[{"receiver": "city", "ok": false, "error": "HTTP 503"}]',
            },
        )  # fmt: skip

    assert upgrade(engine).after == head() == current(engine) == "0004"
    assert differences(engine) == []
    archive = ReportArchive(engine, None)
    (kept,) = archive.list()
    assert (kept.sent, kept.retry_at, kept.sending) == (
        [{"receiver": "city", "ok": False, "error": "HTTP 503"}], None, None,
    )  # fmt: skip
    assert archive.due(NOW + dt.timedelta(days=365)) == []  # never retried: it had no retry schedule
    listed = KeptReportPublic.model_validate(kept, from_attributes=True).model_dump()
    assert listed["sent"] == [
        {"receiver": "city", "ok": False, "error": "HTTP 503", "attempts": 1, "last_attempt_at": None,
         "next_attempt_at": None, "gave_up": False},
    ]  # fmt: skip


def test_a_due_retry_is_taken_by_one_process(engine: Engine) -> None:
    upgrade(engine)
    first, second = ReportArchive(engine, None), ReportArchive(engine, None)
    report_id = first.claim("alert-handling", choose("week", "Asia/Shanghai", NOW), None, "en", NOW)
    assert report_id is not None
    first.record_sent(report_id, [], NOW + dt.timedelta(minutes=1), {"title": "t", "retry": [60]})
    assert first.due(NOW) == []
    ((found, seen),) = second.due(NOW + dt.timedelta(minutes=1))
    assert (found, seen) == (report_id, NOW + dt.timedelta(minutes=1))
    lease = NOW + dt.timedelta(minutes=11)
    assert [first.take(report_id, seen, lease), second.take(report_id, seen, lease)] == [True, False]
    assert second.due(NOW + dt.timedelta(minutes=10)) == []
    assert second.due(lease) == [(report_id, lease)]
