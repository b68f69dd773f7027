"""The notifier's broker connection: TLS and an account, as an installation with a private CA has them.

A real mosquitto with a TLS-only listener (certificates from a private CA) and a password file; the
notifier reaches it with the settings an operator sets (`LOUYU_MQTT_URL=mqtts://...`,
`LOUYU_MQTT_TLS_CA_FILE`, the account), and a patrol handset on the same listener hears of an alert.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from collector.registry import Registry
from louyu.testing.services import Mosquitto
from louyu.testing.tls import Certificates, make_certificates, openssl_available
from rules.database import make_engine
from rules.notify.config import parse_routing
from rules.notify.service import MqttOptions, NotifierService
from rules.store import AlertStore
from tests.notify.helpers import new_alert

ROUTING = "receivers: [{name: patrol, mqtt: {}}]\nroutes: [{receivers: [patrol]}]"
USER = "louyu-notifier"
PASSWORD = "notifier-test-password"  # a throwaway account of a broker that lives for this module only
REFUSED_S = 2.0  # long enough for a TLS handshake and a CONNACK on loopback, several times over


def test_options_keep_the_password_out_of_their_repr() -> None:
    options = MqttOptions("broker.example", 8883, tls=True, username=USER, password=PASSWORD)
    assert PASSWORD not in repr(options)
    assert USER in repr(options) and "8883" in repr(options)


@dataclass
class TlsBroker:
    server: Mosquitto
    certs: Certificates

    def options(self, **changes: Any) -> MqttOptions:
        base = MqttOptions(
            "127.0.0.1", self.server.port, tls=True, username=USER, password=PASSWORD, ca_file=self.certs.ca
        )
        return replace(base, **changes)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    if not openssl_available():
        pytest.skip("openssl is not installed")
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed (Debian package mosquitto)")
    root = tmp_path_factory.mktemp("tls-broker")
    certs = make_certificates(root / "certs")
    passwd = root / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(passwd), USER, PASSWORD],
        check=True,
        capture_output=True,
        timeout=30,
    )
    passwd.chmod(0o600)
    # Listener settings follow the one listener line, so this listener speaks TLS only.
    server = Mosquitto(
        root / "broker",
        anonymous=False,
        extra={
            "password_file": str(passwd),
            "cafile": str(certs.ca),
            "certfile": str(certs.cert),
            "keyfile": str(certs.key),
        },
    )
    server.start()
    yield TlsBroker(server, certs)
    server.kill()


class Handset:
    """A patrol handset on the TLS listener, with the notifier's account (the ACL is not under test)."""

    def __init__(self, broker: TlsBroker) -> None:
        self.heard: queue.Queue[dict[str, Any]] = queue.Queue()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="handset-tls")
        self.client.username_pw_set(USER, PASSWORD)
        self.client.tls_set(ca_certs=str(broker.certs.ca))
        self.client.on_connect = lambda c, *_: c.subscribe("louyu/notify/patrol", qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.heard.put(json.loads(m.payload))
        self.client.connect("127.0.0.1", broker.server.port)
        self.client.loop_start()
        assert subscribed.wait(10), "the handset did not subscribe over TLS"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def notifier_for(tmp_path: Path, options: MqttOptions) -> NotifierService:
    engine = make_engine(f"sqlite:///{tmp_path / 'louyu.db'}")
    return NotifierService(parse_routing(ROUTING), Registry.load(), engine, options, poll_s=0.1)


@pytest.mark.integration
def test_notifier_reaches_a_tls_broker_with_its_account(tmp_path: Path, tls_broker: TlsBroker) -> None:
    notifier = notifier_for(tmp_path, tls_broker.options())
    handset = None
    try:
        handset = Handset(tls_broker)
        notifier.start()
        assert notifier.connected.wait(10), tls_broker.server.log_tail()
        raised = AlertStore(notifier.engine).raise_alert(new_alert(), dt.datetime.now(dt.UTC))
        assert raised is not None
        message = handset.heard.get(timeout=10)
        assert message["delivery_id"] == f"evt-{raised.id}-patrol"
        assert message["event"] == "raised" and message["alert"]["rule"] == "aed-cabinet-open"
    finally:
        if handset is not None:
            handset.close()
        notifier.stop()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("why", "changes"),
    [
        ("a wrong password", {"password": "not-the-password"}),
        ("no account", {"username": None, "password": None}),
        # Without the private CA the system's trust store is used, which has never heard of it.
        pytest.param(
            "a certificate it cannot verify",
            {"ca_file": None},
            # paho 2.2 leaves the socket of a failed TLS handshake for the garbage collector to close.
            marks=pytest.mark.filterwarnings(
                r"ignore:Exception ignored in. <ssl\.SSLSocket:pytest.PytestUnraisableExceptionWarning"
            ),
        ),
    ],
)
def test_notifier_does_not_connect_with(
    tmp_path: Path, tls_broker: TlsBroker, why: str, changes: dict[str, Any]
) -> None:
    notifier = notifier_for(tmp_path, tls_broker.options(**changes))
    try:
        notifier.start()
        assert not notifier.connected.wait(REFUSED_S), why
    finally:
        notifier.stop()
        gc.collect()  # any socket paho left behind is closed here, under this test's warning filters


@pytest.mark.integration
def test_tls_insecure_means_what_it_means_for_the_collector(tmp_path: Path, tls_broker: TlsBroker) -> None:
    """LOUYU_MQTT_TLS_INSECURE is one setting for every part: the certificate is not checked at all."""
    notifier = notifier_for(tmp_path, tls_broker.options(ca_file=None, tls_insecure=True))
    try:
        notifier.start()
        assert notifier.connected.wait(10), tls_broker.server.log_tail()
    finally:
        notifier.stop()
