"""Scheduled reports: a routing file's `reports:` entry made for the month just ended, kept in
the state directory and the `reports` table, sent to an apprise receiver (json://, a real HTTP
POST carrying the PDF as an attachment) and to a webhook receiver (signed, with the links), made
once however often it runs, listed and downloaded through the API; the APScheduler job fires on
the 1st at the entry's local time. Against a real influxd and a SQLite alert store."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pypdf
import pytest
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook

from api.app import create_app
from api.config import ApiConfig
from api.influx import InfluxQueryClient
from api.reports.schedule import ReportScheduler
from api.roles import Role
from api.server import ApiServer
from api.tokens import TokenStore
from collector.registry import Registry
from louyu.testing.services import Influxd
from rules.notify.config import parse_routing
from rules.notify.errors import RoutingFileError
from rules.store import AlertStore
from tests.api import report_month as m
from tests.api.report_receivers import Sink, serving

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123").decode()
# 03:00 on 1 November, Shanghai: the schedule's run for October.
NOW = dt.datetime(2026, 10, 31, 19, 0, tzinfo=dt.UTC)


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    with serving(server):
        yield server


def test_monthly_reports_are_made_kept_sent_and_downloaded(
    influxd: Influxd,
    engine: Engine,
    registry: Registry,
    tmp_path: Path,
    sink: Sink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m.write_influx(influxd)
    m.fill_store(engine)
    monkeypatch.setenv("REPORT_MAIL_URLS", f"json://127.0.0.1:{sink.server_address[1]}/mail")
    monkeypatch.setenv("CITY_SECRET", SECRET)
    routing = parse_routing(
        f"""
receivers:
  - name: facility-manager
    apprise: {{urls_env: REPORT_MAIL_URLS}}
  - name: city
    webhook: {{url: "{sink.url}/hook", secret_env: CITY_SECRET}}
reports:
  - kinds: [aed-readiness, alert-handling]
    every: month
    at: "03:00"
    building: {m.BUILDING}
    languages: [zh, en]
    receivers: [facility-manager, city]
    link_base: https://louyu.example.com
