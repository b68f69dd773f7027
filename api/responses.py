"""What the OpenAPI document says a route can answer besides its success, derived from the route.

A route that takes a token can answer 401 and 429 (api/deps.py `authenticated`); one that asks for a
permission, 403 too; one that reads a JSON body, 400 (not JSON) and 413 (the body limit of
api/body_limit.py, a middleware the route never sees); one with parameters or a body, 422.
`document(app)` adds these to every operation of the document from the route's dependencies and
body, so a new route is documented by what it depends on, never by a copied list. A route's own
entry for a status (a more precise description) is kept.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.deps import RoleCheck, authenticated, optional_token
from api.methods import flat_routes
from api.models import InvalidRequest, Problem

Answer = tuple[str, type[BaseModel]]

TOKEN: Final[dict[int, Answer]] = {
    401: ("no token, or an unknown, revoked or expired one", Problem),
    429: ("too many requests for this token; see Retry-After", Problem),
}
ROLE: Final[dict[int, Answer]] = {403: ("the token's role may not do this", Problem)}
BODY: Final[dict[int, Answer]] = {
    400: ("the body could not be read as JSON", Problem),
    413: ("the body is larger than the limit (`ApiConfig.max_body_bytes`, 64 KiB by default)", Problem),
}
INVALID: Final[dict[int, Answer]] = {
    422: (
        "a parameter or the body breaks a rule of this operation: FastAPI's list of problems, or a "
        "sentence for a rule between fields or relative to now",
        InvalidRequest,
    )
}


def _calls(dependant: Dependant) -> list[Any]:
    found = [dependant.call]
    for sub in dependant.dependencies:
        found += _calls(sub)
    return found


def route_answers(route: APIRoute) -> dict[int, Answer]:
    """The error answers `route` can give by what it depends on and reads."""
    calls = _calls(route.dependant)
    wanted: dict[int, Answer] = {}
    if authenticated in calls:
        wanted |= TOKEN
    if any(isinstance(call, RoleCheck) for call in calls):
        wanted |= ROLE
    if route.body_field is not None:
        wanted |= BODY
    if route.body_field is not None or route.dependant.query_params or route.dependant.path_params:
        wanted |= INVALID
    return wanted


def _ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault(model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def add_answers(app: FastAPI, document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for route in flat_routes(app.routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        calls = _calls(route.dependant)
        # Errors go out as JSON, or as the route's own JSON type (NGSI-LD's application/ld+json).
        media_type = str(getattr(route.response_class, "media_type", None) or "")
        if not media_type.endswith("json"):
            media_type = "application/json"
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            if optional_token in calls and authenticated not in calls:
                # A token is welcome but not needed: `{}` is "no requirement" beside the bearer.
                operation["security"] = [*operation.get("security", []), {}]
            answers = operation.setdefault("responses", {})
            for code, (description, model) in route_answers(route).items():
                entry = answers.get(str(code))
                if entry is not None and not (code == 422 and _is_fastapi_default(entry)):
                    continue
                answers[str(code)] = {
                    "description": description,
                    "content": {media_type: {"schema": _ref(model, schemas)}},
                }
    return document


def _is_fastapi_default(entry: dict[str, Any]) -> bool:
    return "HTTPValidationError" in str(entry.get("content", {}))


def document(app: FastAPI) -> None:
    """Have `app`'s OpenAPI document carry each route's derived error answers."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_answers(app, build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
