"""One building summary, four outputs: the same readings, published on a real mosquitto and taken
in by the API's and the notifier's own subscriptions, give the same numbers in `/api/v1/buildings`,
`/api/v1/board`, the city status snapshot (CloudEvents to a real HTTP receiver) and NGSI-LD.

Three buildings, the cases where the outputs used to disagree: a garage with a total counter and
two level counters; a building with space sensors only; a building with two separate lots.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.publish as mqtt_publish
import pytest
from prometheus_client import REGISTRY

from api.config import ApiConfig
from api.mqtt_feed import MqttConfig
from api.roles import Role
from collector.registry import Registry
from louyu.testing.services import Mosquitto
from rules.database import make_engine
from rules.notify.config import parse_routing
from rules.notify.service import MqttOptions, NotifierService
from tests.api.conftest import Api
from tests.notify.helpers import SECRET, HttpReceiver

pytestmark = pytest.mark.integration

SITE = """
area: t
buildings:
  - id: garage-tower
    name: Garage tower
    devices:
      - {kind: parking_lot, id: garage, floor: B1-B2, capacity: 100}
      - {kind: parking_lot, id: garage-b1, part_of: garage, floor: B1, capacity: 50}
      - {kind: parking_lot, id: garage-b2, part_of: garage, floor: B2, capacity: 50}
      - {kind: aed, id: aed-g}
  - id: sensor-tower
    name: Sensor tower
    devices:
      - {kind: canteen, id: hall, capacity: 200}
    groups:
      - {kind: parking_space, prefix: s-, count: 4}
  - id: twin-tower
    name: Twin tower
    devices:
      - {kind: parking_lot, id: north, capacity: 40}
      - {kind: parking_lot, id: south, capacity: 60}
      - {kind: aed, id: aed-t}
"""
MIN_MS = 60_000


@pytest.fixture
def registry() -> Registry:
    return Registry.from_text(SITE)


@pytest.fixture
def notifier(
    tmp_path: Path, mosquitto: Mosquitto, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[NotifierService, HttpReceiver]]:
    monkeypatch.setenv("LOUYU_TEST_CITY_SECRET", SECRET)
    receiver = HttpReceiver()
    service = NotifierService(
        parse_routing(
            f"""
receivers:
  - name: city
    cloudevents: {{url: "{receiver.url}", secret_env: LOUYU_TEST_CITY_SECRET}}
