"""The docs page (`/docs`): Swagger UI served from this process, never from a CDN, so that it
works on a site without internet access. The assets come from the `swagger-ui-bundle-v2` package."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.response_headers import content_security_policy

ASSETS = "/docs/assets"


def swagger_assets() -> Path | None:
    spec = importlib.util.find_spec("swagger_ui_bundle")
    if spec is None or spec.origin is None:
        return None
    vendor = Path(spec.origin).parent / "vendor"
    found = sorted(vendor.glob("swagger-ui-*"))
    return found[-1] if found else None


def install(app: FastAPI, title: str) -> bool:
    """Serve /docs with local assets; False when the assets are missing (FastAPI's default then)."""
    assets = swagger_assets()
    if assets is None:
        return False
    app.mount(ASSETS, StaticFiles(directory=assets), name="docs-assets")

    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=f"{title} - docs",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        swagger_ui_parameters={"persistAuthorization": False, "displayRequestDuration": True},
    )
    body = bytes(page.body)
    # The page starts Swagger UI with one inline script: allowed by its hash, nothing else inline.
    policy = content_security_policy("'self' " + " ".join(inline_script_hashes(body.decode())))

    async def docs() -> HTMLResponse:
        return HTMLResponse(body, headers={"content-security-policy": policy})

    app.add_api_route("/docs", docs, include_in_schema=False, methods=["GET"])
    return True


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-...') of the inline scripts of a page."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.DOTALL)
    ]
