"""The delivery record and the FIWARE routes through the real API app, served on loopback."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine

from api.app import create_app
from api.config import ApiConfig
from api.roles import Role
from api.server import ApiServer
from api.tokens import TokenStore
from collector.latest import LatestState
from collector.models import Reading
from collector.registry import Registry
from rules.notify.config import parse_routing
from rules.notify.service import NotifierService
from rules.store import AlertStore
from tests.notify.helpers import HttpReceiver, new_alert


@dataclass
class Served:
    url: str
    token: dict[Role, str]
    devices: LatestState

    def get(self, path: str, role: Role | None = None, **params: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token[role]}"} if role else {}
        return httpx.get(self.url + path, headers=headers, params=params, timeout=10)  # type: ignore[arg-type]


@contextlib.contextmanager
def serve(engine: Engine, store: AlertStore, registry: Registry, config: ApiConfig) -> Iterator[Served]:
    tokens = TokenStore(engine)
    devices = LatestState(registry)
    now_ms = int(time.time() * 1000)
    devices.apply(Reading("darong-a", "parking_lot", "garage", now_ms, {"occupied": 580}))
    devices.apply(Reading("darong-a", "parking_space", "b1-017", now_ms, {"occupied": True}))
    app = create_app(config, store=store, tokens=tokens, registry=registry, devices=devices)
    server = ApiServer(app, "127.0.0.1", 0)
    server.start()
    now = dt.datetime.now(dt.UTC)
    token = {role: tokens.create(f"{role.value}-test", role, now)[1] for role in Role}
    try:
        yield Served(server.url, token, devices)
    finally:
        server.stop()


@pytest.fixture
def served(engine: Engine, store: AlertStore, registry: Registry) -> Iterator[Served]:
    with serve(
        engine, store, registry, ApiConfig(rate_per_s=1000, rate_burst=1000, seed_from_influx=False)
    ) as api:
        yield api


def test_deliveries_say_who_was_told_what_when_and_whether_it_worked(
    engine: Engine, store: AlertStore, registry: Registry, served: Served, secret_env: str
) -> None:
    receiver = HttpReceiver(respond=lambda n: 503 if n == 1 else 200)
    service = NotifierService(
        parse_routing(f"""
receivers:
  - name: ops
    webhook: {{url: "{receiver.url}", secret_env: {secret_env}}}
    retry: {{initial: 20ms, max: 100ms}}
