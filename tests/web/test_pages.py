"""The pages and assets as served by the real app: languages, caching, the session route, no CDN."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from api.roles import Role
from api.web.assets import tree_version
from api.web.i18n import MESSAGES, pick_lang
from api.web.routes import STATIC_DIR, STATIC_VERSION
from tests.web.a11y import contrast, parse_colour
from tests.web.conftest import WebApi

WEB = Path(__file__).resolve().parents[2] / "api" / "web"


def test_both_languages_have_the_same_words() -> None:
    assert MESSAGES["zh"].keys() == MESSAGES["en"].keys()
    assert all(MESSAGES["zh"].values()) and all(MESSAGES["en"].values())


def test_every_word_the_pages_use_exists() -> None:
    used: set[str] = set()
    for template in (WEB / "templates").glob("*.html"):
        used |= set(re.findall(r"t\['([a-z_.]+)'\]", template.read_text()))
    for script in (WEB / "static").glob("*.js"):
        used |= set(re.findall(r'\bt\("([a-z_.]+)"\)', script.read_text()))
    # Keys built at run time: "severity." + s, "state." + s, "role." + r, "aed." + state, ...
    for prefix, values in {
        "severity.": ("critical", "major", "minor", "warning", "info"),
        "state.": ("firing", "acknowledged", "resolved"),
        "role.": tuple(r.value for r in Role),
        "aed.": ("ready", "fault", "in_use", "service"),
        "status.": ("ok", "alerting", "silent", "offline", "unregistered"),
        "kind.": ("parking_space", "parking_lot", "aed", "canteen"),
        "load.": ("low", "medium", "high", "full"),
    }.items():
        used |= {prefix + v for v in values}
    assert len(used) > 80
    missing = sorted(used - MESSAGES["zh"].keys())
    assert missing == []


@pytest.mark.parametrize(
    ("query", "cookie", "expected"),
    [(None, None, "zh"), ("en", None, "en"), (None, "en", "en"), ("zh", "en", "zh"), ("fr", "xx", "zh")],
)
def test_pick_lang(query: str | None, cookie: str | None, expected: str) -> None:
    assert pick_lang(query, cookie) == expected


def test_no_asset_from_the_internet() -> None:
    """The control room may have no internet: every script, style and font is ours."""
    for path in [*(WEB / "templates").glob("*.html"), *(WEB / "static").glob("*.js"), WEB / "static/app.css"]:
        text = path.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path
        assert "@import" not in text and "url(http" not in text, path
        assert not re.search(r"""\bimport\b[^;\n]*["']https?://""", text), path
    vendor = WEB / "static" / "vendor"
    assert (vendor / "uPlot.iife.min.js").stat().st_size > 40_000
    assert "MIT License" in (vendor / "uPlot.LICENSE.txt").read_text()


def test_main_colour_pairs_meet_wcag_aa() -> None:
    css = (WEB / "static" / "app.css").read_text()
    var = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{3,6})", css))
    pairs = [
        ("fg", "bg"),
        ("fg", "surface"),
        ("muted", "surface"),
        ("muted", "bg"),
        ("accent", "surface"),
        ("accent-fg", "accent"),
        ("ok", "ok-bg"),
        ("bad", "bad-bg"),
        ("bad", "surface"),
        *[(f"sev-{s}-fg", f"sev-{s}") for s in ("critical", "major", "minor", "warning", "info")],
        ("sev-critical", "surface"),  # the banner's button
        ("sev-warning-fg", "sev-warning"),
    ]
    ratios = {pair: contrast(var[pair[0]], var[pair[1]]) for pair in pairs}
    assert {pair: round(r, 2) for pair, r in ratios.items() if r < 4.5} == {}
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert parse_colour("rgb(10, 20, 30)") == (10, 20, 30)


def test_pages_in_chinese_by_default_and_english_on_request(web: WebApi) -> None:
    with httpx.Client(base_url=web.url, timeout=10) as client:
        page = client.get("/dashboard")
        assert page.status_code == 200
        assert '<html lang="zh-CN">' in page.text
        assert "访问令牌" in page.text
        assert page.headers["content-language"] == "zh-CN"

        english = client.get("/dashboard", params={"lang": "en"})
        assert '<html lang="en">' in english.text
        assert "Access token" in english.text
        assert "louyu_lang=en" in english.headers["set-cookie"]
        # The cookie keeps the choice on the next page, the board included.
        assert "Canteen and parking" in client.get("/board").text
        assert client.get("/dashboard", params={"lang": "xx"}).status_code == 422


