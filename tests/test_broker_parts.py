"""Every part reaches the broker the same way: one target from the settings, one client factory.

A real mosquitto with a TLS-only listener (a private CA) and accounts; each of the five parts that
connect (collector, rules engine, notifier, API feed, simulator) is built from one `Settings`
exactly as its command wires it, and must connect or be refused for the same settings. What each
part actually sent is read from the broker's own connection log: protocol level, keep-alive and
account.
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from prometheus_client import CollectorRegistry

from api.mqtt_feed import MqttFeed
from collector.latest import LatestState
from collector.registry import Registry
from collector.service import Collector
from louyu.commands import api as api_cmd
from louyu.commands import collector as collector_cmd
from louyu.commands import notifier as notifier_cmd
from louyu.commands import rules as rules_cmd
from louyu.settings import Settings
from louyu.simulate.connection import MqttPublisher
from louyu.testing.services import Mosquitto
from louyu.testing.tls import (
    Certificates,
    make_client_certificate,
    tls_broker,
)

pytestmark = [
    pytest.mark.integration,
    # paho 2.2 leaves the socket of a failed TLS handshake for the garbage collector to close.
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <ssl\.SSLSocket:pytest.PytestUnraisableExceptionWarning"
    ),
]

USER = "louyu"
PASSWORD = "parts-test-password"  # a throwaway account of brokers that live for this module only
CONNECT_S = 10.0
REFUSED_S = 2.0  # long enough for a TLS handshake and a CONNACK on loopback, several times over


@dataclass
class Brokers:
    certs: Certificates
    client_cert: tuple[Path, Path]
    plain: Mosquitto  # server certificate and accounts
    mutual: Mosquitto  # and a client certificate of the CA required


@pytest.fixture(scope="module")
def brokers(tmp_path_factory: pytest.TempPathFactory, tls_certificates: Certificates) -> Iterator[Brokers]:
    root = tmp_path_factory.mktemp("tls-parts")
    certs = tls_certificates
    client_cert = make_client_certificate(certs, "louyu-client")
    plain = tls_broker(root / "plain", certs, {USER: PASSWORD})
    mutual = tls_broker(root / "mutual", certs, {USER: PASSWORD}, require_certificate=True)
    plain.start()
    mutual.start()
    yield Brokers(certs, client_cert, plain, mutual)
    plain.kill()
    mutual.kill()


class Connection:
    """One part's broker connection, started; `client` is the paho client it connects with."""

    def __init__(
        self, client: mqtt.Client, connected: Callable[[float], bool], stop: Callable[[], None]
    ) -> None:
        self.client, self.connected, self.stop = client, connected, stop

    @property
    def client_id(self) -> str:
        return bytes(self.client._client_id).decode()


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def start_collector(settings: Settings, registry: Registry) -> Connection:
    config = collector_cmd.build(settings, registry).config
    part = Collector(config, registry, CollectorRegistry())
    part.start(wait_s=0)
    return Connection(part.source.client, lambda t: wait_for(lambda: part.source.connected, t), part.stop)


def start_rules(settings: Settings, registry: Registry) -> Connection:
    runner = rules_cmd.build(settings, registry)
    failed: list[BaseException] = []

    def connected(timeout: float) -> bool:
        try:
            runner.start(timeout)
        except TimeoutError as error:  # start() stops the runner itself then
            failed.append(error)
            return False
        return True

    def stop() -> None:
        if not failed:
            runner.stop()

    return Connection(runner.client, connected, stop)


def start_notifier(settings: Settings, registry: Registry) -> Connection:
    notifier = notifier_cmd.build(settings, registry)
    notifier.start()
    assert notifier.client is not None
    return Connection(notifier.client, notifier.connected.wait, notifier.stop)


def start_api_feed(settings: Settings, registry: Registry) -> Connection:
    config = api_cmd.api_config(settings)
    assert config.mqtt is not None
    feed = MqttFeed(config.mqtt, LatestState(None), lambda: None, config.mqtt_client_id)
    feed.start()
    return Connection(feed.client, lambda t: wait_for(lambda: feed.connected, t), feed.stop)


def start_simulator(settings: Settings, registry: Registry) -> Connection:
    publisher = MqttPublisher(settings.broker, client_id="louyu-simulate-parts")
    publisher.start()
    return Connection(publisher.client, publisher.wait_connected, publisher.stop)


PARTS: dict[str, Callable[[Settings, Registry], Connection]] = {
    "collector": start_collector,
    "rules": start_rules,
    "notifier": start_notifier,
    "api": start_api_feed,
    "simulator": start_simulator,
}


def settings_for(broker: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """The settings an operator sets, in the environment, for one installation."""
    values = {
        "LOUYU_MQTT_URL": f"mqtts://127.0.0.1:{broker.port}",
        "LOUYU_MQTT_USERNAME": USER,
        "LOUYU_MQTT_PASSWORD": PASSWORD,
        "LOUYU_STATE_DIR": str(tmp_path / "state"),
        **env,
    }
    for name, value in values.items():
        if value:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)
    (tmp_path / "state").mkdir(exist_ok=True)
    return Settings()


