"""A context broker's batch upsert endpoint on loopback, for the tests: no NGSI-LD broker (Orion-LD,
Scorpio, Stellio) can be installed here, so this one implements the contract of
`POST /ngsi-ld/v1/entityOperations/upsert` (ETSI GS CIM 009) strictly enough to refuse what a real
one would, and checks more than a real one does:

- media type: `application/json` with a JSON-LD `Link` header and no `@context` in the entities,
  or `application/ld+json`, no `Link`, and an `@context` in every entity (else 400/415);
- the `NGSILD-Tenant` header, and the bearer token, when the test sets them (else 400/401);
- the body: a non-empty array of entities, each id a URI, a `type`, every other attribute a
  Property with `value`, a Relationship with a URI `object`, or a GeoProperty with a GeoJSON
  `value`; no id twice in one request (else 400);
- each entity, reduced to keyValues, against the Smart Data Models' published JSON schema;
- after the upsert, every Relationship's object exists on the broker (a dangling one is recorded
  as a violation: brokers accept them, the test must not);
- answers 201 with the ids created, 204 when all existed, 207 with a BatchOperationResult when
  `refuse` names an entity (refused once), 503 while `unavailable(n)` says so.

Everything received is kept: the requests in order and each entity's contents in the order they
were accepted (`history`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.notify.sdm import validator

PATH = "/ngsi-ld/v1/entityOperations/upsert"
CONTEXT_REL = 'rel="http://www.w3.org/ns/json-ld#context"'
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_ATTRIBUTE_TYPES = ("Property", "Relationship", "GeoProperty")


@dataclass
class Upsert:
    n: int
    at: float  # time.monotonic() at arrival
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def entities(self) -> list[dict[str, Any]]:
        loaded: list[dict[str, Any]] = json.loads(self.body)
        return loaded


def key_values(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The keyValues form the schemas describe (written here again, independent of the code tested)."""
    simple: dict[str, Any] = {}
    for name, attribute in entity.items():
        if name == "@context":
            continue
        if isinstance(attribute, Mapping) and "object" in attribute:
            simple[name] = attribute["object"]
        elif isinstance(attribute, Mapping) and "value" in attribute:
            simple[name] = attribute["value"]
        else:
            simple[name] = attribute
    return simple


def entity_problems(entity: object) -> list[str]:
    if not isinstance(entity, dict):
        return ["an entity is not a JSON object"]
    problems: list[str] = []
    entity_id = entity.get("id")
    if not isinstance(entity_id, str) or not _URI.match(entity_id):
        problems.append(f"id {entity_id!r} is not a URI")
    entity_type = entity.get("type")
    if not isinstance(entity_type, str) or not entity_type:
        return [*problems, f"{entity_id}: no type"]
    for name, attribute in entity.items():
        if name in ("id", "type", "@context"):
            continue
        if not isinstance(attribute, dict) or attribute.get("type") not in _ATTRIBUTE_TYPES:
            problems.append(f"{entity_id}.{name}: not a Property, Relationship or GeoProperty")
        elif attribute["type"] == "Relationship":
            target = attribute.get("object")
            if not isinstance(target, str) or not _URI.match(target):
                problems.append(f"{entity_id}.{name}: Relationship object {target!r} is not a URI")
        elif "value" not in attribute or attribute["value"] is None:
            problems.append(f"{entity_id}.{name}: {attribute['type']} without a value")
        elif attribute["type"] == "GeoProperty":
            value = attribute["value"]
            if not isinstance(value, dict) or "type" not in value or "coordinates" not in value:
                problems.append(f"{entity_id}.{name}: GeoProperty value is not GeoJSON")
        at = attribute.get("observedAt") if isinstance(attribute, dict) else None
        if at is not None and not (isinstance(at, str) and at.endswith("Z")):
            problems.append(f"{entity_id}.{name}: observedAt {at!r} is not a UTC DateTime")
        elif at is not None:
            dt.datetime.fromisoformat(at)
    try:
        check = validator(entity_type)
    except FileNotFoundError:
        return [*problems, f"{entity_id}: no schema for type {entity_type}"]
    problems += [f"{entity_id}: schema: {e.message[:200]}" for e in check.iter_errors(key_values(entity))]
    return problems