routes: [{{receivers: [ops]}}]
"""),
        registry,
        engine,
        None,
        poll_s=0.05,
    )
    service.start()
    try:
        raised = store.raise_alert(new_alert(), dt.datetime.now(dt.UTC))
        other = store.raise_alert(
            new_alert(device="aed-c-1f-lobby", building="darong-c"), dt.datetime.now(dt.UTC)
        )
        assert raised is not None and other is not None
        deadline = time.monotonic() + 10
        while len(receiver.ok()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        service.stop()
        receiver.close()

    path = f"/api/v1/alerts/{raised.alert_id}/deliveries"
    assert served.get(path).status_code == 401
    assert served.get(path, Role.VIEWER).status_code == 403
    assert served.get(path, Role.PATROL).status_code == 403
    assert served.get(path, Role.INTEGRATION).status_code == 403
    response = served.get(path, Role.OPERATOR)
    assert response.status_code == 200, response.text
    (delivery,) = response.json()
    assert delivery["id"] == f"evt-{raised.id}-ops"
    assert delivery["receiver"] == "ops" and delivery["channel"] == "webhook"
    assert delivery["status"] == "delivered" and delivery["attempts"] == 2
    assert [t["ok"] for t in delivery["tries"]] == [False, True]
    assert delivery["tries"][0]["status_code"] == 503 and delivery["tries"][0]["retryable"] is True
    assert delivery["delivered_at"] is not None
    assert served.get(path, Role.ADMIN).status_code == 200
    assert served.get("/api/v1/alerts/999999/deliveries", Role.OPERATOR).status_code == 404

    page = served.get("/api/v1/deliveries", Role.OPERATOR, limit=1)
    assert page.status_code == 200
    first = page.json()
    assert len(first["items"]) == 1 and first["items"][0]["alert_id"] == other.alert_id  # newest first
    second = served.get("/api/v1/deliveries", Role.OPERATOR, limit=1, cursor=first["next_cursor"]).json()
    assert second["items"][0]["alert_id"] == raised.alert_id and second["next_cursor"] is None
    failed = served.get("/api/v1/deliveries", Role.OPERATOR, status="failed").json()
    assert failed["items"] == []
    assert served.get("/api/v1/deliveries", Role.OPERATOR, cursor="x").status_code in (400, 422)


def test_ngsi_ld_routes_serve_parking_from_the_latest_readings(served: Served) -> None:
    assert served.get("/api/v1/ngsi-ld/OffStreetParking").status_code == 401
    response = served.get("/api/v1/ngsi-ld/OffStreetParking", Role.INTEGRATION)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    lots = {e["id"]: e for e in response.json()}
    garage = lots["urn:ngsi-ld:OffStreetParking:darong-a:garage"]
    assert garage["availableSpotNumber"]["value"] == 20 and garage["status"]["value"] == ["almostFull"]
    assert list(lots) == [garage["id"]]  # one site; its levels are ParkingGroups
    groups = served.get("/api/v1/ngsi-ld/ParkingGroup", Role.VIEWER).json()
    assert [g["id"].rsplit(":", 1)[1] for g in groups] == ["garage-b1", "garage-b2"]
    assert {g["refParkingSite"]["object"] for g in groups} == {garage["id"]}
    spots = served.get("/api/v1/ngsi-ld/ParkingSpot", Role.VIEWER, building="darong-a").json()
    assert len(spots) == 600
    one = served.get("/api/v1/ngsi-ld/entities/urn:ngsi-ld:ParkingSpot:darong-a:b1-017", Role.VIEWER)
    assert one.status_code == 200 and one.json()["status"]["value"] == "occupied"
    assert served.get("/api/v1/ngsi-ld/entities/urn:ngsi-ld:ParkingSpot:x:y", Role.VIEWER).status_code == 404
    assert served.get("/api/v1/ngsi-ld/Vehicle", Role.VIEWER).status_code == 422


LIST = "/api/v1/ngsi-ld/{entity_type}"
ONE = "/api/v1/ngsi-ld/entities/{entity_id}"


def test_ngsi_ld_answers_are_sent_as_their_documentation_says(
    engine: Engine, store: AlertStore, registry: Registry
) -> None:
    """Each answer a FIWARE route can give, error or not, in the media type /openapi.json gives it."""
    # A burst of 3 requests, refilled once a minute: the fourth of a token is refused with 429.
    config = ApiConfig(rate_per_s=1 / 60, rate_burst=3, seed_from_influx=False)
    with serve(engine, store, registry, config) as api:
        document = httpx.get(api.url + "/openapi.json", timeout=10).json()

        def documented(path: str, status: int) -> set[str]:
            responses = document["paths"][path]["get"]["responses"]
            assert str(status) in responses, f"{path} does not document {status}"
            return set(responses[str(status)]["content"])

        answers = [
            (LIST, api.get("/api/v1/ngsi-ld/OffStreetParking", Role.VIEWER), 200),
            (ONE, api.get("/api/v1/ngsi-ld/entities/urn:ngsi-ld:ParkingSpot:x:y", Role.VIEWER), 404),
            (LIST, api.get("/api/v1/ngsi-ld/Vehicle", Role.VIEWER), 422),
            (ONE, api.get("/api/v1/ngsi-ld/entities/urn:ngsi-ld:ParkingSpot:x:y"), 401),
            (LIST, api.get("/api/v1/ngsi-ld/ParkingSpot", Role.VIEWER), 429),
        ]
        for path, response, status in answers:
            assert response.status_code == status, (path, response.status_code, response.text)
            media_type = response.headers["content-type"].split(";")[0].strip()
            assert media_type in documented(path, status), (path, status, media_type)
        # The refusals keep what the API's own handler sends with them.
        assert answers[1][1].json() == {"detail": "no entity urn:ngsi-ld:ParkingSpot:x:y"}
        assert answers[3][1].headers["www-authenticate"] == "Bearer"
        assert int(answers[4][1].headers["retry-after"]) >= 1
    # The entities and the refusals of these routes are JSON-LD; a malformed request is plain JSON.
    assert documented(ONE, 404) == documented(LIST, 401) == documented(LIST, 429) == {"application/ld+json"}
    assert documented(LIST, 422) == {"application/json"}
