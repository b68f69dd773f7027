"""The soak's reading of the broker's saved sessions, against a real mosquitto: the queue check
of the soak's verdict rests on it."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bench.soak.observe import broker_session_queues
from louyu.testing.clients import publish_all
from louyu.testing.services import Mosquitto

pytestmark = pytest.mark.integration


def subscribe_and_leave(port: int, client_id: str, topic: str) -> None:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, protocol=mqtt.MQTTv311
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    time.sleep(0.3)
    client.disconnect()
    client.loop_stop()


def test_counts_what_the_broker_kept_for_each_session(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        subscribe_and_leave(broker.port, "louyu-rules", "louyu/+/+/+")
        subscribe_and_leave(broker.port, "idle", "elsewhere/#")
        publish_all(broker.port, [(f"louyu/b1/parking_space/s-{n}", b"{}") for n in range(7)])
        publish_all(broker.port, [("louyu/b1/availability", b"online")])  # matches no kept filter
    finally:
        broker.stop()
    assert broker_session_queues(broker.workdir / "mosquitto.db") == {"louyu-rules": 7}


def test_refuses_a_file_it_cannot_read(tmp_path: Path) -> None:
    odd = tmp_path / "mosquitto.db"
    odd.write_bytes(b"not a broker's file")
    with pytest.raises(ValueError, match="not a mosquitto persistence file"):
        broker_session_queues(odd)
