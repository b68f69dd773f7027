"""The shipped broker configuration (deploy/mosquitto/) with real accounts and real clients.

The broker runs `deploy/mosquitto/mosquitto.conf` itself, with only its paths and listener
rewritten for a temp dir and a free port; the accounts are made by `deploy/mosquitto/accounts.sh`
(mosquitto_passwd underneath) into a copy of the shipped ACL (tests/deploy/shipped_broker.py).
What each service account needs, taken from the services' own code, is checked by
tests/deploy/test_acl_services.py; the tests here say what the ACL promises, case by case.

A refused publish is silently dropped and a refused subscription delivers nothing, so each
"refused" assertion is paired with an allowed message sent right after it on the same
connection: once that one has arrived at a subscriber that may read both, the refused one would
have arrived before it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from louyu.testing.services import free_port, port_open
from louyu.testing.tls import make_certificates, openssl_available
from tests.deploy.mqtt_probe import NOT_AUTHORIZED, Probe
from tests.deploy.shipped_broker import (
    ACCOUNTS,
    ALERT,
    BUILDING_AVAILABILITY,
    DEPLOY,
    DEVICE_AVAILABILITY,
    EVERY_SHAPE,
    MOSQUITTO_DIR,
    SETTLE_S,
    TELEMETRY,
    Broker,
    ShippedMosquitto,
    accounts,
    topics_read,
)

pytestmark = pytest.mark.integration


def aed(state: str = "ready") -> bytes:
    return json.dumps({"state": state}).encode()


def publish_refused(broker: Broker, user: str, topic: str, payload: bytes = b'{"forged": true}') -> None:
    """Publish as `user` and close the connection, which the broker may close for it anyway.

    An account has one connection at a time (use_username_as_clientid): the test's watcher must
    be another account.

    The broker's answer may be a PUBACK "Not authorized" (MQTT 5), a plain PUBACK with the
    message dropped, or a closed connection [MQTT-3.3.5-2]: each is a refusal, and the tests
    check that the message was not delivered.
    """
    p = broker.client(user)
    rc = p.try_publish(topic, payload)
    assert rc is None or rc.value in (0, NOT_AUTHORIZED), rc
    p.close()


def assert_not_delivered(watcher: Probe, refused_topic: str, marker_from: Probe, marker_topic: str) -> None:
    """A marker sent after the refused message has arrived at `watcher`; the refused one has not."""
    marker = f"marker-{time.monotonic_ns()}".encode()
    assert marker_from.publish(marker_topic, marker).value == 0
    watcher.expect(marker_topic, marker)
    time.sleep(SETTLE_S)
    leaked = [m for m in watcher.drain() if m.topic == refused_topic]
    assert leaked == [], f"{refused_topic} was delivered"


# --- who may connect -------------------------------------------------------------------------


def test_anonymous_client_is_refused(broker: Broker) -> None:
    rc = broker.probe(None).connect()
    assert rc is not None and rc.is_failure


def test_wrong_password_is_refused(broker: Broker) -> None:
    rc = broker.probe("louyu-collector-1", "not-the-password").connect()
    assert rc is not None and rc.is_failure


def test_unknown_account_is_refused(broker: Broker) -> None:
    rc = broker.probe("sensor-darong-z", "whatever").connect()
    assert rc is not None and rc.is_failure


def test_every_account_made_by_the_script_can_connect(broker: Broker) -> None:
    for user in broker.passwords:
        broker.client(user)


# --- sensors ---------------------------------------------------------------------------------


def test_sensor_publishes_under_its_own_building(broker: Broker) -> None:
    collector = broker.client("louyu-collector-1")
    assert collector.subscribe("louyu/+/+/+").value == 1
    assert collector.subscribe("louyu/+/+/+/availability").value == 1
    sensor = broker.client("sensor-darong-a")
    assert sensor.publish("louyu/darong-a/aed/aed-a-1f-lobby", aed()).value == 0
    collector.expect("louyu/darong-a/aed/aed-a-1f-lobby", aed())
    assert sensor.publish("louyu/darong-a/aed/aed-a-1f-lobby/availability", b"online").value == 0
    collector.expect("louyu/darong-a/aed/aed-a-1f-lobby/availability", b"online")


def test_sensor_of_darong_a_cannot_publish_for_darong_b(broker: Broker) -> None:
    collector = broker.client("louyu-collector-1")
    collector.subscribe("louyu/+/+/+")
    publish_refused(broker, "sensor-darong-a", "louyu/darong-b/aed/aed-b-1f-lobby", aed("in_use"))
    assert_not_delivered(
        collector,
        "louyu/darong-b/aed/aed-b-1f-lobby",
        broker.client("sensor-darong-a"),
        "louyu/darong-a/aed/aed-a-1f-lobby",
    )


def test_sensor_cannot_forge_alerts_or_notifications(broker: Broker) -> None:
    patrol = broker.client("patrol-li")
    patrol.subscribe("louyu/alerts/#")
    patrol.subscribe("louyu/notify/li")
    for topic in ("louyu/alerts/darong-a/critical/aed-in-use", "louyu/notify/li"):
        publish_refused(broker, "sensor-darong-a", topic)
    assert_not_delivered(
        patrol,
        "louyu/alerts/darong-a/critical/aed-in-use",
        broker.client("louyu-rules"),
        "louyu/alerts/darong-a/info/marker",
    )
    assert_not_delivered(patrol, "louyu/notify/li", broker.client("louyu-notifier"), "louyu/notify/li")


def test_sensor_reads_nothing(broker: Broker) -> None:
    sensor = broker.client("sensor-darong-a")
    rc = sensor.subscribe("louyu/#")
    other = broker.client("sensor-darong-b")
    other.publish("louyu/darong-b/canteen/main-hall", b'{"occupancy": 1}')
    rules = broker.client("louyu-rules")
    rules.publish("louyu/alerts/darong-b/warning/canteen-crowded", b"{}")
    watcher = broker.client("louyu-collector-1")
    watcher.subscribe("louyu/+/+/+")
    marker = b"m"
    other.publish("louyu/darong-b/canteen/main-hall", marker)
    watcher.expect("louyu/darong-b/canteen/main-hall", marker)
    time.sleep(SETTLE_S)
    assert sensor.drain() == [], f"sensor read messages (SUBACK said {rc})"


# --- patrols ---------------------------------------------------------------------------------


def test_patrol_reads_its_notifications_and_alerts(broker: Broker) -> None:
    patrol = broker.client("patrol-li")
    assert patrol.subscribe("louyu/notify/li").value == 1
    assert patrol.subscribe("louyu/alerts/#").value == 1
    notifier = broker.client("louyu-notifier")
    rules = broker.client("louyu-rules")
    assert notifier.publish("louyu/notify/li", b'{"text": "AED cabinet open"}').value == 0
    assert rules.publish("louyu/alerts/darong-b/critical/aed-cabinet-open", b'{"event": "raised"}').value == 0
    patrol.expect("louyu/notify/li", b'{"text": "AED cabinet open"}')
    patrol.expect("louyu/alerts/darong-b/critical/aed-cabinet-open")


def test_patrol_cannot_read_telemetry(broker: Broker) -> None:
    patrol = broker.client("patrol-li")
    rc = patrol.subscribe("louyu/#")
    # MQTT 5: mosquitto may grant `louyu/#` (part of it is readable) and filter per message.
    assert rc.value in (1, NOT_AUTHORIZED)
    patrol.subscribe("louyu/alerts/#")
    sensor = broker.client("sensor-darong-a")
    sensor.publish("louyu/darong-a/parking_space/b1-017", b'{"occupied": true}')
    rules = broker.client("louyu-rules")
    rules.publish("louyu/alerts/darong-a/warning/marker", b"m")
    patrol.expect("louyu/alerts/darong-a/warning/marker", b"m")
    time.sleep(SETTLE_S)
    assert [m.topic for m in patrol.drain() if not m.topic.startswith("louyu/alerts/")] == []


def test_patrol_cannot_read_another_patrols_notifications(broker: Broker) -> None:
    wang = broker.client("patrol-wang")
    rc = wang.subscribe("louyu/notify/li")
    assert rc.value in (1, NOT_AUTHORIZED)
    wang.subscribe("louyu/notify/wang")
    notifier = broker.client("louyu-notifier")
    notifier.publish("louyu/notify/li", b"for li")
    notifier.publish("louyu/notify/wang", b"for wang")
    wang.expect("louyu/notify/wang", b"for wang")
    time.sleep(SETTLE_S)
    assert [m for m in wang.drain() if m.topic == "louyu/notify/li"] == []


def test_patrol_cannot_publish(broker: Broker) -> None:
    collector = broker.client("louyu-collector-1")
    collector.subscribe("louyu/+/+/+")
    other_patrol = broker.client("patrol-wang")
    other_patrol.subscribe("louyu/alerts/#")
    publish_refused(broker, "patrol-li", "louyu/darong-a/aed/aed-a-1f-lobby", aed("in_use"))
    publish_refused(broker, "patrol-li", "louyu/alerts/darong-a/info/ack-by-patrol")
    assert_not_delivered(
        collector,
        "louyu/darong-a/aed/aed-a-1f-lobby",
        broker.client("sensor-darong-a"),
        "louyu/darong-a/aed/marker",
    )
    assert_not_delivered(
        other_patrol,
        "louyu/alerts/darong-a/info/ack-by-patrol",
        broker.client("louyu-rules"),
        "louyu/alerts/darong-a/info/marker",
    )


# --- louyu services --------------------------------------------------------------------------


def test_collectors_share_one_subscription(broker: Broker) -> None:
    """`$share/<group>/louyu/+/+/+`: each message goes to exactly one of the collectors."""
    a = broker.client("louyu-collector-1")
    b = broker.client("louyu-collector-2")
    assert a.subscribe("$share/collectors/louyu/+/+/+").value == 1
    assert b.subscribe("$share/collectors/louyu/+/+/+").value == 1
    sensor = broker.client("sensor-darong-a")
    n = 200
    for i in range(n):
        sensor.publish(f"louyu/darong-a/parking_space/b1-{i:03d}", b'{"occupied": true}')
    deadline = time.monotonic() + 10
    got: list[str] = []
    while len(got) < n and time.monotonic() < deadline:
        got += [m.topic for m in a.drain() + b.drain()]
        time.sleep(0.05)
    time.sleep(SETTLE_S)
    got += [m.topic for m in a.drain() + b.drain()]
    assert sorted(got) == sorted(f"louyu/darong-a/parking_space/b1-{i:03d}" for i in range(n))


def test_collector_cannot_read_alerts_or_write(broker: Broker) -> None:
    collector = broker.client("louyu-collector-1")
    collector.subscribe("louyu/alerts/#")
    collector.subscribe("louyu/+/+/+")
    broker.client("louyu-rules").publish("louyu/alerts/darong-a/critical/aed-in-use", b"{}")
    assert_not_delivered(
        collector,
        "louyu/alerts/darong-a/critical/aed-in-use",
        broker.client("sensor-darong-a"),
        "louyu/darong-a/aed/aed-a-1f-lobby",
    )
    watcher = broker.client("louyu-rules")
    watcher.subscribe("louyu/+/+/+")
    publish_refused(broker, "louyu-collector-1", "louyu/darong-a/aed/forged")
    assert_not_delivered(
        watcher, "louyu/darong-a/aed/forged", broker.client("sensor-darong-a"), "louyu/darong-a/aed/marker"
    )


def test_rules_reads_telemetry_and_both_availabilities(broker: Broker) -> None:
    """Not notifications, though louyu/+/availability matches louyu/notify/availability."""
    got = topics_read(broker, "louyu-rules", EVERY_SHAPE, TELEMETRY)
    assert got == {TELEMETRY[1], DEVICE_AVAILABILITY[1], BUILDING_AVAILABILITY[1]}


def test_rules_per_building_subscriptions_are_covered(broker: Broker) -> None:
    """A runner subscribed to one building's filters gets that building's messages."""
    rules = broker.client("louyu-rules")
    for topic in ("louyu/darong-b/+/+", "louyu/darong-b/+/+/availability", "louyu/darong-b/availability"):
        assert not rules.subscribe(topic).is_failure
    sensor = broker.client("sensor-darong-b")
    for topic in (
        "louyu/darong-b/aed/aed-b-1f-lobby",
        "louyu/darong-b/aed/aed-b-1f-lobby/availability",
        "louyu/darong-b/availability",
    ):
        assert sensor.publish(topic, b"offline").value == 0
        rules.expect(topic, b"offline")


def test_rules_writes_only_alerts(broker: Broker) -> None:
    patrol = broker.client("patrol-li")
    patrol.subscribe("louyu/notify/li")
    patrol.subscribe("louyu/alerts/#")
    rules = broker.client("louyu-rules")
    assert rules.publish(ALERT[1], b'{"event": "raised"}').value == 0
    patrol.expect(ALERT[1], b'{"event": "raised"}')
    publish_refused(broker, "louyu-rules", "louyu/notify/li")
    assert_not_delivered(
        patrol, "louyu/notify/li", broker.client("louyu-rules"), "louyu/alerts/darong-b/critical/aed-in-use"
    )
    collector = broker.client("louyu-collector-1")
    collector.subscribe("louyu/+/+/+")
    publish_refused(broker, "louyu-rules", "louyu/darong-b/aed/aed-b-1f-lobby", aed("ready"))
    assert_not_delivered(
        collector,
        "louyu/darong-b/aed/aed-b-1f-lobby",
        broker.client("sensor-darong-a"),
        "louyu/darong-a/aed/m",
    )


def test_collector_reads_telemetry_and_device_availability_only(broker: Broker) -> None:
    """Not an alert event of a rule named `availability`, which louyu/+/+/+/availability matches."""
    alert_named_availability = ("louyu-rules", "louyu/alerts/darong-a/major/availability")
    got = topics_read(broker, "louyu-collector-1", (*EVERY_SHAPE, alert_named_availability), TELEMETRY)
    assert got == {TELEMETRY[1], DEVICE_AVAILABILITY[1]}


def test_notifier_reads_alerts_and_telemetry(broker: Broker) -> None:
    """Alert events, and the readings and device availability of the building status snapshot
    (rules/notify/: an offline device's figures are stale there as in the API)."""
    got = topics_read(broker, "louyu-notifier", EVERY_SHAPE, TELEMETRY)
    # louyu/notify/team/li(/availability) match its telemetry filters; the notifier may write under
    # louyu/notify/# itself, and its parser refuses the reserved building name `notify`.
    assert got == {
        TELEMETRY[1],
        DEVICE_AVAILABILITY[1],
        ALERT[1],
        "louyu/notify/team/li",
        "louyu/notify/team/li/availability",
    }


def test_notifier_writes_notifications_and_its_own_alerts(broker: Broker) -> None:
    """Notifications for patrols, and the alert it raises when a critical one cannot be delivered."""
    patrol = broker.client("patrol-li")
    patrol.subscribe("louyu/notify/li")
    patrol.subscribe("louyu/alerts/#")
    notifier = broker.client("louyu-notifier")
    assert notifier.publish("louyu/notify/li", b'{"text": "AED cabinet open"}').value == 0
    patrol.expect("louyu/notify/li", b'{"text": "AED cabinet open"}')
    failed = "louyu/alerts/darong-a/major/notify-delivery-failed"
    assert notifier.publish(failed, b'{"event": "raised"}').value == 0
    patrol.expect(failed, b'{"event": "raised"}')
    collector = broker.client("louyu-collector-1")
    collector.subscribe("louyu/+/+/+")
    publish_refused(broker, "louyu-notifier", "louyu/darong-a/aed/aed-a-1f-lobby", aed("in_use"))
    assert_not_delivered(
        collector,
        "louyu/darong-a/aed/aed-a-1f-lobby",
        broker.client("sensor-darong-a"),
        "louyu/darong-a/aed/m",
    )


def test_api_reads_telemetry_device_availability_and_alerts(broker: Broker) -> None:
    got = topics_read(broker, "louyu-api", EVERY_SHAPE, TELEMETRY)
    assert got == {TELEMETRY[1], DEVICE_AVAILABILITY[1], ALERT[1]}


def test_api_writes_alert_events_and_drill_readings_only(broker: Broker) -> None:
    """Acks, resolves and incident steps made through the API go out on its own connection
    (api/publisher.py), and so do the AED readings of a drill (api/routes/drills.py); no other
    telemetry, no notification."""
    patrol = broker.client("patrol-li")
    patrol.subscribe("louyu/notify/li")
    patrol.subscribe("louyu/alerts/#")
    api = broker.client("louyu-api")
    assert api.publish(ALERT[1], b'{"event": "acknowledged"}').value == 0
    patrol.expect(ALERT[1], b'{"event": "acknowledged"}')
    publish_refused(broker, "louyu-api", "louyu/notify/li")
    assert_not_delivered(
        patrol, "louyu/notify/li", broker.client("louyu-api"), "louyu/alerts/darong-a/info/marker"
    )
    collector = broker.client("louyu-collector-1")
    collector.subscribe("louyu/+/+/+")
    collector.subscribe("louyu/+/+/+/availability")
    drill = b'{"state": "in_use", "cabinet_open": true, "drill": true}'
    assert broker.client("louyu-api").publish("louyu/darong-a/aed/aed-a-1f-lobby", drill).value == 0
    collector.expect("louyu/darong-a/aed/aed-a-1f-lobby", drill)
    for refused in ("louyu/darong-a/parking_space/b1-001", "louyu/darong-a/aed/aed-a-1f-lobby/availability"):
        publish_refused(broker, "louyu-api", refused, b'{"occupied": true}')
        assert_not_delivered(collector, refused, broker.client("sensor-darong-a"), "louyu/darong-a/aed/m")


# --- the broker settings the collector needs ---------------------------------------------------


def test_persistent_session_keeps_a_backlog_beyond_mosquittos_default(broker: Broker) -> None:
    """max_queued_messages 0: more than the default 1000 QoS 1 messages wait for the collector."""
    first = broker.client("louyu-collector-1", clean_start=True, session_expiry_s=600)
    first.subscribe("louyu/+/+/+", qos=1)
    first.close()
    sensor = broker.client("sensor-darong-a")
    n = 1500
    for i in range(n):
        sensor.client.publish(f"louyu/darong-a/parking_space/q-{i:04d}", b'{"occupied": false}', qos=1)
    sensor.publish("louyu/darong-a/parking_space/q-last", b"last")  # waits for every PUBACK before it
    again = broker.client("louyu-collector-1", clean_start=False, session_expiry_s=600)
    deadline = time.monotonic() + 15
    got: set[str] = set()
    while len(got) < n + 1 and time.monotonic() < deadline:
        got |= {m.topic for m in again.drain()}
        time.sleep(0.05)
    assert len(got) == n + 1


# --- accounts.sh -------------------------------------------------------------------------------


def test_removed_account_is_refused_after_reload(broker: Broker) -> None:
    user, password = accounts(broker.config_dir, "patrol", "zhao").split()
    assert user == "patrol-zhao"
    assert "user patrol-zhao" in (broker.config_dir / "acl").read_text()
    broker.server.proc.send_signal(1)  # type: ignore[union-attr]  # SIGHUP: reload passwd and ACL
    deadline = time.monotonic() + 5
    while not broker.probe(user, password).connected_ok():
        assert time.monotonic() < deadline, "new account not accepted after SIGHUP"
        time.sleep(0.1)
    accounts(broker.config_dir, "remove", user)
    assert "patrol-zhao" not in (broker.config_dir / "acl").read_text()
    assert "patrol-zhao" not in (broker.config_dir / "passwd").read_text()
    broker.server.proc.send_signal(1)  # type: ignore[union-attr]
    deadline = time.monotonic() + 5
    while broker.probe(user, password).connected_ok():
        assert time.monotonic() < deadline, "removed account still accepted after SIGHUP"
        time.sleep(0.1)


def test_accounts_script_refuses_reserved_and_malformed_names(tmp_path: Path) -> None:
    shutil.copy(MOSQUITTO_DIR / "acl", tmp_path / "acl")
    env = {**os.environ, "MOSQUITTO_CONFIG_DIR": str(tmp_path), "MOSQUITTO_GID": str(os.getegid())}
    for args in (
        ("sensor", "alerts"),
        ("sensor", "notify"),
        ("sensor", "Darong-A"),
        ("patrol", "a/b"),
        ("sensor", ""),
        ("sensor", "darong-a", "Gateway.2"),
        ("patrol", "li", "x/y"),
        ("service", "rules", "louyu-collector-9"),
        ("service", "collector", "louyu-collector-1"),
        ("service", "broker", "louyu-broker-1"),
        ("service", "rules", "sensor-darong-a"),
    ):
        result = subprocess.run(
            ["bash", str(ACCOUNTS), *args], env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 2, args
    assert (tmp_path / "acl").read_text() == (MOSQUITTO_DIR / "acl").read_text()


def test_services_need_every_password(tmp_path: Path) -> None:
    shutil.copy(MOSQUITTO_DIR / "acl", tmp_path / "acl")
    env_file = tmp_path / ".env"
    env_file.write_text("LOUYU_COLLECTOR_MQTT_PASSWORD=abc\n")
    env = {**os.environ, "MOSQUITTO_CONFIG_DIR": str(tmp_path), "MOSQUITTO_GID": str(os.getegid())}
    result = subprocess.run(
        ["bash", str(ACCOUNTS), "services", str(env_file)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "LOUYU_COLLECTOR_2_MQTT_PASSWORD is not set" in result.stderr
    # the password itself is hashed, never stored in the clear
    assert "abc" not in (tmp_path / "passwd").read_text()


# --- the TLS listener --------------------------------------------------------------------------


def test_tls_listener_serves_the_same_accounts(tmp_path: Path) -> None:
    if not openssl_available():
        pytest.skip("openssl is not installed")
    root = tmp_path
    config_dir = root / "config"
    (config_dir / "conf.d").mkdir(parents=True)
    (root / "data").mkdir()
    shutil.copy(MOSQUITTO_DIR / "acl", config_dir / "acl")
    certs = make_certificates(root / "certs")
    tls_port = free_port()
    tls_conf = (MOSQUITTO_DIR / "tls.conf").read_text().replace("/mosquitto/certs/", f"{root}/certs/")
    tls_conf, n = re.subn(r"^listener 8883$", f"listener {tls_port} 127.0.0.1", tls_conf, flags=re.M)
    assert n == 1
    # The files the shipped tls.conf names are the ones an operator puts in certs/ (as made here).
    named = dict(re.findall(r"^(certfile|keyfile|cafile) (\S+)$", tls_conf, flags=re.M))
    assert named == {"certfile": str(certs.cert), "keyfile": str(certs.key), "cafile": str(certs.ca)}
    # The documented way to turn TLS on: copy tls.conf into conf.d/.
    (config_dir / "conf.d" / "tls.conf").write_text(tls_conf)
    user, password = accounts(config_dir, "sensor", "darong-c").split()
    patrol, patrol_password = accounts(config_dir, "patrol", "li").split()
    server = ShippedMosquitto(root, free_port())
    server.start()
    probes: list[Probe] = []
    try:
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", tls_port):
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.05)
        ca = str(certs.ca)
        good = Probe(tls_port, user, password, client_id="gateway-c", tls_ca=ca)
        probes.append(good)
        assert good.connected_ok()
        assert good.publish("louyu/darong-c/aed/aed-c-1f-lobby", aed()).value in (0, 0x10)
        # the account name is the client id on this listener too: a handset sending the gateway's
        # id does not throw it off
        thief = Probe(tls_port, patrol, patrol_password, client_id="gateway-c", tls_ca=ca)
        probes.append(thief)
        assert thief.connected_ok()
        time.sleep(SETTLE_S)
        assert good.is_open(), "a client of another account took the gateway's place on the TLS listener"
        assert good.publish("louyu/darong-c/aed/aed-c-1f-lobby", aed()).value in (0, 0x10)
        bad = Probe(tls_port, user, "wrong", tls_ca=ca)
        probes.append(bad)
        rc = bad.connect()
        assert rc is not None and rc.is_failure
        anonymous = Probe(tls_port, None, None, tls_ca=ca)
        probes.append(anonymous)
        rc = anonymous.connect()
        assert rc is not None and rc.is_failure
    finally:
        for p in probes:
            p.close()
        server.kill()


# --- the compose healthcheck of the broker ---------------------------------------------------------


def broker_healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    import yaml

    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    kind, command = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    assert "-p 1883" in command
    # compose turns `$$` into `$`; the command is then run by /bin/sh in the container
    command = command.replace("$$", "$").replace("-p 1883", f"-p {port}")
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30, check=False)


def test_compose_healthcheck_passes_on_the_shipped_broker(broker: Broker) -> None:
    assert broker_healthcheck(broker.port).returncode == 0


def test_compose_healthcheck_fails_without_a_broker() -> None:
    assert broker_healthcheck(free_port()).returncode != 0
