"""Headers on every answer.

Every page and response: a strict Content-Security-Policy (scripts, styles, images and
connections from this origin only; no inline script; never framed), `X-Frame-Options: DENY` for
browsers without `frame-ancestors`, no Referer leaving the site (a page URL may carry a device
id), and never sniffed into another content type. A response that sets its own policy keeps it
(the docs page allows its one inline script by hash: api/docs_page.py).

Every `/api/` answer also: never cached by a proxy (they carry a token's view of the alerts).
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(script_src: str = "'self'") -> str:
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {script_src}",
            # Style sheets from this origin only; `style` attributes are allowed (the pages set a
            # few: spacing, chart legend swatches, and uPlot's and Swagger UI's own), <style>
            # elements are not. An attribute cannot load anything img-src does not allow.
            "style-src 'self'",
            "style-src-attr 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


SECURITY_HEADERS: Final = {
    "content-security-policy": content_security_policy(),
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}
API_HEADERS: Final = {"cache-control": "no-store"}


class ApiHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = dict(SECURITY_HEADERS)
        if str(scope.get("path", "")).startswith("/api/"):
            wanted.update(API_HEADERS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