def test_root_leads_to_the_dashboard(web: WebApi) -> None:
    with httpx.Client(base_url=web.url, timeout=10) as client:
        response = client.get("/")
        assert response.status_code == 307
        assert response.headers["location"] == "/dashboard"


def test_board_page_and_assets_need_no_token(web: WebApi) -> None:
    with httpx.Client(base_url=web.url, timeout=10) as client:
        board = client.get("/board")
        assert board.status_code == 200
        assert board.headers["cache-control"] == "public, max-age=60"
        for asset in re.findall(r'(?:src|href)="(/static/web/[^"]+)"', board.text):
            response = client.get(asset)
            assert response.status_code == 200, asset
        assert (
            client.get("/static/web/vendor/uPlot.iife.min.js")
            .headers["content-type"]
            .startswith(("application/javascript", "text/javascript"))
        )
        assert client.get("/static/web/../routes.py").status_code == 404


def test_session_says_who_and_what_the_role_may_do(web: WebApi) -> None:
    with web.client() as anonymous:
        assert anonymous.get("/api/v1/session").status_code == 401
    with web.client(Role.PATROL) as patrol:
        body = patrol.get("/api/v1/session").json()
    assert body["role"] == "patrol"
    assert body["name"].startswith("patrol")
    assert set(body["permissions"]) == {"read", "events", "ack"}
    with web.client(Role.OPERATOR) as operator:
        assert "resolve" in operator.get("/api/v1/session").json()["permissions"]


def test_the_board_json_route_is_documented_as_public(web: WebApi) -> None:
    with httpx.Client(base_url=web.url, timeout=10) as client:
        spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/board"]["get"]
    assert "public" in operation["tags"]
    assert "security" not in operation
    assert "/dashboard" not in spec["paths"]


def test_static_files_are_versioned_compressed_and_cached_for_a_year(web: WebApi) -> None:
    """Over real HTTP (uvicorn): the pages link versioned URLs; those come gzip-compressed with
    `immutable`; a module's relative imports stay under the same version."""
    with httpx.Client(base_url=web.url, timeout=10) as client:
        page = client.get("/dashboard").text
        assets = re.findall(r'(?:src|href)="(/static/web/[^"]+)"', page)
        assert assets and all(a.startswith(f"/static/web/v/{STATIC_VERSION}/") for a in assets), assets
        script = next(a for a in assets if a.endswith("/dashboard.js"))
        response = client.get(script, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        wire = int(response.headers.get("content-length") or len(response.content))
        assert "./api.js" in response.text  # httpx decoded it: it is the script
        plain = (STATIC_DIR / "dashboard.js").read_bytes()
        assert response.content == plain
        # uPlot compresses to well under half.
        uplot = client.get(f"/static/web/v/{STATIC_VERSION}/vendor/uPlot.iife.min.js")
        raw = client.get(
            f"/static/web/v/{STATIC_VERSION}/vendor/uPlot.iife.min.js",
            headers={"Accept-Encoding": "identity"},
        )
        assert "content-encoding" not in raw.headers
        assert uplot.headers["content-encoding"] == "gzip"
        assert uplot.num_bytes_downloaded < len(raw.content) / 2
        assert wire < len(plain)
        # The sibling a module imports, by the relative path the browser resolves.
        assert (
            client.get(script.replace("dashboard.js", "api.js"))
            .headers["cache-control"]
            .endswith("immutable")
        )
        # An older version (a page cached across a deployment) still loads, without the year's promise.
        old = client.get("/static/web/v/000000000000/app.css")
        assert old.status_code == 200
        assert old.headers["cache-control"] == "no-cache"
        assert client.get(f"/static/web/v/{STATIC_VERSION}/../routes.py").status_code == 404
        assert client.get(f"/static/web/v/{STATIC_VERSION}/nothing.js").status_code == 404


def test_the_version_follows_the_content(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("one")
    first = tree_version(tmp_path)
    (tmp_path / "a.js").write_text("two")
    assert tree_version(tmp_path) != first