def connection_line(broker: Mosquitto, client_id: str) -> str:
    """The broker's own record of a connection: `(p5, c1, k30, u'louyu')`."""
    pattern = re.compile(rf"New client connected from \S+ as {re.escape(client_id)} \((.*?)\)")
    found: list[str] = []

    def seen() -> bool:
        log = broker.workdir / "connections.log"
        found[:] = pattern.findall(log.read_text("utf-8", "replace") if log.exists() else "")
        return bool(found)

    assert wait_for(seen, 5), f"no connection of {client_id} in the broker log:\n{broker.log_tail()}"
    return found[-1]


def run(part: str, settings: Settings, registry: Registry, timeout: float) -> tuple[bool, str]:
    connection = PARTS[part](settings, registry)
    try:
        return connection.connected(timeout), connection.client_id
    finally:
        connection.stop()
        gc.collect()  # any socket paho left behind is closed here, under this module's filters


@pytest.fixture
def registry() -> Registry:
    return Registry.load()


@pytest.mark.parametrize("part", PARTS)
def test_connects_with_the_ca_and_the_account(
    part: str, brokers: Brokers, registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(
        brokers.plain, tmp_path, monkeypatch, LOUYU_MQTT_TLS_CA_FILE=str(brokers.certs.ca)
    )
    connected, client_id = run(part, settings, registry, CONNECT_S)
    assert connected, brokers.plain.log_tail()
    flags = connection_line(brokers.plain, client_id)
    assert "p5" in flags and "k30" in flags and f"u'{USER}'" in flags, flags


@pytest.mark.parametrize("part", PARTS)
def test_protocol_and_keepalive_mean_the_same_everywhere(
    part: str, brokers: Brokers, registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(
        brokers.plain,
        tmp_path,
        monkeypatch,
        LOUYU_MQTT_TLS_CA_FILE=str(brokers.certs.ca),
        LOUYU_MQTT_PROTOCOL="3.1.1",
        LOUYU_MQTT_KEEPALIVE_S="17",
    )
    connected, client_id = run(part, settings, registry, CONNECT_S)
    assert connected, brokers.plain.log_tail()
    flags = connection_line(brokers.plain, client_id)
    # protocol level 4 is MQTT 3.1.1
    assert "p2" in flags and "k17" in flags and f"u'{USER}'" in flags, flags


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize(
    ("why", "env"),
    [
        ("a wrong password", {"LOUYU_MQTT_PASSWORD": "not-the-password"}),
        ("no account", {"LOUYU_MQTT_USERNAME": "", "LOUYU_MQTT_PASSWORD": ""}),
        # Without the private CA the system's trust store is used, which has never heard of it.
        ("a certificate it cannot verify", {"LOUYU_MQTT_TLS_CA_FILE": ""}),
    ],
)
def test_is_refused_with(
    part: str,
    why: str,
    env: dict[str, str],
    brokers: Brokers,
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(
        brokers.plain, tmp_path, monkeypatch, **{"LOUYU_MQTT_TLS_CA_FILE": str(brokers.certs.ca), **env}
    )
    connected, _ = run(part, settings, registry, REFUSED_S)
    assert not connected, why


@pytest.mark.parametrize("part", PARTS)
def test_tls_insecure_skips_the_certificate_check_in_every_part(
    part: str, brokers: Brokers, registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOUYU_MQTT_TLS_INSECURE: no CA file and a certificate nobody vouches for, and still connected."""
    monkeypatch.delenv("LOUYU_MQTT_TLS_CA_FILE", raising=False)
    settings = settings_for(brokers.plain, tmp_path, monkeypatch, LOUYU_MQTT_TLS_INSECURE="true")
    connected, _ = run(part, settings, registry, CONNECT_S)
    assert connected, brokers.plain.log_tail()


@pytest.mark.parametrize("part", PARTS)
def test_client_certificate(
    part: str, brokers: Brokers, registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker that requires a client certificate: the part presents LOUYU_MQTT_TLS_CERT_FILE/KEY_FILE,
    and without them it is refused."""
    cert, key = brokers.client_cert
    ca = str(brokers.certs.ca)
    without = settings_for(brokers.mutual, tmp_path, monkeypatch, LOUYU_MQTT_TLS_CA_FILE=ca)
    assert not run(part, without, registry, REFUSED_S)[0], "connected without a client certificate"
    settings = settings_for(
        brokers.mutual,
        tmp_path,
        monkeypatch,
        LOUYU_MQTT_TLS_CA_FILE=ca,
        LOUYU_MQTT_TLS_CERT_FILE=str(cert),
        LOUYU_MQTT_TLS_KEY_FILE=str(key),
    )
    connected, _ = run(part, settings, registry, CONNECT_S)
    assert connected, brokers.mutual.log_tail()
