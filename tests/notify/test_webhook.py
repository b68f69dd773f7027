"""Signed webhooks and CloudEvents against real HTTP receivers on loopback."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collector.registry import Registry
from rules.database.notifier import AttemptRow, DeliveryRow
from rules.notify.config import parse_routing
from rules.notify.metrics import NotifyMetrics
from rules.notify.service import NotifierService
from rules.notify.signing import Signer
from rules.store import AlertStore
from tests.notify.helpers import SECRET, HttpReceiver, Request, new_alert

FAST_RETRY = "retry: {initial: 20ms, max: 150ms, deadline: 30s, timeout: 2s}"


def verify(request: Request, secret: str = SECRET) -> bool:
    """The receiver's side, written from the Standard Webhooks spec without the library."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id = request.headers["webhook-id"]
    stamp = request.headers["webhook-timestamp"]
    signed = f"{msg_id}.{stamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [
        s.split(",", 1)[1] for s in request.headers["webhook-signature"].split() if s.startswith("v1,")
    ]
    fresh = abs(time.time() - int(stamp)) < 300
    return fresh and any(hmac.compare_digest(expected, s) for s in offered)


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_signature_matches_an_independent_hmac() -> None:
    body = b'{"type":"alert.raised","data":{"id":1}}'
    now = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)
    headers = Signer(SECRET).headers("evt-7-city", body, now)
    assert headers["webhook-id"] == "evt-7-city"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, b"evt-7-city." + headers["webhook-timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac.digest()).decode()
    # The published test vector of the Standard Webhooks spec.
    vector = Signer(SECRET).headers(
        "msg_p5jXN8AQM9LWM0D4loKWxJek", b'{"test": 2432232314}', dt.datetime.fromtimestamp(1614265330, dt.UTC)
    )
    assert vector["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def service_for(
    engine: Engine, registry: Registry, text: str, metrics: NotifyMetrics | None = None
) -> NotifierService:
    return NotifierService(
        parse_routing(text), registry, engine, None, poll_s=0.05, tick_s=0.05, metrics=metrics
    )


@pytest.fixture
def running() -> Iterator[list[NotifierService]]:
    started: list[NotifierService] = []
    yield started
    for service in started:
        service.stop()


def test_a_receiver_down_for_a_while_gets_every_event_exactly_once(
    engine: Engine, store: AlertStore, registry: Registry, secret_env: str, running: list[NotifierService]
) -> None:
    # 500 for the first eight requests, then healthy.
    receiver = HttpReceiver(respond=lambda n: 500 if n <= 8 else 200)
    metrics = NotifyMetrics(CollectorRegistry())
    try:
        service = service_for(
            engine,
            registry,
            f"""
receivers:
  - name: ops
    webhook: {{url: "{receiver.url}", secret_env: {secret_env}}}
    {FAST_RETRY}
routes:
  - {{receivers: [ops], events: all}}
""",
            metrics,
        )
        service.start()
        running.append(service)
        now = dt.datetime.now(dt.UTC)
        events = []
        for n in range(5):
            raised = store.raise_alert(new_alert(device=f"aed-x-{n}"), now)
            assert raised is not None
            events.append(raised)
        events.append(store.acknowledge(events[0].alert_id, "patrol-7", "on my way", now))
        expected = {f"evt-{e.id}-ops" for e in events}
        wait_for(lambda: {r.headers["webhook-id"] for r in receiver.ok()} == expected)
        time.sleep(0.3)  # nothing more arrives after the last success
        ok = receiver.ok()
        assert sorted(r.headers["webhook-id"] for r in ok) == sorted(expected)  # exactly once each
        assert len(receiver.requests) == 8 + len(expected)
        assert all(verify(r) for r in receiver.requests)
        # Every try of one delivery carries the same id and the same bytes.
        by_id: dict[str, set[bytes]] = {}
        for r in receiver.requests:
            by_id.setdefault(r.headers["webhook-id"], set()).add(r.body)
        assert all(len(bodies) == 1 for bodies in by_id.values())
        # In order: a receiver never hears of the acknowledgement before the alert.
        order = [r.headers["webhook-id"] for r in ok]
        assert order == [f"evt-{e.id}-ops" for e in events]
        body = json.loads(ok[0].body)
        assert body["type"] == "alert.raised" and body["data"]["alert"]["id"] == events[0].alert_id
        # Place names from the registry; the floor from the alert's labels (this device is not registered).
        assert body["data"]["building"]["name"] == "大荣中心 B 座" and body["data"]["floor"] == "1F"
        with Session(engine) as session:
            attempts = session.scalars(select(AttemptRow).order_by(AttemptRow.id)).all()
            assert len(attempts) == len(receiver.requests)
            assert [a.ok for a in attempts].count(False) == 8
            assert all(a.status_code == 500 and a.retryable for a in attempts if not a.ok)
            rows = session.scalars(select(DeliveryRow)).all()
            assert {r.status for r in rows} == {"delivered"}
        assert metrics.attempts.labels("webhook", "retry")._value.get() == 8
        assert metrics.attempts.labels("webhook", "ok")._value.get() == len(expected)
        assert metrics.deliveries.labels("webhook", "delivered")._value.get() == len(expected)
    finally:
        receiver.close()


def test_a_refused_critical_delivery_fails_at_once_and_raises_its_own_alert(
    engine: Engine, store: AlertStore, registry: Registry, secret_env: str, running: list[NotifierService]
) -> None:
    receiver = HttpReceiver(respond=lambda n: 400)
    try:
        service = service_for(
            engine,
            registry,
            f"""
receivers:
  - name: ops
    webhook: {{url: "{receiver.url}", secret_env: {secret_env}}}
    {FAST_RETRY}
routes:
  - {{receivers: [ops], match: {{severity: critical}}}}
""",
        )
        service.start()
        running.append(service)
        raised = store.raise_alert(new_alert(), dt.datetime.now(dt.UTC))
        assert raised is not None

        def failure_alert() -> bool:
            return store.open_alert("notify-delivery-failed", "darong-b", "aed", "aed-b-1f-lobby") is not None

        wait_for(failure_alert)
        alert = store.open_alert("notify-delivery-failed", "darong-b", "aed", "aed-b-1f-lobby")
        assert alert is not None and alert.severity == "major"
        assert alert.labels["receiver"] == "ops" and alert.labels["alert_id"] == str(raised.alert_id)
        assert len(receiver.requests) == 1  # a 400 is not retried
        with Session(engine) as session:
            row = session.scalars(select(DeliveryRow)).one()
            assert row.status == "failed" and row.attempts == 1 and "HTTP 400" in (row.last_error or "")
    finally:
        receiver.close()


def test_cloudevents_structured_mode_signed(
    engine: Engine, store: AlertStore, registry: Registry, secret_env: str, running: list[NotifierService]
) -> None:
    receiver = HttpReceiver()
    try:
        service = service_for(
            engine,
            registry,
            f"""
receivers:
  - name: city
    cloudevents: {{url: "{receiver.url}", secret_env: {secret_env}, source: /louyu/darong}}
routes:
  - {{receivers: [city], events: all, include_silenced: true}}
""",
        )
        service.start()
        running.append(service)
        raised = store.raise_alert(new_alert(), dt.datetime.now(dt.UTC))
        assert raised is not None
        wait_for(lambda: len(receiver.ok()) == 1)
        request = receiver.ok()[0]
        assert request.headers["content-type"] == "application/cloudevents+json"
        assert verify(request)
        event = json.loads(request.body)
        assert event["specversion"] == "1.0"
        assert event["id"] == request.headers["webhook-id"] == f"evt-{raised.id}-city"
        assert event["source"] == "/louyu/darong"
        assert event["type"] == "cn.louyu.alert.raised"
        assert event["subject"] == "darong-b/aed/aed-b-1f-lobby"
        assert event["datacontenttype"] == "application/json"
        assert event["data"]["event_id"] == raised.id
        assert event["data"]["alert"]["rule"] == "aed-cabinet-open"
        assert event["data"]["place"]["floor"] == "1F"
        # The SDK reads it back as a CloudEvent.
        from cloudevents.core.bindings.http import HTTPMessage, from_structured_event

        parsed = from_structured_event(HTTPMessage(dict(request.headers), request.body))
        assert parsed.get_id() == event["id"]
    finally:
        receiver.close()
