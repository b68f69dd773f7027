"""The OpenAPI document says what the API does: every error answer a route can give, the rules of
its bodies, and the methods of each path in `Allow` (against the real app on uvicorn)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import httpx
import jsonschema
import pytest

from api.roles import Role
from tests.api.conftest import Api

# The document as the first `api` of the module served it. Every test here runs the app of the
# `api` fixture, made by the same code with the same configuration, and FastAPI takes a second or
# more to build the document: fetched once, not once per test.
_SERVED: dict[str, Any] = {}


def _document(api: Api) -> dict[str, Any]:
    if not _SERVED:
        _SERVED.update(httpx.get(f"{api.url}/openapi.json", timeout=10).json())
    return copy.deepcopy(_SERVED)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_options_lists_every_method_of_the_path_and_405_says_the_same(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=10) as client:
        options = client.options("/api/v1/silences")
        assert options.status_code == 204 and options.content == b""
        assert options.headers["allow"] == "GET, OPTIONS, POST"
        assert client.options("/api/v1/silences/7").headers["allow"] == "DELETE, OPTIONS, PATCH"
        refused = client.put("/api/v1/silences/7")
        assert refused.status_code == 405
        assert refused.headers["allow"] == "DELETE, OPTIONS, PATCH"
        assert refused.json() == {"detail": "Method Not Allowed"}
        # The methods of every route of the document's path, nothing else.
        document = _document(api)
        for path in ("/api/v1/alerts/{alert_id}/ack", "/api/v1/devices", "/api/v1/session"):
            declared = {m.upper() for m in document["paths"][path]} | {"OPTIONS"}
            concrete = path.replace("{alert_id}", "1")
            assert set(client.options(concrete).headers["allow"].split(", ")) == declared
        # Unknown paths stay 404, and the security headers are on these answers too.
        assert client.options("/api/v1/nothing").status_code == 404
        assert options.headers["x-content-type-options"] == "nosniff"


def test_every_operation_documents_the_errors_it_can_answer(api: Api) -> None:
    document = _document(api)
    public = {"/healthz", "/readyz", "/metrics", "/api/v1/board"}
    for method, path, op in _operations(document):
        codes = set(op["responses"])
        if path not in public:
            assert {"401", "429"} <= codes, (method, path)
        if path.startswith("/api/v1/") and path not in public and path != "/api/v1/session":
            assert "403" in codes, (method, path)
        if "requestBody" in op:
            assert {"400", "413", "422"} <= codes, (method, path)
        for code in codes - {"200", "201"}:
            content = op["responses"][code].get("content", {})
            assert content, (method, path, code)
    # The token is optional on /readyz (it tells a reader more), required on the API.
    assert {} in document["paths"]["/readyz"]["get"]["security"]
    assert {} not in document["paths"]["/api/v1/alerts"]["get"]["security"]


def test_the_documented_answers_are_those_given(api: Api) -> None:
    document = _document(api)
    schemas = document["components"]["schemas"]

    def conforms(status: int, body: Any, op: dict[str, Any]) -> None:
        schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
        jsonschema.validate(body, {**schema, "components": {"schemas": schemas}})

    session = document["paths"]["/api/v1/session"]["get"]
    missing = httpx.get(f"{api.url}/api/v1/session", timeout=10)
    assert missing.status_code == 401
    conforms(401, missing.json(), session)
    ack = document["paths"]["/api/v1/alerts/{alert_id}/ack"]["post"]
    alert = api.raise_alert()
    with api.client(Role.ADMIN) as client:
        url = f"/api/v1/alerts/{alert.alert.id}/ack"
        too_big = client.post(
            url, content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"}
        )
        assert too_big.status_code == 413
        conforms(413, too_big.json(), ack)
        not_json = client.post(url, content=b"\x80 not utf-8", headers={"content-type": "application/json"})
        assert not_json.status_code == 400
        conforms(400, not_json.json(), ack)
        silence = client.post(
            "/api/v1/silences",
            json={"building": "darong-a", "reason": "x", "ends_at": "2020-01-01T00:00:00Z"},
        )
        assert silence.status_code == 422
        conforms(422, silence.json(), document["paths"]["/api/v1/silences"]["post"])


NOW = dt.datetime.now(dt.UTC)
SILENCE_BODIES = [
    ({"building": "darong-a", "reason": "x", "duration_minutes": 5}, True),
    ({"rule": "parking-lot-full", "reason": "x", "ends_at": (NOW + dt.timedelta(hours=1)).isoformat()}, True),
    ({"kind": "aed", "reason": "x", "duration_minutes": 5, "ends_at": None}, True),
    ({"building": "darong-a", "reason": "x"}, False),
    (
        {
            "building": "darong-a",
            "reason": "x",
            "duration_minutes": 5,
            "ends_at": (NOW + dt.timedelta(hours=1)).isoformat(),
        },
        False,
    ),
    ({"reason": "x", "duration_minutes": 5}, False),
    ({"building": None, "reason": "x", "duration_minutes": 5}, False),
    ({"building": "darong-a", "reason": " \x1c ", "duration_minutes": 5}, False),
    ({"building": "darong-a", "reason": "", "duration_minutes": 5}, False),
]


@pytest.mark.parametrize(("body", "valid"), SILENCE_BODIES)
def test_the_silence_schema_says_what_the_api_accepts(api: Api, body: dict[str, Any], valid: bool) -> None:
    document = _document(api)
    schema = document["paths"]["/api/v1/silences"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    resolver = {**schema, "components": document["components"]}
    by_schema = jsonschema.Draft202012Validator(resolver, format_checker=None).is_valid(body)
    with api.client(Role.ADMIN) as client:
        answer = client.post("/api/v1/silences", json=body)
    assert by_schema is valid
    assert (answer.status_code == 201) is valid, answer.text


def test_an_ended_silence_is_a_conflict_and_a_cursor_has_its_pattern(api: Api) -> None:
    with api.client(Role.ADMIN) as client:
        created = client.post(
            "/api/v1/silences", json={"building": "darong-a", "reason": "x", "duration_minutes": 5}
        )
        silence_id = created.json()["id"]
        assert client.delete(f"/api/v1/silences/{silence_id}").status_code == 200
        ended = client.patch(f"/api/v1/silences/{silence_id}", json={"extend_minutes": 5})
        assert ended.status_code == 409
        assert "has ended" in ended.json()["detail"]
        # The deliveries cursor is a number: anything else is refused by its schema (422).
        assert client.get("/api/v1/deliveries", params={"cursor": "abc"}).status_code == 422
        assert client.get("/api/v1/deliveries", params={"cursor": "12"}).status_code == 200
        # The alert cursor's alphabet is in the schema; a well-formed one it did not hand out is a 400.
        assert client.get("/api/v1/alerts", params={"cursor": "a b"}).status_code == 422
        assert client.get("/api/v1/alerts", params={"cursor": "0000"}).status_code == 400
        # A time is RFC 3339, as the schema's date-time says: never a number taken for a Unix time.
        for value in ("0.5", "1700000000", "2026-11-27"):
            assert client.get("/api/v1/alerts", params={"until": value}).status_code == 422, value
        assert client.get("/api/v1/alerts", params={"until": "2026-11-27T09:00:00+08:00"}).status_code == 200
        numeric_end = {"building": "darong-a", "reason": "x", "ends_at": 1900000000}
        assert client.post("/api/v1/silences", json=numeric_end).status_code == 422
        # An empty history field is refused by its schema.
        history = client.get("/api/v1/devices/darong-a/parking_lot/garage/history", params={"field": ""})
        assert history.status_code == 422