@dataclass
class NgsiBroker:
    tenant: str | None = None
    token: str | None = None
    unavailable: Callable[[int], bool] = lambda n: False
    refuse: set[str] = field(default_factory=set)
    delay_s: float = 0.0
    requests: list[Upsert] = field(default_factory=list)
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        broker = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if broker.delay_s:
                    threading.Event().wait(broker.delay_s)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer = broker.handle(self.path, headers, body)
                raw = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                if answer is not None:
                    kind = "application/problem+json" if status >= 400 else "application/json"
                    self.send_header("content-type", kind)
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="test-ngsi", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        with self.lock:
            n = len(self.requests) + 1
            upsert = Upsert(n, time.monotonic(), headers, body, 0)
            self.requests.append(upsert)
            upsert.status, answer = self._answer(path, headers, body, n)
            if upsert.status == 400:
                self.violations.append(f"request {n}: {answer['detail']}")
            return upsert.status, answer

    @staticmethod
    def _problem(title: str, detail: str) -> dict[str, str]:
        return {"type": f"https://uri.etsi.org/ngsi-ld/errors/{title}", "title": title, "detail": detail}

    def _answer(self, path: str, headers: dict[str, str], body: bytes, n: int) -> tuple[int, Any]:
        if path.split("?", maxsplit=1)[0] != PATH:
            return 404, self._problem("ResourceNotFound", path)
        if self.unavailable(n):
            return 503, self._problem("InternalError", "unavailable for the test")
        if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
            return 401, self._problem("Unauthorized", "bearer token missing or wrong")
        if self.tenant is not None and headers.get("ngsild-tenant") != self.tenant:
            return 400, self._problem("BadRequestData", f"tenant {headers.get('ngsild-tenant')!r}")
        media = headers.get("content-type", "").split(";")[0].strip()
        link = headers.get("link")
        if media not in ("application/json", "application/ld+json"):
            return 415, self._problem("UnsupportedMediaType", media)
        if media == "application/json" and (link is None or CONTEXT_REL not in link):
            return 400, self._problem("BadRequestData", "application/json without a JSON-LD context Link")
        if media == "application/ld+json" and link is not None:
            return 400, self._problem("BadRequestData", "application/ld+json with a Link header")
        try:
            batch = json.loads(body)
        except ValueError:
            return 400, self._problem("InvalidRequest", "not JSON")
        if not isinstance(batch, list) or not batch:
            return 400, self._problem("BadRequestData", "the body is not a non-empty array of entities")
        problems: list[str] = []
        for entity in batch:
            problems += entity_problems(entity)
            has_context = isinstance(entity, dict) and "@context" in entity
            if has_context != (media == "application/ld+json"):
                problems.append(f"{entity.get('id')}: @context present={has_context} with {media}")
        ids = [e.get("id") for e in batch if isinstance(e, dict)]
        if len(set(ids)) != len(ids):
            problems.append("an entity id appears twice in one request")
        if problems:
            return 400, self._problem("BadRequestData", "; ".join(problems[:5]))
        created: list[str] = []
        errors: list[dict[str, Any]] = []
        for entity in batch:
            if entity["id"] in self.refuse:
                self.refuse.discard(entity["id"])
                errors.append({"entityId": entity["id"], "error": self._problem("InternalError", "refused")})
                continue
            if entity["id"] not in self.entities:
                created.append(entity["id"])
            stored = {k: v for k, v in entity.items() if k != "@context"}
            self.entities[entity["id"]] = stored  # upsert's default: replace the entity
            self.history.setdefault(entity["id"], []).append(stored)
        for entity in batch:
            for name, attribute in entity.items():
                relationship = isinstance(attribute, dict) and attribute.get("type") == "Relationship"
                if relationship and attribute["object"] not in self.entities:
                    self.violations.append(f"request {n}: {entity['id']}.{name} dangles")
        if errors:
            done = [e["id"] for e in batch if e["id"] not in {x["entityId"] for x in errors}]
            return 207, {"success": done, "errors": errors}
        return (201, created) if created else (204, None)

    def ok(self) -> list[Upsert]:
        with self.lock:
            return [r for r in self.requests if r.status in (201, 204, 207)]

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return dict(self.entities)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
