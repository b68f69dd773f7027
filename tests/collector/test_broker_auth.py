"""`mqtts://` with a username and password, as a production broker would require."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from collector.broker import BrokerTarget
from collector.registry import Registry
from collector.service import Collector, CollectorConfig, InfluxTarget
from louyu.testing.clients import influx_count, publish_all
from louyu.testing.services import Influxd, Mosquitto
from louyu.testing.tls import make_certificates, openssl_available
from tests.collector.conftest import StartCollector, settle

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not openssl_available(), reason="openssl is not installed"),
]


def test_collector_over_tls_with_a_password(
    tmp_path: Path, influxd: Influxd, start_collector: StartCollector
) -> None:
    certs = make_certificates(tmp_path / "certs")
    passwd = tmp_path / "passwd"
    passwd.touch()
    for user, password in [("collector", "c0llect-pw"), ("sensor", "s3nsor-pw")]:
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
    passwd.chmod(0o644)
    broker = Mosquitto(
        tmp_path / "broker",
        anonymous=False,
        extra_lines=[f"certfile {certs.cert}", f"keyfile {certs.key}", f"password_file {passwd}"],
    )
    broker.start()
    try:
        refused = Collector(
            CollectorConfig(
                broker=BrokerTarget(
                    "127.0.0.1",
                    broker.port,
                    tls=True,
                    username="collector",
                    password="wrong",
                    ca_file=certs.ca,
                ),
                influx=InfluxTarget(influxd.url),
                spool_path=tmp_path / "x-spool.db",
                dead_letter_path=tmp_path / "x-dead.db",
                client_id="louyu-wrong-password",
            ),
            Registry.load(),
            CollectorRegistry(),
        )
        try:
            assert not refused.start(wait_s=2), "a wrong password must not subscribe"
        finally:
            refused.stop()

        collector = start_collector(
            broker.port,
            InfluxTarget(influxd.url),
            broker=BrokerTarget(
                "127.0.0.1",
                broker.port,
                tls=True,
                username="collector",
                password="c0llect-pw",
                ca_file=certs.ca,
            ),
        )
        now = int(time.time() * 1000)
        publish_all(
            broker.port,
            [
                (
                    f"louyu/darong-a/parking_space/b1-{n:03d}",
                    json.dumps({"ts": now - n, "occupied": True}).encode(),
                )
                for n in range(1, 101)
            ],
            username="sensor",
            password="s3nsor-pw",
            tls_ca=str(certs.ca),
        )
        settle(collector, 100)
        deadline = time.monotonic() + 10
        while influx_count(influxd.url, "parking_space", "occupied") < 100 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert influx_count(influxd.url, "parking_space", "occupied") == 100
    finally:
        broker.kill()
