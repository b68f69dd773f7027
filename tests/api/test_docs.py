"""The OpenAPI document and the docs page: complete, with examples, and served without a CDN."""

from __future__ import annotations

import re

import httpx

from tests.api.conftest import Api

OWN_PATHS = {
    "/api/v1/alerts": {"get"},
    "/api/v1/alerts/{alert_id}": {"get"},
    "/api/v1/alerts/{alert_id}/ack": {"post"},
    "/api/v1/alerts/{alert_id}/resolve": {"post"},
    "/api/v1/silences": {"get", "post"},
    "/api/v1/silences/{silence_id}": {"delete", "patch"},
    "/api/v1/devices": {"get"},
    "/api/v1/devices/{building}/{kind}/{device}": {"get"},
    "/api/v1/devices/{building}/{kind}/{device}/history": {"get"},
    "/api/v1/buildings": {"get"},
    "/api/v1/events": {"get"},
    "/healthz": {"get"},
    "/readyz": {"get"},
    "/metrics": {"get"},
}


def test_openapi_lists_every_route_with_auth_answers_and_examples(api: Api) -> None:
    document = httpx.get(f"{api.url}/openapi.json", timeout=10).json()
    paths = document["paths"]
    for path, methods in OWN_PATHS.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
        for method in methods:
            operation = paths[path][method]
            assert operation.get("summary") and operation.get("description"), (method, path)
            if path.startswith("/api/"):
                assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)
                assert operation["security"] == [{"HTTPBearer": []}], (method, path)
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    schemas = document["components"]["schemas"]
    for name in (
        "AlertPublic",
        "AlertWithEvents",
        "AlertEventPublic",
        "SilencePublic",
        "SilenceCreate",
        "NoteRequest",
        "DevicePublic",
        "BuildingSummary",
        "HistoryPublic",
        "Readiness",
    ):
        assert schemas[name].get("examples"), name
    assert schemas["NoteRequest"]["additionalProperties"] is False
    assert schemas["SilenceCreate"]["additionalProperties"] is False


def test_docs_page_needs_no_internet(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=10) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert not re.search(r"(src|href)=\"https?://", page.text), (
            "the docs page loads something from outside"
        )
        for asset in re.findall(r"(?:src|href)=\"(/docs/assets/[^\"]+)\"", page.text):
            assert client.get(asset).status_code == 200, asset
