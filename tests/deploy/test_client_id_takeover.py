"""No account can take over another one's connection or persistent session (docs/security.md).

Mosquitto drops a connected client when another connects with the same client id and, when the
user names differ, discards the old session with the QoS 1 messages queued in it. The shipped
configuration sets `use_username_as_clientid`, so the client id a client sends is replaced by its
account name. These tests run the shipped broker (tests/deploy/shipped_broker.py) with the
services' client ids taken from deploy/docker-compose.yml, and a gateway and a patrol handset
that try them:

- queued messages: a service's persistent session holds QoS 1 messages while the service is
  away; a takeover is attempted; the service comes back and counts every message;
- live connections: the service (or another gateway) stays connected through the attempt and
  still receives what is published after it;
- the same run on the configuration without the setting loses the session: the threat is real,
  and the tests above would see it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.mqtt_probe import Probe
from tests.deploy.shipped_broker import SETTLE_S, Broker, compose_env, start_shipped_broker

pytestmark = pytest.mark.integration

QUEUED = 200  # QoS 1 messages queued for the absent service
SESSION_EXPIRY_S = 3600
PUBLISHER = "sensor-darong-b"
# A gateway, another gateway of the same building, and a patrol handset.
ATTACKERS = ("sensor-darong-a", "sensor-darong-a.2", "patrol-li")


@dataclass(frozen=True)
class Service:
    """A louyu service's broker identity as the compose file deploys it."""

    compose_name: str
    account: str
    client_id: str
    topic_filter: str


def deployed(compose_name: str, client_id_key: str, topic_filter: str) -> Service:
    env = compose_env(compose_name)
    return Service(compose_name, env["LOUYU_MQTT_USERNAME"], env[client_id_key], topic_filter)


# The services with a persistent session, subscribed as they subscribe (collector/mqtt_source.py,
# rules/runner.py).
SERVICES = (
    deployed("collector", "LOUYU_MQTT_CLIENT_ID", "$share/collectors/louyu/+/+/+"),
    deployed("rules", "LOUYU_MQTT_RULES_CLIENT_ID", "louyu/+/+/+"),
)


def service_session(broker: Broker, service: Service, clean_start: bool) -> Probe:
    return broker.client(
        service.account,
        client_id=service.client_id,
        clean_start=clean_start,
        session_expiry_s=SESSION_EXPIRY_S,
    )


def attempt_takeover(broker: Broker, attacker: str, client_id: str) -> None:
    """Connect as `attacker` with `client_id`, both ways a client can ask for a session: a clean
    start (discard the session), then a resumed one (inherit the session and its messages)."""
    for clean_start in (True, False):
        thief = broker.client(attacker, client_id=client_id, clean_start=clean_start, session_expiry_s=0)
        time.sleep(SETTLE_S)
        # anything the thief inherited would have arrived by now
        stolen = [m for m in thief.drain() if m.topic.startswith("louyu/darong-b/parking_space/take-")]
        assert stolen == [], f"{attacker} got {len(stolen)} of the service's messages"
        thief.close()


def queue_for_absent_service(broker: Broker, service: Service, tag: str) -> set[str]:
    """Subscribe the service's persistent session, take it offline, queue QUEUED messages."""
    first = service_session(broker, service, clean_start=True)
    assert not first.subscribe(service.topic_filter, qos=1).is_failure
    first.close()
    sensor = broker.client(PUBLISHER)
    topics = {f"louyu/darong-b/parking_space/take-{tag}-{i:04d}" for i in range(QUEUED)}
    for topic in sorted(topics):
        sensor.client.publish(topic, b'{"occupied": true}', qos=1)
    # every PUBACK before this one's: the broker holds all of them in the session by now
    last = f"louyu/darong-b/parking_space/take-{tag}-last"
    assert sensor.publish(last, b'{"occupied": false}').value == 0
    return topics | {last}


