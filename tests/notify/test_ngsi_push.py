"""The notifier keeps a city NGSI-LD context broker up to date: every parking entity by batch upsert,
then only what changed, rate-limited and batched, retried with the same bytes, in order per entity,
and nothing lost across a SIGKILL. Against a real HTTP endpoint implementing the upsert contract
and checking every request with the Smart Data Models schemas (tests/notify/ngsi_broker.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collector.models import Reading
from collector.registry import Registry
from louyu.testing.services import Mosquitto
from rules.database import make_engine
from rules.database.migrate import upgrade
from rules.database.notifier import AttemptRow, CursorRow, DeliveryRow
from rules.notify.config import parse_routing
from rules.notify.ngsi_ld import CORE_CONTEXT, PARKING_CONTEXT, TYPES, entities
from rules.notify.service import NotifierService
from tests.notify.ngsi_broker import NgsiBroker
from tests.notify.test_restart import start_notifier

RECEIVER = "city-broker"
SPOT = "urn:ngsi-ld:ParkingSpot:darong-a:b1-017"


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def now_ms() -> int:
    return int(time.time() * 1000)


def expected(registry: Registry, service: NotifierService) -> dict[str, dict[str, Any]]:
    """What the broker should hold: every entity as built now, without its @context."""
    latest, at = service.latest.snapshot(), now_ms()
    return {
        e["id"]: {k: v for k, v in e.items() if k != "@context"}
        for t in TYPES
        for e in entities(t, registry, latest, at)
    }


def routing(broker: NgsiBroker, options: str = "") -> str:
    return f"""
receivers:
  - name: {RECEIVER}
    ngsi_ld: {{url: "{broker.url}", tenant: qingdao, token_env: LOUYU_TEST_NGSI_TOKEN{options}}}
    retry: {{initial: 100ms, max: 300ms}}
