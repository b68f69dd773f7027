"""Every API call a page makes, checked against the app's own OpenAPI document.

`ApiContract.attach(context)` routes the browser context's `/api/` traffic through a handler
that validates the request (path, query parameters, JSON body) against the operation it claims,
lets it go to the real API, validates the answer (status documented, JSON body matching its
schema) and hands it to the page unchanged. Anything undocumented or off-schema is a problem;
a test fails if `problems` is not empty. The event stream (`text/event-stream`, endless) is
checked on the way out only.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from playwright.sync_api import BrowserContext, Request, Route
from playwright.sync_api import Error as PlaywrightError

STREAMS = frozenset({"/api/v1/events"})


@dataclass
class Operation:
    template: str
    method: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]


@dataclass
class ApiContract:
    document: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    seen: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    operations: list[Operation] = field(default_factory=list)

    def __post_init__(self) -> None:
        for template, methods in self.document["paths"].items():
            regex = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            for method, spec in methods.items():
                self.operations.append(Operation(template, method.upper(), re.compile(regex), spec))

    # ------------------------------------------------------------ schemas

    def _valid(self, schema: dict[str, Any], value: Any) -> list[str]:
        # The sub-schema at the root of a document that carries the components its $refs name.
        root = {"allOf": [schema], "components": self.document.get("components", {})}
        validator = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]

    def _text_valid(self, schema: dict[str, Any], text: str) -> bool:
        """A query or path value is text: valid if it reads as any JSON type the schema allows."""
        candidates: list[Any] = [text]
        if re.fullmatch(r"-?\d+", text):
            candidates.append(int(text))
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            candidates.append(float(text))
        if text in ("true", "false"):
            candidates.append(text == "true")
        return any(not self._valid(schema, c) for c in candidates)

    @staticmethod
    def _item_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
        """The item schema of a repeatable parameter (`list[X] | None`), None if not one."""
        for option in [schema, *schema.get("anyOf", [])]:
            if option.get("type") == "array":
                items = option.get("items", {})
                return items if isinstance(items, dict) else {}
        return None

    # ------------------------------------------------------------ checks

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for op in self.operations:
            if op.method == method and (match := op.pattern.match(path)):
                return op, match.groupdict()
        return None

    def check_request(self, request: Request) -> Operation | None:
        url = urlsplit(request.url)
        where = f"{request.method} {url.path}"
        found = self.find(request.method, url.path)
        if found is None:
            self.problems.append(f"{where}: not in the OpenAPI document")
            return None
        op, path_values = found
        params = {(p["in"], p["name"]): p for p in op.spec.get("parameters", [])}
        for name, value in path_values.items():
            spec = params.get(("path", name))
            if spec is None or not self._text_valid(spec["schema"], value):
                self.problems.append(f"{where}: path parameter {name}={value!r} off schema")
        given: dict[str, list[str]] = {}
        for name, value in parse_qsl(url.query, keep_blank_values=True):
            given.setdefault(name, []).append(value)
        for name, values in given.items():
            spec = params.get(("query", name))
            if spec is None:
                self.problems.append(f"{where}: undocumented query parameter {name}")
                continue
            items = self._item_schema(spec["schema"])
            if items is None and len(values) > 1:
                self.problems.append(f"{where}: {name} given {len(values)} times but is not repeatable")
            for value in values:
                if not self._text_valid(items if items is not None else spec["schema"], value):
                    self.problems.append(f"{where}: query {name}={value!r} off schema")
        for (place, name), spec in params.items():
            if place == "query" and spec.get("required") and name not in given:
                self.problems.append(f"{where}: required query parameter {name} missing")
        body = request.post_data
        schema = op.spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body:
            if schema is None:
                self.problems.append(f"{where}: sends a body the operation does not take")
            else:
                self.problems += [f"{where} body: {e}" for e in self._valid(schema, json.loads(body))]
        elif op.spec.get("requestBody", {}).get("required"):
            self.problems.append(f"{where}: required body missing")
        return op

    def check_response(
        self, op: Operation, method: str, path: str, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        where = f"{method} {path} -> {status}"
        self.seen[(method, op.template, status)] += 1
        responses = op.spec.get("responses", {})
        spec = responses.get(str(status)) or responses.get("default")
        if spec is None:
            self.problems.append(f"{where}: status not documented")
            return
        if "application/json" not in headers.get("content-type", ""):
            return
        schema = spec.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            self.problems.append(f"{where}: JSON answer without a documented schema")
            return
        self.problems += [f"{where}: {e}" for e in self._valid(schema, json.loads(body))]

    # ------------------------------------------------------------ wiring

    def attach(self, context: BrowserContext, base_url: str) -> None:
        context.route(f"{base_url}/api/**", self._handle)

    def _handle(self, route: Route, request: Request) -> None:
        op = self.check_request(request)
        path = urlsplit(request.url).path
        if op is None or path in STREAMS:
            route.continue_()
            return
        try:
            response = route.fetch()
        except PlaywrightError:  # the server is gone: the page sees the failure, as it would
            with contextlib.suppress(PlaywrightError):
                route.abort()
            return
        try:
            body = response.body()
        except PlaywrightError:  # the page was closed while its answer was on the way
            return
        self.check_response(op, request.method, path, response.status, response.headers, body)
        with contextlib.suppress(PlaywrightError):  # the same, a moment later
            route.fulfill(response=response)

    def calls(self, template: str, method: str = "GET") -> int:
        """How many answers to that operation were checked (so a test knows the check ran)."""
        return sum(n for (m, t, _), n in self.seen.items() if t == template and m == method)