def received(probe: Probe, expected: set[str], timeout: float = 10.0) -> set[str]:
    got: set[str] = set()
    deadline = time.monotonic() + timeout
    while not expected <= got and time.monotonic() < deadline:
        got |= {m.topic for m in probe.drain()}
        time.sleep(0.05)
    time.sleep(SETTLE_S)
    return got | {m.topic for m in probe.drain()}


@pytest.mark.parametrize("attacker", ATTACKERS)
@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.compose_name)
def test_takeover_keeps_the_queued_messages_of_an_absent_service(
    broker: Broker, service: Service, attacker: str
) -> None:
    expected = queue_for_absent_service(broker, service, f"{service.compose_name}-{attacker}")
    attempt_takeover(broker, attacker, service.client_id)
    back = service_session(broker, service, clean_start=False)
    got = received(back, expected)
    assert len(expected - got) == 0, f"{len(expected - got)} of {len(expected)} queued messages lost"
    assert got <= expected


@pytest.mark.parametrize("attacker", ATTACKERS)
@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.compose_name)
def test_takeover_does_not_disconnect_a_connected_service(
    broker: Broker, service: Service, attacker: str
) -> None:
    online = service_session(broker, service, clean_start=True)
    assert not online.subscribe(service.topic_filter, qos=1).is_failure
    attempt_takeover(broker, attacker, service.client_id)
    assert online.is_open(), f"{attacker} threw {service.account} off the broker"
    topic = f"louyu/darong-b/parking_space/after-{attacker}"
    assert broker.client(PUBLISHER).publish(topic, b'{"occupied": true}').value == 0
    online.expect(topic)


def test_a_gateway_cannot_throw_another_gateway_off(broker: Broker) -> None:
    """Even of its own building: each gateway has an account, and its account is its client id."""
    gateway = broker.client("sensor-darong-a", client_id="gw-darong-a-1")
    watcher = broker.client("louyu-rules")
    watcher.subscribe("louyu/darong-a/+/+")
    attempt_takeover(broker, "sensor-darong-a.2", "gw-darong-a-1")
    assert gateway.is_open()
    assert gateway.publish("louyu/darong-a/aed/aed-a-1f-lobby", b'{"state": "ready"}').value == 0
    watcher.expect("louyu/darong-a/aed/aed-a-1f-lobby")


def test_the_broker_listens_only_where_it_is_told(broker: Broker) -> None:
    """use_username_as_clientid sits below the first `listener` line: above it, mosquitto 2.0
    would also open a default listener on port 1883 on every interface, where the setting applies
    and the configured listener does not."""
    proc = broker.server.proc
    assert proc is not None
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True, timeout=10).stdout
    mine = [line.split()[3] for line in out.splitlines() if f"pid={proc.pid}," in line]
    assert mine == [f"127.0.0.1:{broker.port}"]


# --- without the setting -----------------------------------------------------------------------


@pytest.fixture
def unprotected_broker(tmp_path: Path) -> Iterator[Broker]:
    def without_the_setting(text: str) -> str:
        lines = [line for line in text.splitlines() if not line.startswith("use_username_as_clientid")]
        assert len(lines) == len(text.splitlines()) - 1
        return "\n".join(lines) + "\n"

    broker = start_shipped_broker(tmp_path, edit=without_the_setting)
    yield broker
    broker.close_probes()
    broker.server.kill()


def test_without_the_setting_a_gateway_steals_the_collectors_session(unprotected_broker: Broker) -> None:
    collector = SERVICES[0]
    expected = queue_for_absent_service(unprotected_broker, collector, "unprotected")
    thief = unprotected_broker.client(
        "sensor-darong-a", client_id=collector.client_id, clean_start=True, session_expiry_s=0
    )
    thief.close()
    back = service_session(unprotected_broker, collector, clean_start=False)
    got = received(back, expected, timeout=2.0)
    assert got == set(), "the session survived: the tests above would not see a takeover"
