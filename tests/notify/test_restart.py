"""Killed with SIGKILL in the middle of delivering, restarted: nothing is lost.

The notifier runs as its own process (`python -m louyu.commands.notifier`) on a temporary SQLite file
and a real mosquitto; a slow webhook receiver and a patrol handset subscriber record what arrives.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from sqlalchemy.orm import Session

from louyu.testing.services import Mosquitto
from rules.database import make_engine
from rules.database.migrate import upgrade
from rules.database.notifier import CursorRow, DeliveryRow
from rules.publisher import MqttEventPublisher
from rules.records import EventRecord
from rules.store import AlertStore
from tests.notify.helpers import SECRET, HttpReceiver, new_alert

pytestmark = pytest.mark.integration


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Handset:
    """A patrol handset: QoS 1 subscriber on louyu/notify/patrol."""

    def __init__(self, broker: Mosquitto) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="handset-patrol-7")
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self.ready.wait(10)
        time.sleep(0.2)  # the SUBACK

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe("louyu/notify/patrol", qos=1)
        self.ready.set()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        import json

        with self.lock:
            self.ids.append(json.loads(message.payload)["delivery_id"])

    def got(self) -> set[str]:
        with self.lock:
            return set(self.ids)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_notifier(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "louyu.commands.notifier"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parents[2],
        )


def test_sigkill_mid_delivery_loses_nothing(tmp_path: Path, mosquitto: Mosquitto) -> None:
    db = tmp_path / "louyu.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    store = AlertStore(engine)
    # Slow enough that the kill lands in the middle of the queue.
    receiver = HttpReceiver(delay_s=0.1)
    handset = Handset(mosquitto)
    routes = tmp_path / "routes.yaml"
    routes.write_text(f"""
receivers:
  - name: patrol
    mqtt: {{}}
    retry: {{initial: 100ms, max: 500ms}}
  - name: ops
    webhook: {{url: "{receiver.url}", secret_env: LOUYU_TEST_HOOK_SECRET}}
    retry: {{initial: 100ms, max: 500ms}}
routes:
  - {{receivers: [patrol, ops], events: all}}
""")
    env = {
        **os.environ,
        "LOUYU_DATABASE_URL": f"sqlite:///{db}",
        "LOUYU_MQTT_URL": mosquitto.url,
        "LOUYU_NOTIFY_FILE": str(routes),
        "LOUYU_ENVIRONMENT": "development",
        "LOUYU_LOG_LEVEL": "WARNING",
        "LOUYU_TEST_HOOK_SECRET": SECRET,
    }
    log = tmp_path / "notifier.log"
    publisher_client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="rules-engine")
    publisher_client.connect("127.0.0.1", mosquitto.port)
    publisher_client.loop_start()
    publisher = MqttEventPublisher(publisher_client)
    events: list[EventRecord] = []

    def write(count: int, offset: int) -> None:
        for n in range(offset, offset + count):
            raised = store.raise_alert(new_alert(device=f"aed-k-{n}"), dt.datetime.now(dt.UTC))
            assert raised is not None
            events.append(raised)
            publisher.publish(raised)

    proc = start_notifier(env, log)
    try:

        def started() -> bool:
            with Session(engine) as session:
                return session.get(CursorRow, "events") is not None

        wait_for(started, 20, "the notifier to start")
        write(30, 0)
        wait_for(lambda: len(receiver.ok()) >= 8, 20, "some deliveries")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        delivered_before = len(receiver.ok())
        assert delivered_before < 30, "the kill came too late to test anything"
        write(10, 30)  # while the notifier is down
        proc = start_notifier(env, log)
        expected_hook = {f"evt-{e.id}-ops" for e in events}
        expected_handset = {f"evt-{e.id}-patrol" for e in events}
        wait_for(
            lambda: (
                {r.headers["webhook-id"] for r in receiver.ok()} >= expected_hook
                and handset.got() >= expected_handset
            ),
            60,
            "every delivery after the restart:\n" + log.read_text(errors="replace")[-2000:],
        )
        hook_ids = [r.headers["webhook-id"] for r in receiver.ok()]
        assert set(hook_ids) == expected_hook
        assert handset.got() == expected_handset
        # At least once: only what was in flight at the kill may arrive twice (receivers dedupe by id).
        assert len(hook_ids) - len(set(hook_ids)) <= 2

        # The receivers have everything; the ledger records the last of it a moment later (a
        # delivery in flight at the kill is marked when its retry runs).
        def statuses() -> list[str]:
            with Session(engine) as session:
                return list(session.scalars(select(DeliveryRow.status)).all())

        wait_for(
            lambda: set(statuses()) == {"delivered"}, 30, f"every delivery marked delivered: {statuses()}"
        )
        assert len(statuses()) == 80
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        publisher_client.disconnect()
        publisher_client.loop_stop()
        handset.close()
        receiver.close()
        engine.dispose()
