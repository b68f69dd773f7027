"""`OPTIONS` and 405 answers that name every method of a path.

Starlette answers a method a path does not have from the first route of that path alone, so
`/api/v1/silences` (GET and POST, two routes) said `Allow: GET`. Here `OPTIONS` on a known path is a
204 with `Allow` listing the methods of every route of the path, and a 405 gets the same `Allow`.
Routes are only looked at for these two answers: other requests pass untouched.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def flat_routes(routes: list[BaseRoute]) -> list[BaseRoute]:
    """The routes of an app with those of every included router (FastAPI keeps an included router
    as one entry of `app.routes` that holds the router's own routes)."""
    found: list[BaseRoute] = []
    for route in routes:
        router = getattr(route, "original_router", None)
        found += flat_routes(router.routes) if router is not None else [route]
    return found


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """The methods of every route whose path matches the request's, OPTIONS included; empty for an
    unknown path (or one served by a mount, which answers for itself)."""
    methods: set[str] = set()
    for route in flat_routes(routes):
        if isinstance(route, Route) and route.methods and route.matches(scope)[0] != Match.NONE:
            methods |= route.methods
    if not methods:
        return []
    return sorted(methods | {"OPTIONS"})


class MethodsMiddleware:
    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            allow = allowed_methods(self.routes, scope)
            if allow:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 204,
                        "headers": [(b"allow", ", ".join(allow).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return

        async def with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allow = allowed_methods(self.routes, scope)
                if allow:
                    MutableHeaders(scope=message)["allow"] = ", ".join(allow)
            await send(message)

        await self.app(scope, receive, with_allow)
