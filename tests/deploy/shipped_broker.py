"""The shipped broker configuration (deploy/mosquitto/) run for real, with real accounts.

The broker runs `deploy/mosquitto/mosquitto.conf` itself, with only its paths and listener
rewritten for a temp dir and a free port; the accounts are made by `deploy/mosquitto/accounts.sh`
(mosquitto_passwd underneath) into a copy of the shipped ACL. The `shipped_broker` fixture of
tests/deploy/conftest.py starts one per test module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from louyu.testing.services import Mosquitto, free_port
from tests.deploy.mqtt_probe import Probe

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MOSQUITTO_DIR = DEPLOY / "mosquitto"
ACCOUNTS = MOSQUITTO_DIR / "accounts.sh"
# The env file's password variable of each service account `accounts.sh services` makes.
SERVICES = {
    "louyu-collector-1": "LOUYU_COLLECTOR_MQTT_PASSWORD",
    "louyu-collector-2": "LOUYU_COLLECTOR_2_MQTT_PASSWORD",
    "louyu-rules": "LOUYU_RULES_MQTT_PASSWORD",
    "louyu-notifier": "LOUYU_NOTIFIER_MQTT_PASSWORD",
    "louyu-api": "LOUYU_API_MQTT_PASSWORD",
}
# The other accounts every shipped broker of the tests has, as `accounts.sh` arguments: two
# buildings' gateways and a second gateway of darong-a, two patrols, and a rules engine of its own
# for darong-a (LOUYU_RULES_BUILDINGS).
SENSORS = (("darong-a",), ("darong-b",), ("darong-a", "2"))
PATROLS = (("li",), ("wang",))
INSTANCES = (("rules", "louyu-rules-darong-a"),)
SETTLE_S = 0.3  # after the marker has arrived, how long a refused message gets to show up anyway


def compose_env(service: str) -> dict[str, str]:
    """The service's environment in deploy/docker-compose.yml, `${VAR:-default}` as its default."""
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    env = compose["services"][service]["environment"]
    return {str(k): re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()}


def rewrite_config(text: str, root: Path, port: int) -> str:
    """The shipped mosquitto.conf with its container paths and listener moved to `root`/`port`."""
    text = text.replace("/mosquitto/config/", f"{root}/config/")
    text = text.replace("/mosquitto/data/", f"{root}/data/")
    text = text.replace("/mosquitto/certs/", f"{root}/certs/")
    text, n = re.subn(r"^listener 1883$", f"listener {port} 127.0.0.1", text, flags=re.M)
    assert n == 1, "the shipped config has no plain `listener 1883` line any more"
    if os.geteuid() == 0:
        # Started as root, mosquitto drops to the `mosquitto` account before reading the password
        # file, and pytest's temp dirs are root's only; in the image it runs as its own user.
        text += "\nuser root\n"
    return text


class ShippedMosquitto(Mosquitto):
    name = "mosquitto-shipped"

    def __init__(self, root: Path, port: int | None = None, edit: Callable[[str], str] | None = None) -> None:
        super().__init__(root / "run", port=port)
        self.root = root
        self.edit = edit

    def write_config(self) -> Path:
        conf = self.root / "config" / "mosquitto.conf"
        text = rewrite_config((MOSQUITTO_DIR / "mosquitto.conf").read_text(), self.root, self.port)
        conf.write_text(self.edit(text) if self.edit is not None else text)
        return conf


