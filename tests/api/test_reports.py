"""Reports against a real influxd (1.x) and a real alert store filled with a known month
(tests/api/report_month.py): every figure of the AED readiness and alert handling reports checked
against values computed by hand, the PDF read back page by page, the CSV and zip downloads, roles."""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest
from sqlalchemy import Engine

from api.influx import InfluxQueryClient
from api.roles import Role
from louyu.testing.services import Influxd
from tests.api import report_month as m
from tests.api.conftest import Api

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
AED = "/api/v1/reports/aed-readiness"
ALERTS = "/api/v1/reports/alert-handling"
# Any moment inside October, Shanghai time, picks the month.
OCTOBER = {"period": "month", "start": "2026-10-15T12:00:00+08:00"}


@pytest.fixture
def reports_api(start_api: Callable[..., Api], influxd: Influxd, engine: Engine) -> Api:
    m.write_influx(influxd)
    m.fill_store(engine)
    return start_api(history=InfluxQueryClient(influxd.url, "v1", "louyu"))


def _csv(api: Api, path: str, table: str, **params: str) -> list[dict[str, str]]:
    with api.client(Role.OPERATOR) as client:
        response = client.get(path, params={**OCTOBER, **params, "format": "csv", "table": table}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == f'attachment; filename="{table}"'
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _pct(not_ready_s: float, aeds: int = 1) -> str:
    whole = m.MONTH_S * aeds
    return str(round(100 * (whole - not_ready_s) / whole, 3))


LOBBY_DOWN = 3600 + 721 + 301 + 48 * 3600  # offline inside the month, two openings, pads expired
LIFT_DOWN = 4 * 3600 + 1800  # fault and battery low overlapping (00:00-04:00), offline 30 min


def test_aed_readiness_figures(reports_api: Api) -> None:
    b = {"building": m.BUILDING}
    rows = {r["device"]: r for r in _csv(reports_api, AED, "aed-readiness-readiness-per-aed.csv", **b)}
    assert set(rows) == {m.LOBBY, m.LIFT}
    assert rows[m.LOBBY]["ready_pct"] == _pct(LOBBY_DOWN)
    assert rows[m.LOBBY]["not_ready_min"] == str(round(LOBBY_DOWN / 60, 1))
    assert (rows[m.LOBBY]["faults"], rows[m.LOBBY]["outages"], rows[m.LOBBY]["openings"]) == ("0", "0", "2")
    assert rows[m.LIFT]["ready_pct"] == _pct(LIFT_DOWN)
    assert rows[m.LIFT]["not_ready_min"] == "270.0"
    assert (rows[m.LIFT]["faults"], rows[m.LIFT]["outages"], rows[m.LIFT]["openings"]) == ("1", "1", "0")

    (building,) = _csv(reports_api, AED, "aed-readiness-readiness-per-building.csv", **b)
    assert building == {
        "building": m.BUILDING,
        "aeds": "2",
        "ready_pct": _pct(LOBBY_DOWN + LIFT_DOWN, 2),
        "worst_pct": _pct(LOBBY_DOWN),
        "always_ready": "0",
    }

    outages = _csv(reports_api, AED, "aed-readiness-faults-faults-outages.csv", **b)
    assert [(r["device"], r["cause"], r["start"], r["end"], r["duration_min"]) for r in outages] == [
        (m.LOBBY, "aed-offline", "2026-09-30 23:00:00", "2026-10-01 01:00:00", "60.0"),
        (m.LIFT, "aed-fault", "2026-10-10 08:00:00", "2026-10-10 11:00:00", "180.0"),
        (m.LIFT, "aed-offline", "2026-10-20 20:00:00", "2026-10-20 20:30:00", "30.0"),
    ]

    openings = _csv(reports_api, AED, "aed-readiness-response-cabinet-openings.csv", **b)
    assert openings == [
        {"building": m.BUILDING, "device": m.LOBBY, "opened": "2026-10-05 09:59:58", "alert": "2026-10-05 10:00:00",
         "acknowledged": "2026-10-05 10:00:40", "acknowledged_by": "control-1", "on_site": "2026-10-05 10:03:00",
         "closed": "2026-10-05 10:12:00", "alert_s": "1.5", "ack_s": "41.5", "on_site_s": "181.5", "closed_min": "12.0"},
        {"building": m.BUILDING, "device": m.LOBBY, "opened": "2026-10-15 13:59:59", "alert": "2026-10-15 14:00:00",
         "acknowledged": "2026-10-15 14:00:25", "acknowledged_by": "patrol-3", "on_site": "2026-10-15 14:00:25",
         "closed": "2026-10-15 14:05:00", "alert_s": "0.5", "ack_s": "25.5", "on_site_s": "25.5", "closed_min": "5.0"},
    ]  # fmt: skip

    calendar = _csv(reports_api, AED, "aed-readiness-calendar-expiry-calendar.csv", **b)
    assert [(r["device"], r["item"], r["date"], r["days_left"], r["battery_pct"]) for r in calendar] == [
        (m.LOBBY, "pads", "2026-10-29", "-3", ""),
        (m.LIFT, "battery", "2026-11-30", "29", "50.0"),
        (m.LIFT, "pads", "2027-01-15", "75", ""),
    ]

    # The whole area: every registered AED, the others ready throughout.
    area_rows = _csv(reports_api, AED, "aed-readiness-readiness-area.csv")
    aeds = len(reports_api_registry_aeds(reports_api))
    assert area_rows == [
        {"aeds": str(aeds), "ready_pct": _pct(LOBBY_DOWN + LIFT_DOWN, aeds), "worst_pct": _pct(LOBBY_DOWN),
         "always_ready": str(aeds - 2)}
    ]  # fmt: skip


def reports_api_registry_aeds(api: Api) -> list[Any]:
    from collector.registry import Registry

    return Registry.load().devices("aed")


def test_alert_handling_figures(reports_api: Api) -> None:
    b = {"building": m.BUILDING}
    rows = _csv(reports_api, ALERTS, "alert-handling-handling-by-rule.csv", **b)
    picked = [
        (r["rule"], r["severity"], r["raised"], r["acknowledged"], r["ack_median_s"], r["ack_p90_s"],
         r["ack_worst_s"], r["resolved"], r["resolve_median_s"], r["resolve_p90_s"], r["resolve_worst_s"],
         r["escalations"], r["flapping"], r["silenced"])
        for r in rows
    ]  # fmt: skip
    assert picked == [
        # Nearest rank: of 25 and 40 s, the median is 25 and the p90 40.
        ("aed-cabinet-open", "critical", "2", "2", "25.0", "40.0", "40.0", "2", "301.0", "721.0", "721.0", "0", "0", "0"),
        ("aed-fault", "major", "1", "1", "1200.0", "1200.0", "1200.0", "1", "10800.0", "10800.0", "10800.0", "1", "0", "0"),
        # The lobby's outage began in September: not counted in October's handling.
        ("aed-offline", "major", "1", "0", "", "", "", "1", "1800.0", "1800.0", "1800.0", "0", "0", "0"),
        ("aed-battery-low", "minor", "1", "0", "", "", "", "1", "7200.0", "7200.0", "7200.0", "0", "1", "0"),
    ]  # fmt: skip
    (silence,) = _csv(reports_api, ALERTS, "alert-handling-silences-silences.csv", **b)
    assert (silence["matches"], silence["starts_at"], silence["ends_at"], silence["hours_in_period"]) == (
        "building=darong-b kind=aed", "2026-10-20 19:00", "2026-10-20 21:00", "2.0"
    )  # fmt: skip
    deliveries = _csv(reports_api, ALERTS, "alert-handling-deliveries-deliveries.csv", **b)
    assert [list(r.values()) for r in deliveries] == [
        ["city", "webhook", "1", "1", "0", "0", "0", "250.0", "250.0", "250.0"],
        # 4, 7 and 10 ms: median 7, p90 10; two deliveries needed more than one try.
        ["patrol", "mqtt", "4", "3", "2", "1", "0", "7.0", "10.0", "10.0"],
    ]


def test_pdf_pages_hold_the_texts_and_the_charts(reports_api: Api) -> None:
    for lang, words in (("zh", ("AED 就绪与响应报告", "每台 AED 的就绪率", "开箱与响应", "到期日历")),
                        ("en", ("AED readiness and response report", "Readiness per AED", "Cabinet openings and response", "Expiry calendar"))):  # fmt: skip
        with reports_api.client(Role.OPERATOR) as client:
            response = client.get(AED, params={**OCTOBER, "building": m.BUILDING, "lang": lang},
                                  headers={"Accept": "application/pdf"}, timeout=60)  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        SAMPLES.mkdir(parents=True, exist_ok=True)
        (SAMPLES / f"aed-readiness-{m.BUILDING}-2026-10-{lang}.pdf").write_bytes(response.content)
        reader = pypdf.PdfReader(io.BytesIO(response.content))
        pages = [page.extract_text() for page in reader.pages]
        assert len(pages) >= 2
        for n, text in enumerate(pages, start=1):
            # Every page names its report and its number.
            assert words[0] in text and (f"第 {n} 页" if lang == "zh" else f"Page {n}") in text
        whole = "\n".join(pages)
        for word in words:
            assert word in whole, word
        assert m.LOBBY in whole and _pct(LOBBY_DOWN) in whole
        # The charts are images on the pages: the readiness bars and the timeline on page 1.
        assert len(reader.pages[0].images) >= 2
        assert sum(len(p.images) for p in reader.pages) >= 3
        # A4, portrait or landscape.
        for page in reader.pages:
            size = sorted((round(float(page.mediabox.width)), round(float(page.mediabox.height))))
            assert size == [595, 842]


def test_zip_holds_every_table_and_html_links_them(reports_api: Api) -> None:
    with reports_api.client(Role.ADMIN) as client:
        archive = client.get(ALERTS, params={**OCTOBER, "format": "zip"}, timeout=60)
        page = client.get(ALERTS, params={**OCTOBER, "lang": "en"}, timeout=60)
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert names == [
        "alert-handling-handling-by-rule.csv",
        "alert-handling-silences-silences.csv",
        "alert-handling-deliveries-deliveries.csv",
    ]
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert (
        "Alert handling report" in html
        and 'alt="Bar chart of time to acknowledge: highest 1200 s (aed-fault' in html
    )
    for name in names:
        assert f"table={name}" in html
    assert "data:image/png;base64," in html


def test_only_operators_and_up_and_bad_requests(reports_api: Api) -> None:
    for role, status in (
        (Role.VIEWER, 403),
        (Role.PATROL, 403),
        (Role.INTEGRATION, 403),
        (Role.OPERATOR, 200),
    ):
        with reports_api.client(role) as client:
            assert client.get(ALERTS, params={**OCTOBER, "format": "zip"}, timeout=60).status_code == status
    with reports_api.client(Role.OPERATOR) as client:
        assert httpx.get(f"{reports_api.url}{ALERTS}", timeout=10).status_code == 401
        assert client.get("/api/v1/reports/nothing").status_code == 404
        assert client.get(AED, params={"building": "nowhere"}).status_code == 404
        assert client.get(AED, params={"period": "custom"}).status_code == 400
        custom = {
            "period": "custom",
            "start": "2026-10-01T00:00:00+08:00",
            "end": "2027-10-01T00:00:00+08:00",
        }
        assert client.get(AED, params=custom).status_code == 400
        assert client.get(AED, params={**OCTOBER, "format": "csv"}).status_code == 400
        assert client.get(AED, params={**OCTOBER, "format": "csv", "table": "no-such.csv"}).status_code == 404


def test_every_kind_renders_in_every_format(reports_api: Api) -> None:
    """The parking, canteen and data quality kinds (their figures: tests/reports) through the same
    route and renderers."""
    with reports_api.client(Role.OPERATOR) as client:
        for kind in ("parking-canteen", "data-quality"):
            for fmt, media in (("html", "text/html"), ("pdf", "application/pdf"), ("zip", "application/zip")):
                response = client.get(
                    f"/api/v1/reports/{kind}", params={**OCTOBER, "format": fmt}, timeout=120
                )
                assert response.status_code == 200, (kind, fmt, response.text[:300])
                assert response.headers["content-type"].startswith(media)
            pdf = client.get(
                f"/api/v1/reports/{kind}", params={**OCTOBER, "format": "pdf", "lang": "en"}, timeout=120
            )
            assert "report" in pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()


def test_downloads_through_compression(reports_api: Api) -> None:
    """With `Accept-Encoding: gzip`: a CSV table comes gzipped and decodes to the same bytes; the
    PDF (deflated inside already) and the zip go out as they are, each still opening."""
    table = {**OCTOBER, "format": "csv", "table": "aed-readiness-readiness-per-aed.csv"}
    with reports_api.client(Role.OPERATOR) as client:
        with client.stream(
            "GET", AED, params=table, headers={"Accept-Encoding": "gzip"}, timeout=60
        ) as zipped:
            wire = b"".join(zipped.iter_raw())
        plain = client.get(AED, params=table, headers={"Accept-Encoding": "identity"}, timeout=60)
        assert zipped.status_code == plain.status_code == 200, plain.text[:300]
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["content-disposition"] == plain.headers["content-disposition"]
        assert gzip.decompress(wire) == plain.content
        pdf, archive = (
            client.get(
                ALERTS, params={**OCTOBER, "format": fmt}, headers={"Accept-Encoding": "gzip"}, timeout=120
            )
            for fmt in ("pdf", "zip")
        )
    assert pdf.status_code == archive.status_code == 200
    assert "content-encoding" not in pdf.headers
    assert "content-encoding" not in archive.headers
    assert pypdf.PdfReader(io.BytesIO(pdf.content)).pages
    assert zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
