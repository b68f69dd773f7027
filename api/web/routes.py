"""The pages: the operators' dashboard, the public board and its JSON, the shipped assets.

`mount(app)` adds them to the API app. The pages themselves hold no data and need no token; the
dashboard's script signs in with a token kept in the tab's sessionStorage and calls the API like
any client. The board's JSON is public by design: canteen load and free parking only.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from api.deps import authenticated, get_state
from api.roles import GRANTS
from api.state import ApiState
from api.tokens import TokenInfo
from api.web.assets import VersionedStatic, tree_version
from api.web.board_models import Board
from api.web.board_service import BoardService, InfluxSeries
from api.web.i18n import LANG_COOKIE, LANGS, MESSAGES, pick_lang
from collector.area_clock import REAL, wall_ms

HERE: Final = Path(__file__).parent
STATIC_PATH: Final = "/static/web"
STATIC_DIR: Final = HERE / "static"
# The pages link their files under this versioned path (api/web/assets.py): cached for a year.
STATIC_VERSION: Final = tree_version(STATIC_DIR)
VERSIONED_STATIC_PATH: Final = f"{STATIC_PATH}/v/{STATIC_VERSION}"
BOARD_JSON_PATH: Final = "/api/v1/board"
# Browsers and proxies may reuse the board for this long; the server rebuilds it at most this often.
BOARD_MAX_AGE_S: Final = 5
# Pages are shells without data: a minute of caching is harmless. They name their files by version
# (api/web/assets.py), so a new deployment reaches browsers within that minute.
PAGE_MAX_AGE_S: Final = 60

templates = Jinja2Templates(directory=str(HERE / "templates"))

LangQuery = Annotated[str | None, Query(pattern="^(zh|en)$", description="page language: zh or en")]
# The dashboard's layout: `wall` for the control room's 1920x1080 screen (dark, compact, the site
# plan beside the alerts), `desk` (the default) for a desk or a phone.
ViewQuery = Annotated[str | None, Query(pattern="^(wall|desk)$", description="layout: wall or desk")]


class Session(BaseModel):
    """Who the dashboard is signed in as, and what the role may do (decides the buttons shown)."""

    name: str
    role: str
    permissions: list[str]


def _timezone(request: Request) -> str:
    state: ApiState | None = getattr(request.app.state, "louyu", None)
    return state.registry.timezone if state is not None else "Asia/Shanghai"


def _clock(request: Request, timezone: str) -> dict[str, object]:
    """The area's clock for the page (api/web/static/area_clock.js): a real moment and the area's
    moment then, and the speed, so the page can tell a demo's simulated time and run it."""
    state: ApiState | None = getattr(request.app.state, "louyu", None)
    clock = state.area_clock if state is not None else REAL
    real_ms = wall_ms()
    area = clock.area_now(dt.datetime.fromtimestamp(real_ms / 1000, dt.UTC), ZoneInfo(timezone))
    return {
        "simulated": clock.simulated,
        "speed": clock.speed,
        "real_ms": real_ms,
        "area_ms": clock.area_ms(real_ms),
        "time": f"{area:%H:%M}",
    }


def _page(request: Request, template: str, lang_query: str | None, wall: bool = False) -> HTMLResponse:
    lang = pick_lang(lang_query, request.cookies.get(LANG_COOKIE))
    other = next(code for code in LANGS if code != lang)
    timezone = _timezone(request)
    config = {
        "lang": lang,
        "timezone": timezone,
        "board_json": BOARD_JSON_PATH,
        "api": "/api/v1",
        "clock": _clock(request, timezone),
    }
    response = templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "other_lang": other,
            "t": MESSAGES[lang],
            "static": VERSIONED_STATIC_PATH,
            "config": config,
            "wall": wall,
        },
    )
    if lang_query is not None:
        # Remember an explicit choice for the next pages, for a year, on this path only.
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    response.headers["Cache-Control"] = f"private, max-age={PAGE_MAX_AGE_S}"
    response.headers["Vary"] = "Cookie"
    response.headers["Content-Language"] = "zh-CN" if lang == "zh" else "en"
    return response


def _new_board_service(state: ApiState) -> BoardService:
    series = InfluxSeries(state.history) if state.history is not None else None
    return BoardService(state.registry, state.devices, series, clock=state.clock, area_clock=state.area_clock)


def board_service(request: Request) -> BoardService:
    """One board service per app (built by `mount`, or on first use from the API's state)."""
    service: BoardService | None = getattr(request.app.state, "louyu_board", None)
    if service is None:
        service = request.app.state.louyu_board = _new_board_service(get_state(request))
    return service


router = APIRouter()


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def dashboard_page(request: Request, lang: LangQuery = None, view: ViewQuery = None) -> HTMLResponse:
    return _page(request, "dashboard.html", lang, wall=view == "wall")


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def reports_page(request: Request, lang: LangQuery = None) -> HTMLResponse:
    """The reports (docs/reports.md): made on demand with the tab's token, and the kept ones."""
    return _page(request, "reports.html", lang)


@router.get("/patrol", response_class=HTMLResponse, include_in_schema=False)
def patrol_page(request: Request, lang: LangQuery = None) -> HTMLResponse:
    """The patrol's phone: what this patrol is paged about first, acknowledge and respond in two taps."""
    return _page(request, "patrol.html", lang)


@router.get("/board", response_class=HTMLResponse, include_in_schema=False)
def board_page(request: Request, lang: LangQuery = None) -> HTMLResponse:
    response = _page(request, "board.html", lang)
    # Public, same for everyone with the same language cookie.
    response.headers["Cache-Control"] = f"public, max-age={PAGE_MAX_AGE_S}"
    return response


@router.get(
    BOARD_JSON_PATH,
    tags=["public"],
    summary="The public board: canteen load, today's curve, typical day, best time to go; free parking",
    description=(
        "No token. Rebuilt at most every few seconds whatever the number of readers; "
        "`Cache-Control: public, max-age=5`. Holds nothing sensitive: no alerts, no AEDs, no batteries."
    ),
    response_class=Response,
    responses={200: {"model": Board, "content": {"application/json": {}}}},
)
async def board_json(service: Annotated[BoardService, Depends(board_service)]) -> Response:
    body, age = await service.json()
    return Response(
        body,
        media_type="application/json",
        headers={
            "Cache-Control": f"public, max-age={max(int(BOARD_MAX_AGE_S - age), 0)}",
            "Age": str(int(age)),
        },
    )


@router.get(
    "/api/v1/session",
    tags=["auth"],
    summary="The calling token's name, role and permissions",
    response_model=Session,
)
def session(token: Annotated[TokenInfo, Depends(authenticated)]) -> Session:
    return Session(
        name=token.name,
        role=token.role.value,
        permissions=sorted(p.value for p in GRANTS[token.role]),
    )


def mount(app: FastAPI, state: ApiState | None = None) -> None:
    """Add the dashboard, the public board and their assets to the API app."""
    if state is not None:
        app.state.louyu_board = _new_board_service(state)
    app.include_router(router)
    # The versioned mount first: `/static/web` would otherwise take `/static/web/v/...` as a file path.
    app.mount(
        f"{STATIC_PATH}/v",
        VersionedStatic(STATIC_DIR, STATIC_VERSION),
        name="web-static-versioned",
    )
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="web-static")

    if not any(getattr(route, "path", None) == "/" for route in app.router.routes):

        @app.get("/", include_in_schema=False)
        def root() -> RedirectResponse:
            return RedirectResponse("/dashboard", status_code=307)