def accounts(config_dir: Path, *args: str) -> str:
    """Run deploy/mosquitto/accounts.sh on `config_dir`; its standard output."""
    env = {**os.environ, "MOSQUITTO_CONFIG_DIR": str(config_dir), "MOSQUITTO_GID": str(os.getegid())}
    result = subprocess.run(
        ["bash", str(ACCOUNTS), *args], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@dataclass
class Broker:
    server: ShippedMosquitto
    config_dir: Path
    passwords: dict[str, str]
    probes: list[Probe] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    def probe(self, user: str | None, password: str | None = None, **kwargs: object) -> Probe:
        if user is not None and password is None:
            password = self.passwords[user]
        p = Probe(self.port, user, password, **kwargs)  # type: ignore[arg-type]
        self.probes.append(p)
        return p

    def client(self, user: str, **kwargs: object) -> Probe:
        """A connected client of `user`: its open plain connection if it has one.

        The broker takes the account name as client id (use_username_as_clientid), so a second
        connection of an account would take the first one's place: an account's plain clients in
        a test are one connection, as a gateway's sensors are. A client with its own session
        settings (`kwargs`) is a connection of its own.
        """
        if not kwargs:
            for open_probe in self.probes:
                if open_probe.username == user and open_probe.plain and open_probe.is_open():
                    return open_probe
        p = self.probe(user, None, **kwargs)
        rc = p.connect()
        assert rc is not None, f"{user}: no CONNACK"
        assert not rc.is_failure, f"{user}: {rc}"
        return p

    def close_probes(self) -> None:
        for p in self.probes:
            p.close()
        self.probes.clear()


def start_shipped_broker(root: Path, edit: Callable[[str], str] | None = None) -> Broker:
    """A broker on the shipped configuration and ACL (no TLS), with the SERVICES accounts and
    those of SENSORS, PATROLS and INSTANCES made by accounts.sh."""
    config_dir = root / "config"
    shutil.copytree(MOSQUITTO_DIR / "conf.d", config_dir / "conf.d")  # as shipped: no TLS yet
    (root / "data").mkdir()
    shutil.copy(MOSQUITTO_DIR / "acl", config_dir / "acl")

    passwords: dict[str, str] = {}
    env_file = root / "test.env"
    lines = []
    for account, variable in SERVICES.items():
        passwords[account] = pw = os.urandom(12).hex()
        lines.append(f'{variable}="{pw}"')
    env_file.write_text("\n".join(lines) + "\n")
    out = accounts(config_dir, "services", str(env_file))
    assert sorted(out.splitlines()) == sorted(f"account {account} set" for account in SERVICES), out
    for kind, arguments in (("sensor", SENSORS), ("patrol", PATROLS), ("service", INSTANCES)):
        for args in arguments:
            user, password = accounts(config_dir, kind, *args).split()
            passwords[user] = password

    server = ShippedMosquitto(root, free_port(), edit)
    server.start()
    return Broker(server, config_dir, passwords)


# Sample topics of every shape (contract sections 1 and 3), each with an account that may publish it.
TELEMETRY = ("sensor-darong-a", "louyu/darong-a/aed/aed-a-1f-lobby")
DEVICE_AVAILABILITY = ("sensor-darong-a", "louyu/darong-a/aed/aed-a-1f-lobby/availability")
BUILDING_AVAILABILITY = ("sensor-darong-a", "louyu/darong-a/availability")
ALERT = ("louyu-rules", "louyu/alerts/darong-a/critical/aed-cabinet-open")
NOTIFICATION = ("louyu-notifier", "louyu/notify/li")
# Notifications that the telemetry filters match too: a receiver named `availability`, and a
# receiver's own topic under louyu/notify/ (rules/notify/config.py allows both).
ODD_NOTIFICATIONS = (
    ("louyu-notifier", "louyu/notify/availability"),
    ("louyu-notifier", "louyu/notify/team/li"),
    ("louyu-notifier", "louyu/notify/team/li/availability"),
)
EVERY_SHAPE = (TELEMETRY, DEVICE_AVAILABILITY, BUILDING_AVAILABILITY, ALERT, NOTIFICATION, *ODD_NOTIFICATIONS)


def topics_read(
    broker: Broker, user: str, sent: tuple[tuple[str, str], ...], marker: tuple[str, str]
) -> set[str]:
    """Which of the `sent` (publisher, topic) messages reach `user` subscribed to everything.

    Mosquitto 2 grants a subscription to `#` and checks each message against the reader's ACL on
    delivery, so this asks the ACL about each topic. `marker` is a message `user` may read, sent
    last: once it has arrived, everything sent before it has been delivered or refused.
    """
    reader = broker.client(user)
    assert not reader.subscribe("#").is_failure
    publishers: dict[str, Probe] = {}
    for publisher, _topic in (*sent, marker):
        if publisher not in publishers:
            publishers[publisher] = broker.client(publisher)
    for publisher, topic in sent:
        assert publishers[publisher].publish(topic, b"sample").value in (0, 0x10), topic
    payload = f"marker-{time.monotonic_ns()}".encode()
    publishers[marker[0]].publish(marker[1], payload)
    reader.expect(marker[1], payload)
    time.sleep(SETTLE_S)
    return {m.topic for m in reader.drain() if m.payload == b"sample"}