"""
    )
    app = create_app(
        ApiConfig(rate_per_s=1000, rate_burst=1000, seed_from_influx=False),
        store=AlertStore(engine), tokens=TokenStore(engine), registry=registry,
        history=InfluxQueryClient(influxd.url, "v1", "louyu"), clock=lambda: NOW, report_dir=tmp_path / "reports",
    )  # fmt: skip
    state = app.state.louyu
    scheduler = ReportScheduler(state.reports, state.archive, routing, lambda: NOW)

    made = scheduler.run(0)
    assert len(made) == 4  # two kinds, two languages
    assert scheduler.run(0) == []  # made once, however often it runs (or however many processes)

    kept = state.archive.list()
    assert {(r.kind, r.lang, r.status) for r in kept} == {
        (kind, lang, "kept") for kind in ("aed-readiness", "alert-handling") for lang in ("zh", "en")
    }
    aed_zh = next(r for r in kept if r.kind == "aed-readiness" and r.lang == "zh")
    stem = "aed-readiness-darong-b-2026-10-01-month-zh"
    assert aed_zh.files == [f"{stem}.pdf", f"{stem}.zip"]
    assert (aed_zh.period_start, aed_zh.period_end) == (m.MONTH_START, m.MONTH_END)
    delivered = {"ok": True, "error": None, "attempts": 1, "last_attempt_at": NOW.isoformat(),
                 "next_attempt_at": None, "gave_up": False}  # fmt: skip
    assert aed_zh.sent == [
        {"receiver": "facility-manager", **delivered},
        {"receiver": "city", **delivered},
    ]
    assert aed_zh.retry_at is None
    pdf = (tmp_path / "reports" / str(aed_zh.id) / f"{stem}.pdf").read_bytes()
    assert "AED 就绪与响应报告" in pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()

    mails = [json.loads(body) for path, _, body in sink.received if path == "/mail"]
    hooks = [(headers, body) for path, headers, body in sink.received if path == "/hook"]
    assert len(mails) == len(hooks) == 4
    # The e-mail (apprise) carries the PDF itself.
    mail = next(x for x in mails if stem in json.dumps(x["attachments"]))
    (attachment,) = mail["attachments"]
    assert base64.b64decode(attachment["base64"]) == pdf
    # The webhook: signed as the alerts' webhooks are, with links to the kept files.
    headers, body = next((h, b) for h, b in hooks if json.loads(b)["id"] == aed_zh.id)
    headers = {k.lower(): v for k, v in headers.items()}
    stamp = dt.datetime.fromtimestamp(int(headers["webhook-timestamp"]), dt.UTC)
    # The signature (the test's clock is a month back, so `verify` would call it too old).
    assert Webhook(SECRET).sign(headers["webhook-id"], stamp, body.decode()) == headers["webhook-signature"]
    message = json.loads(body)
    assert (
        message["files"][f"{stem}.pdf"] == f"https://louyu.example.com/api/v1/reports/{aed_zh.id}/{stem}.pdf"
    )

    server = ApiServer(app, "127.0.0.1", 0)
    server.start()
    try:
        token = TokenStore(engine).create("op", Role.OPERATOR, NOW)[1]
        viewer = TokenStore(engine).create("viewer", Role.VIEWER, NOW)[1]
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            page = client.get("/api/v1/reports", params={"limit": 3}).json()
            assert [r["id"] for r in page["items"]] == sorted(made, reverse=True)[:3]
            assert page["next_cursor"] == str(page["items"][-1]["id"])
            download = client.get(f"/api/v1/reports/{aed_zh.id}/{stem}.pdf")
            assert download.status_code == 200 and download.content == pdf
            assert download.headers["content-type"] == "application/pdf"
            assert client.get(f"/api/v1/reports/{aed_zh.id}/other.pdf").status_code == 404
            assert client.get(f"/api/v1/reports/{aed_zh.id}/..%2F..%2Flouyu.db").status_code in (404, 422)
        refused = httpx.get(
            f"{server.url}/api/v1/reports", headers={"Authorization": f"Bearer {viewer}"}, timeout=10
        )
        assert refused.status_code == 403
    finally:
        server.stop()


def test_the_job_fires_on_the_first_at_the_local_time(engine: Engine, registry: Registry) -> None:
    routing = parse_routing(
        """
receivers:
  - name: city
    webhook: {url: "http://127.0.0.1:9/hook", secret_env: CITY_SECRET}
reports:
  - {kinds: [aed-readiness], every: month, at: "03:00", receivers: [city]}
  - {kinds: [alert-handling], every: week, receivers: [city]}
"""
    )
    app = create_app(ApiConfig(seed_from_influx=False), store=AlertStore(engine), tokens=TokenStore(engine),
                     registry=registry)  # fmt: skip
    state = app.state.louyu
    scheduler = ReportScheduler(state.reports, state.archive, routing, lambda: NOW)
    scheduler.start()
    try:
        jobs = dict(scheduler.jobs())
    finally:
        scheduler.stop()
    monthly, weekly = jobs["reports-0"], jobs["reports-1"]
    assert monthly is not None and weekly is not None
    assert (monthly.day, monthly.hour, monthly.minute, monthly.utcoffset()) == (
        1,
        3,
        0,
        dt.timedelta(hours=8),
    )
    assert (weekly.weekday(), weekly.hour, weekly.minute) == (0, 2, 0)


def test_an_unknown_kind_or_an_unfit_receiver_is_refused(engine: Engine, registry: Registry) -> None:
    with pytest.raises(RoutingFileError, match="patrol must be apprise or webhook"):
        parse_routing(
            "receivers: [{name: patrol, mqtt: {}}]\nreports: [{kinds: [aed-readiness], every: month, receivers: [patrol]}]\n"
        )
    routing = parse_routing("reports: [{kinds: [nothing], every: week}]\n")
    app = create_app(
        ApiConfig(seed_from_influx=False),
        store=AlertStore(engine),
        tokens=TokenStore(engine),
        registry=registry,
    )
    with pytest.raises(ValueError, match="unknown report kind"):
        ReportScheduler(app.state.louyu.reports, app.state.louyu.archive, routing, lambda: NOW)