snapshot: {{every: 1s, receivers: [city]}}
"""
        ),
        registry,
        make_engine(f"sqlite:///{tmp_path / 'notify.db'}"),
        MqttOptions("127.0.0.1", mosquitto.port),
    )
    service.start()
    try:
        yield service, receiver
    finally:
        service.stop()
        receiver.close()


def publish(port: int, readings: list[tuple[str, dict[str, Any]]]) -> None:
    mqtt_publish.multiple(
        [{"topic": f"louyu/{t}", "payload": json.dumps(p), "qos": 1} for t, p in readings],
        hostname="127.0.0.1",
        port=port,
    )


def four_outputs(api: Api, receiver: HttpReceiver) -> dict[str, dict[str, Any]]:
    """Free parking per building, per site and per level, and AED and canteen figures, as each
    output gives them."""
    with api.client(Role.INTEGRATION) as client:
        buildings = client.get("/api/v1/buildings").json()
        board = client.get("/api/v1/board").json()
        sites = client.get("/api/v1/ngsi-ld/OffStreetParking").json()
        groups = client.get("/api/v1/ngsi-ld/ParkingGroup").json()
    snapshots = [json.loads(r.body) for r in receiver.ok()]
    status = snapshots[-1]["data"] if snapshots else {"buildings": []}

    out: dict[str, dict[str, Any]] = {"api": {}, "board": {}, "status": {}, "ngsi": {}}
    for b in buildings:
        p = b["parking"]
        out["api"][b["building"]] = p["free"]
        for site in p["sites"]:
            out["api"][site["device"]] = site["count"]["free"]
            for level in site["levels"]:
                out["api"][level["device"]] = level["count"]["free"]
        if b["aed"]:
            out["api"]["aed:" + b["building"]] = b["aed"]["ready"]
        for c in b["canteens"]:
            out["api"]["canteen:" + c["device"]] = c["load"]
    for p in board["parking"]:
        out["board"][p["building"]] = p["free"]
        for lot in p["lots"]:
            out["board"][lot["lot"]] = lot["free"]
    for c in board["canteens"]:
        out["board"]["canteen:" + c["device"]] = c["load"]
    for b in status["buildings"]:
        p = b["parking"]
        out["status"][b["building"]] = p["free_spaces"]
        for site in p["sites"]:
            out["status"][site["site"]] = site["free"]
            for level in site["levels"]:
                out["status"][level["level"]] = level["free"]
        if b["aed"]["total"]:
            out["status"]["aed:" + b["building"]] = b["aed"]["ready"]
        for c in b["canteen"]:
            out["status"]["canteen:" + c["device"]] = c["load"]
    # A city platform adds up the OffStreetParking entities of a building: that must be its total.
    per_building: dict[str, int | None] = {}
    for entity in sites:
        _, _, _, building, *device = entity["id"].split(":")
        free = entity.get("availableSpotNumber", {}).get("value")
        out["ngsi"][device[0] if device else "own:" + building] = free
        before = per_building.get(building, 0)
        per_building[building] = None if before is None or free is None else before + free
    out["ngsi"].update(per_building)
    for entity in groups:
        out["ngsi"][entity["id"].rsplit(":", 1)[1]] = entity.get("availableSpotNumber", {}).get("value")
    return out


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_the_four_outputs_give_the_same_numbers(
    start_api: Callable[..., Api],
    mosquitto: Mosquitto,
    notifier: tuple[NotifierService, HttpReceiver],
) -> None:
    service, receiver = notifier
    api = start_api(
        ApiConfig(
            rate_per_s=1000,
            rate_burst=1000,
            seed_from_influx=False,
            mqtt=MqttConfig("127.0.0.1", mosquitto.port, client_id="api-summary-test"),
        )
    )
    assert service.connected.wait(10)
    with api.client() as plain:
        wait_until(lambda: plain.get("/readyz").status_code == 200, "the API never connected")
    time.sleep(0.3)  # both telemetry subscriptions are in place

    now = int(time.time() * 1000)
    publish(
        mosquitto.port,
        [
            # The garage's total counter last spoke 31 minutes ago: stale, so the site is its levels.
            ("garage-tower/parking_lot/garage", {"ts": now - 31 * MIN_MS, "occupied": 90}),
            ("garage-tower/parking_lot/garage-b1", {"ts": now, "occupied": 10}),
            ("garage-tower/parking_lot/garage-b2", {"ts": now, "occupied": 20}),
            ("garage-tower/aed/aed-g", {"ts": now, "state": "ready", "cabinet_open": False}),
            ("sensor-tower/parking_space/s-001", {"ts": now, "occupied": True}),
            ("sensor-tower/parking_space/s-002", {"ts": now, "occupied": False}),
            ("sensor-tower/parking_space/s-003", {"ts": now, "occupied": False}),
            ("sensor-tower/parking_space/s-004", {"ts": now, "occupied": True}),
            ("sensor-tower/canteen/hall", {"ts": now, "occupancy": 150}),
            ("twin-tower/parking_lot/north", {"ts": now, "occupied": 30}),
            ("twin-tower/parking_lot/south", {"ts": now, "occupied": 40}),
            ("twin-tower/aed/aed-t", {"ts": now, "state": "fault"}),
            # Not in the registry: neither process keeps it.
            ("twin-tower/aed/made-up", {"ts": now, "state": "ready"}),
        ],
    )
    expected = {
        "garage-tower": 70,  # 40 + 30 from the levels: not 140, not the stale total's 10
        "garage": 70,
        "garage-b1": 40,
        "garage-b2": 30,
        "sensor-tower": 2,
        "twin-tower": 30,  # north 10 + south 20
        "north": 10,
        "south": 20,
    }
    wanted = {**expected, "aed:garage-tower": 1, "aed:twin-tower": 0, "canteen:hall": 0.75}

    def settled() -> bool:
        got = four_outputs(api, receiver)
        return all(got[name].get(k) == v for name in ("api", "status") for k, v in wanted.items()) and all(
            got[name].get(k) == v for name in ("board", "ngsi") for k, v in expected.items()
        )

    wait_until(settled, f"the outputs never agreed: {four_outputs(api, receiver)}")
    got = four_outputs(api, receiver)
    assert got["ngsi"]["own:sensor-tower"] == 2  # the spaces in no lot are the building's own site
    # Both latest states hold the 12 registered devices heard, and ignored the made-up one.
    assert (len(api.devices), len(service.latest)) == (12, 12)
    assert api.devices.ignored == service.latest.ignored == 1
    assert REGISTRY.get_sample_value("louyu_notify_latest_devices") == 12
    with api.client(Role.VIEWER) as client:
        assert client.get("/api/v1/devices/twin-tower/aed/made-up").status_code == 404
    assert got["board"]["canteen:hall"] == 0.75

    # The total counter speaks again: it is the site's figure, and the levels are not added to it.
    # The north lot's counter goes offline: its figure, and so its building's, is withheld everywhere.
    publish(
        mosquitto.port, [("garage-tower/parking_lot/garage", {"ts": int(time.time() * 1000), "occupied": 25})]
    )
    mqtt_publish.single(
        "louyu/twin-tower/parking_lot/north/availability",
        "offline",
        qos=1,
        hostname="127.0.0.1",
        port=mosquitto.port,
    )
    again = {**expected, "garage-tower": 75, "garage": 75, "north": None, "twin-tower": None}
    wait_until(
        lambda: all(
            four_outputs(api, receiver)[n].get(k) == v
            for n in ("api", "board", "status", "ngsi")
            for k, v in again.items()
        ),
        f"the outputs never agreed on the fresh total: {four_outputs(api, receiver)}",
    )