"""


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[NgsiBroker]:
    monkeypatch.setenv("LOUYU_TEST_NGSI_TOKEN", "t0k3n-for-tests")
    server = NgsiBroker(tenant="qingdao", token="t0k3n-for-tests")
    yield server
    server.close()


def service_for(text: str, registry: Registry, engine: Engine) -> NotifierService:
    service = NotifierService(parse_routing(text), registry, engine, None, poll_s=0.05, tick_s=0.05)
    at = now_ms()
    for reading in (
        Reading("darong-a", "parking_lot", "garage", at, {"occupied": 412, "capacity": 600}),
        Reading("darong-a", "parking_lot", "garage-b1", at, {"occupied": 300}),
        Reading("darong-a", "parking_space", "b1-017", at, {"occupied": True, "battery_pct": 81.0}),
        Reading("darong-a", "parking_space", "b2-001", at, {"occupied": False}),
    ):
        service.latest.apply(reading)
    return service


def in_sync(broker: NgsiBroker, registry: Registry, service: NotifierService) -> Callable[[], bool]:
    return lambda: (
        broker.snapshot() == expected(registry, service) and service.ledger.pending_for(RECEIVER) == 0
    )


def test_every_entity_valid_then_only_what_changed(
    broker: NgsiBroker, registry: Registry, engine: Engine
) -> None:
    service = service_for(routing(broker, ", batch: 50, rate: 20, every: 200ms"), registry, engine)
    with service:
        wait_for(in_sync(broker, registry, service), 20, "the first round")
        first = broker.ok()
        assert broker.violations == []
        assert len(broker.snapshot()) == 603  # 1 site, 2 levels, 600 spaces
        assert len(first) == 13 and all(len(r.entities) <= 50 for r in first)
        assert {r.status for r in first} == {201}
        for request in first:
            assert request.headers["content-type"] == "application/json"
            assert request.headers["link"] == (
                f'<{PARKING_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
            )
            assert request.headers["ngsild-tenant"] == "qingdao"
            assert request.headers["authorization"] == "Bearer t0k3n-for-tests"
        # Containment order: the site, then its levels, then the spaces.
        assert [e["type"] for e in first[0].entities[:3]] == ["OffStreetParking", *["ParkingGroup"] * 2]
        # At most 20 requests a second. Measured over the whole round, from when the receiver
        # got each request: one request delayed on its way shortens a single gap, not the round.
        span = first[-1].at - first[0].at
        assert span >= (len(first) - 1) / 20 * 0.9, f"{len(first)} requests in {span:.3f} s"

        time.sleep(0.7)  # three rounds with nothing new
        assert len(broker.requests) == 13, "unchanged entities are not sent again"

        before = broker.snapshot()
        service.latest.apply(Reading("darong-a", "parking_space", "b1-017", now_ms(), {"occupied": False}))
        wait_for(in_sync(broker, registry, service), 10, "the change")
        changed = {i for i, e in broker.snapshot().items() if before.get(i) != e}
        assert SPOT in changed
        assert [{e["id"] for e in r.entities} for r in broker.requests[13:]] == [changed]
        assert broker.snapshot()[SPOT]["status"]["value"] == "free"
        assert broker.violations == []


def test_retried_with_the_same_bytes_in_order_per_entity(
    broker: NgsiBroker, registry: Registry, engine: Engine
) -> None:
    broker.unavailable = lambda n: 2 <= n <= 5  # the 2nd to 5th requests get 503
    service = service_for(routing(broker, ", batch: 200, rate: 50, every: 100ms"), registry, engine)
    with service:
        wait_for(lambda: len(broker.requests) >= 2, 10, "the first 503")
        # While the broker is away the spot changes twice: only its latest content is planned.
        service.latest.apply(Reading("darong-a", "parking_space", "b1-017", now_ms(), {"occupied": False}))
        time.sleep(0.2)
        service.latest.apply(Reading("darong-a", "parking_space", "b1-017", now_ms(), {"occupied": True}))
        wait_for(in_sync(broker, registry, service), 20, "the broker back in sync")
    statuses = [r.status for r in broker.requests]
    assert statuses[:6] == [201, 503, 503, 503, 503, 201], statuses
    # The refused request went again with exactly the same bytes.
    assert {r.body for r in broker.requests[1:6]} == {broker.requests[1].body}
    assert broker.violations == []
    history = broker.history[SPOT]
    assert [v["status"]["value"] for v in history] == ["occupied", "occupied"]
    stamps = [v["status"]["observedAt"] for v in history]
    assert stamps == sorted(stamps) and len(set(stamps)) == 2, "the newer content came last"
    with Session(engine) as session:
        refused = session.scalars(select(AttemptRow).where(AttemptRow.status_code == 503)).all()
        assert len(refused) == 4 and all(a.delivery_id == refused[0].delivery_id for a in refused)
        states = set(session.scalars(select(DeliveryRow.status)).all())
    assert states == {"delivered"}


def test_inline_context_and_an_entity_refused_in_a_207_goes_again(
    broker: NgsiBroker, registry: Registry, engine: Engine
) -> None:
    broker.refuse = {SPOT}
    service = service_for(
        routing(broker, ", inline_context: true, batch: 300, rate: 50, every: 100ms"), registry, engine
    )
    with service:
        wait_for(in_sync(broker, registry, service), 20, "the refused entity sent again")
    assert broker.violations == []
    assert [r.status for r in broker.requests[:3]] == [207, 201, 201]
    assert [{e["id"] for e in r.entities} for r in broker.requests[3:]] == [{SPOT}]
    for request in broker.requests:
        assert request.headers["content-type"] == "application/ld+json" and "link" not in request.headers
        assert all(e["@context"] == [PARKING_CONTEXT, CORE_CONTEXT] for e in request.entities)


def _publisher(broker: Mosquitto) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="gateway-darong-a")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def _spot(client: mqtt.Client, device: str, occupied: bool) -> None:
    # Retained, so that a notifier (re)starting slowly still gets the space's latest reading.
    payload = json.dumps({"occupied": occupied, "ts": now_ms()})
    topic = f"louyu/darong-a/parking_space/{device}"
    client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)


@pytest.mark.integration
def test_sigkill_mid_round_loses_nothing_and_keeps_order(
    tmp_path: Path, mosquitto: Mosquitto, broker: NgsiBroker
) -> None:
    db = tmp_path / "louyu.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    broker.delay_s = 0.05
    routes = tmp_path / "routes.yaml"
    routes.write_text(routing(broker, ", batch: 20, rate: 10, every: 300ms"))
    env = {
        **os.environ,
        "LOUYU_DATABASE_URL": f"sqlite:///{db}",
        "LOUYU_MQTT_URL": mosquitto.url,
        "LOUYU_NOTIFY_FILE": str(routes),
        "LOUYU_ENVIRONMENT": "development",
        "LOUYU_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "notifier.log"
    gateway = _publisher(mosquitto)
    proc = start_notifier(env, log)
    try:

        def started() -> bool:
            with Session(engine) as session:
                return session.get(CursorRow, "events") is not None

        wait_for(started, 30, "the notifier to start")
        for n in range(10):
            _spot(gateway, f"b1-{n + 1:03d}", True)
        wait_for(lambda: len(broker.ok()) >= 8, 30, "part of the first round")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        with Session(engine) as session:
            pending = session.scalars(
                select(DeliveryRow.payload).where(DeliveryRow.status == "pending")
            ).all()
        assert pending, "the kill came too late to test anything"
        proc = start_notifier(env, log)
        for n in range(10):  # after the restart: the first five spaces left
            _spot(gateway, f"b1-{n + 1:03d}", n >= 5)

        def settled() -> bool:
            spots = broker.snapshot()
            return all(
                spots.get(f"urn:ngsi-ld:ParkingSpot:darong-a:b1-{n + 1:03d}", {})
                .get("status", {})
                .get("value")
                == ("occupied" if n >= 5 else "free")
                for n in range(10)
            )

        wait_for(settled, 60, "the changes after the restart:\n" + log.read_text(errors="replace")[-2000:])

        def statuses() -> set[str]:
            with Session(engine) as session:
                return set(session.scalars(select(DeliveryRow.status)).all())

        wait_for(lambda: statuses() == {"delivered"}, 30, "every upsert marked delivered")
        with Session(engine) as session:
            rows = session.scalars(select(DeliveryRow.payload)).all()
        received = [r.body.decode() for r in broker.ok()]
        # Nothing lost: every upsert planned, before or after the kill, reached the broker.
        assert set(rows) <= set(received)
        assert set(pending) <= set(received)
        # In order per entity: no entity's content ever went back to an older reading.
        for entity_id, versions in broker.history.items():
            stamps = [v["status"].get("observedAt", "") for v in versions if "status" in v]
            assert stamps == sorted(stamps), entity_id
        flipped = [v["status"]["value"] for v in broker.history["urn:ngsi-ld:ParkingSpot:darong-a:b1-001"]]
        assert flipped[-1] == "free"
        assert len(broker.snapshot()) == 603
        assert broker.violations == []
        # The restarted notifier sends every entity once more (its hashes are in memory): at most
        # two full rounds of 31 requests, and the changes.
        assert len(received) <= 2 * 31 + 4, len(received)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        gateway.disconnect()
        gateway.loop_stop()
        engine.dispose()


def test_the_receiver_refuses_what_a_broker_would(broker: NgsiBroker, registry: Registry) -> None:
    """The checks of the test broker can fail: a bad entity, a missing Link, a dangling reference."""
    spot = {k: v for k, v in entities("ParkingSpot", registry, {}, now_ms())[0].items() if k != "@context"}
    headers = {
        "content-type": "application/json",
        "link": f'<{PARKING_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"',
        "ngsild-tenant": "qingdao",
        "authorization": "Bearer t0k3n-for-tests",
    }
    url = broker.url + "/ngsi-ld/v1/entityOperations/upsert"

    def post(body: object, **changes: str | None) -> int:
        sent = {k: v for k, v in (headers | changes).items() if v is not None}
        return httpx.post(url, content=json.dumps(body), headers=sent).status_code

    assert post([spot | {"status": {"type": "Property", "value": "parked"}}]) == 400  # not in the schema
    assert post([spot | {"id": "b1-017"}]) == 400  # not a URI
    assert post([spot | {"name": "plain"}]) == 400  # not a Property
    assert post([spot], link=None) == 400
    assert post([spot], authorization=None) == 401
    assert post([spot], **{"content-type": "application/ld+json", "link": None}) == 400  # no @context
    assert len(broker.violations) == 5 and broker.entities == {}
    assert post([spot]) == 201  # valid, but its site and level are not on the broker
    assert broker.violations[-2:] == [
        f"request 7: {spot['id']}.refParkingSite dangles",
        f"request 7: {spot['id']}.refParkingGroup dangles",
    ]
    assert post([spot]) == 204


def test_entities_of_a_refused_request_go_again_in_the_next_round(
    broker: NgsiBroker, registry: Registry, engine: Engine
) -> None:
    """A 4xx fails the request at once; its entities are not taken as sent, so the next round, once
    the broker accepts them, carries them again."""
    broker.tenant = "not-yet-provisioned"  # every request answered 400
    service = service_for(routing(broker, ", batch: 700, rate: 50, every: 100ms"), registry, engine)
    with service:
        wait_for(lambda: len(broker.requests) >= 2, 10, "two refused rounds")
        assert broker.entities == {}
        broker.tenant = "qingdao"
        wait_for(in_sync(broker, registry, service), 10, "the broker accepting the entities")
    assert {r.status for r in broker.requests} == {400, 201}
    with Session(engine) as session:
        states = session.scalars(select(DeliveryRow.status).order_by(DeliveryRow.seq)).all()
    assert states[-1] == "delivered" and set(states[:-1]) == {"failed"}


def test_a_token_rotated_in_its_file_is_used_from_the_next_request(
    broker: NgsiBroker, registry: Registry, engine: Engine, tmp_path: Path
) -> None:
    token = tmp_path / "broker-token"
    token.write_text("expired-token\n")
    text = routing(broker, ", batch: 700, rate: 50, every: 100ms").replace(
        "token_env: LOUYU_TEST_NGSI_TOKEN", f"token_file: {token}"
    )
    service = service_for(text, registry, engine)
    with service:
        wait_for(lambda: len(broker.requests) >= 1, 10, "a refused request")
        token.write_text("t0k3n-for-tests\n")
        wait_for(in_sync(broker, registry, service), 10, "the rotated token accepted")
    assert broker.requests[0].status == 401 and broker.requests[-1].status == 201
    assert broker.requests[-1].headers["authorization"] == "Bearer t0k3n-for-tests"
