"""The louyu services on the shipped broker configuration, each under its own account.

The ACL must allow what the services do, and nothing more. What they do is taken from the
services themselves, not from a list kept here: the collector (`MqttSource`), two rules engines
(one for every building, one owning `darong-a` on an account of its own made by
`accounts.sh service`, as `louyu rules` builds them), the notifier
(`NotifierService`) and the API's MQTT feed with its publisher (`MqttFeed`, `FeedPublisher`) run
on a broker started from deploy/mosquitto/ with the accounts of deploy/mosquitto/accounts.sh, and
every filter each one subscribes to and every topic it publishes on is recorded from its paho
client. A scenario makes each of them do its work (an AED cabinet opened, a patrol notified, a
delivery that fails, an acknowledgement through the API), and the tests check that

- each service got what it subscribed to, and what it published arrived;
- every recorded filter and topic is allowed to its account, asked of the broker with real
  clients, so that a service that starts using a topic the ACL does not give it fails here;
- no account may read or write a sample topic of any shape beyond what its recorded filters and
  topics need (a building level `+` reads as "any building", never `alerts` or `notify`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from collector.broker import BrokerTarget
from collector.models import DeviceKey
from collector.mqtt_source import MqttSource
from collector.registry import Registry
from louyu.commands.rules import build as build_rules
from louyu.settings import Settings
from rules.database import make_engine
from rules.drill import drill_message
from rules.notify.config import parse_routing
from rules.notify.service import NotifierService
from rules.runner import RulesRunner
from rules.service import AlertService
from rules.store import AlertStore
from tests.deploy.mqtt_probe import Received
from tests.deploy.shipped_broker import (
    ALERT,
    EVERY_SHAPE,
    NOTIFICATION,
    SETTLE_S,
    TELEMETRY,
    Broker,
    compose_env,
    topics_read,
)
from tests.notify.helpers import SECRET, HttpReceiver

pytestmark = pytest.mark.integration

SERVICE_ACCOUNTS = ("louyu-collector-1", "louyu-rules", "louyu-rules-darong-a", "louyu-notifier", "louyu-api")
# A further instance's account has its role's ACL lines (accounts.sh service): it may publish what
# its role publishes, though in the scenario only the engine of every building raises an alert.
ROLE_OF = {"louyu-rules-darong-a": "louyu-rules"}
RESERVED = ("alerts", "notify")  # second topic levels that are not buildings (contract section 1)
AED_B = "louyu/darong-b/aed/aed-b-1f-lobby"
CABINET_OPEN = "louyu/alerts/darong-b/critical/aed-cabinet-open"
DELIVERY_FAILED = "louyu/alerts/darong-b/major/notify-delivery-failed"
SECRET_ENV = "LOUYU_TEST_ACL_HOOK_SECRET"

# Every shape of topic there is, in two buildings, with an account that may publish each.
SAMPLES = (
    *EVERY_SHAPE,
    ("sensor-darong-b", "louyu/darong-b/parking_space/b1-001"),
    ("sensor-darong-b", "louyu/darong-b/parking_space/b1-001/availability"),
    ("sensor-darong-b", "louyu/darong-b/availability"),
    ("louyu-rules", "louyu/alerts/darong-b/major/aed-offline"),
    # an alert of a rule named `availability`: louyu/+/+/+/availability matches it
    ("louyu-rules", "louyu/alerts/darong-a/major/availability"),
)


# --- recording what the services do ------------------------------------------------------------


@dataclass
class Recorded:
    """Per account: the filters subscribed to and the topics published on, from the paho clients."""

    subscribed: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    published: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    subscribe_calls: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    subacks: dict[int, int] = field(default_factory=lambda: defaultdict(int))


def filters_of(topic: Any) -> list[str]:
    """The filters of a paho `subscribe()` call: a string, a (filter, qos) pair or a list of them."""
    if isinstance(topic, str):
        return [topic]
    if isinstance(topic, tuple):
        return [str(topic[0])]
    return [f for item in topic for f in filters_of(item)]


def record(client: mqtt.Client, account: str, seen: Recorded) -> None:
    """Record every subscribe and publish of `client`, and count its SUBACKs; each call goes on to
    paho unchanged (the services call these on their own client object)."""
    subscribe, publish, on_subscribe = client.subscribe, client.publish, client.on_subscribe

    def subscribing(topic: Any, *args: Any, **kwargs: Any) -> Any:
        seen.subscribed[account].update(filters_of(topic))
        seen.subscribe_calls[id(client)] += 1
        return subscribe(topic, *args, **kwargs)

    def publishing(topic: str, *args: Any, **kwargs: Any) -> Any:
        seen.published[account].add(topic)
        return publish(topic, *args, **kwargs)

    def subscribed(*args: Any) -> None:
        seen.subacks[id(client)] += 1
        if on_subscribe is not None:
            on_subscribe(*args)

    setattr(client, "subscribe", subscribing)  # noqa: B010  (an instance attribute, on purpose)
    setattr(client, "publish", publishing)  # noqa: B010
    client.on_subscribe = subscribed


def wait_for(check: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return bool(check())


# --- the services at work ----------------------------------------------------------------------


@dataclass
class Outcome:
    recorded: Recorded
    subscribed_in_time: dict[str, bool]
    patrol: list[Received]
    collector_topics: set[str]
    rules_latest: set[tuple[str, str, str]]
    rules_buildings_online: dict[str, bool]
    scoped_latest: set[tuple[str, str, str]]
    scoped_buildings_online: dict[str, bool]
    notifier_latest: set[DeviceKey]
    api_states: dict[DeviceKey, tuple[dict[str, object], bool | None]]
    api_alert_wakeups: int
    acknowledged_alert: int | None

    def patrol_events(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in self.patrol if m.topic == topic]


@pytest.fixture(scope="module")
def outcome(shipped_broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    from api.mqtt_feed import MqttFeed
    from api.publisher import FeedPublisher
    from api.routes.drills import send as send_drill
    from collector.latest import LatestState

    broker = shipped_broker
    port, pw = broker.port, broker.passwords
    tmp = tmp_path_factory.mktemp("services")
    db_url = f"sqlite:///{tmp / 'louyu.db'}"
    registry = Registry.load()
    seen = Recorded()

    def target(account: str) -> BrokerTarget:
        return BrokerTarget("127.0.0.1", port, username=account, password=pw[account])

    # The collector as deployed: its client id and shared group from the compose file.
    collector_env = compose_env("collector")
    collector_topics: set[str] = set()
    source: MqttSource

    def on_reading(topic: str, _payload: bytes, mid: int, qos: int) -> None:
        collector_topics.add(topic)
        source.ack([mid], qos)

    source = MqttSource(
        target("louyu-collector-1"),
        on_reading,
        client_id=collector_env["LOUYU_MQTT_CLIENT_ID"],
        shared_group=collector_env["LOUYU_MQTT_SHARED_GROUP"],
    )
    record(source.client, "louyu-collector-1", seen)

    # The rules engines as `louyu rules` builds them: every building (the compose file's client
    # id), and one engine owning darong-a only (LOUYU_RULES_BUILDINGS), with a store of its own.
    # Each engine has an account of its own: the broker uses the account name as client id.
    def rules(account: str, **overrides: Any) -> RulesRunner:
        settings = Settings(
            mqtt_url=f"mqtt://127.0.0.1:{port}",
            mqtt_username=account,
            mqtt_password=pw[account],
            mqtt_rules_client_id=account,
            **overrides,
        )
        runner = build_rules(settings, registry)
        record(runner.client, account, seen)
        return runner

    rules_env = compose_env("rules")
    runner = rules(rules_env["LOUYU_MQTT_USERNAME"], database_url=db_url)
    scoped = rules(
        "louyu-rules-darong-a",
        database_url=f"sqlite:///{tmp / 'darong-a.db'}",
        rules_buildings=["darong-a"],
    )

    # The notifier: patrol li on MQTT; `ops`, a webhook that refuses everything, so that a critical
    # alert fails to reach it and the notifier raises an alert of its own; a status snapshot (not
    # due during the test) so that it reads telemetry.
    hook = HttpReceiver(respond=lambda n: 400)
    routing = parse_routing(f"""
receivers:
  - name: li
    mqtt: {{}}
  - name: ops
    webhook: {{url: "{hook.url}", secret_env: {SECRET_ENV}}}
    retry: {{initial: 20ms, max: 150ms, deadline: 30s, timeout: 2s}}
routes:
  - {{match: {{severity: critical}}, receivers: [li, ops]}}
snapshot: {{every: 1h, receivers: [li]}}
""")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(SECRET_ENV, SECRET)
        notifier = NotifierService(
            routing,
            registry,
            make_engine(db_url),
            target("louyu-notifier"),
            poll_s=0.2,
        )
    assert notifier.client is not None
    record(notifier.client, "louyu-notifier", seen)

    # The API's feed and the publisher its AlertService acknowledges through (api/app.py).
    table = LatestState(registry)
    wakeups = [0]

    def on_alert_event() -> None:
        wakeups[0] += 1

    feed = MqttFeed(target("louyu-api"), table, on_alert_event, client_id="louyu-api-1")
    record(feed.client, "louyu-api", seen)
    publisher = FeedPublisher()
    publisher.feed = feed
    actions = AlertService(AlertStore(make_engine(db_url)), publisher)

    clients = {
        "collector": source.client,
        "rules": runner.client,
        "rules darong-a": scoped.client,
        "notifier": notifier.client,
        "api": feed.client,
    }

    def acknowledged(client: mqtt.Client) -> bool:
        calls = seen.subscribe_calls[id(client)]
        return calls > 0 and seen.subacks[id(client)] >= calls

    patrol = broker.client("patrol-li")
    acked_alert: int | None = None
    heard: list[Received] = []
    started: list[Callable[[], None]] = []
    try:
        source.start(wait_s=10)
        started.append(source.stop)
        runner.start(timeout=10)
        started.append(runner.stop)
        scoped.start(timeout=10)
        started.append(scoped.stop)
        notifier.start()
        started.append(notifier.stop)
        feed.start()
        started.append(feed.stop)
        in_time = {name: wait_for(partial(acknowledged, client)) for name, client in clients.items()}
        patrol.subscribe("louyu/alerts/#")
        patrol.subscribe("louyu/notify/li")

        sensor_a = broker.client("sensor-darong-a")
        sensor_a.publish("louyu/darong-a/availability", b"online")
        sensor_a.publish("louyu/darong-a/aed/aed-a-1f-lobby", b'{"state": "ready"}')
        sensor_b = broker.client("sensor-darong-b")
        sensor_b.publish(f"{AED_B}/availability", b"online")
        sensor_b.publish(AED_B, b'{"state": "ready", "cabinet_open": true}')

        # Waits that time out leave the outcome short, for the tests below to say what is missing.
        def patrol_heard(topic: str, event: str) -> dict[str, Any] | None:
            heard.extend(patrol.drain())
            for message in heard:
                body = json.loads(message.payload)
                if message.topic == topic and body.get("event") == event:
                    return dict(body)
            return None

        if wait_for(lambda: patrol_heard(CABINET_OPEN, "raised")):
            raised = patrol_heard(CABINET_OPEN, "raised")
            assert raised is not None
            # An acknowledgement through the API: stored, and published on the API's connection.
            acked_alert = int(raised["alert"]["id"])
            actions.acknowledge(acked_alert, "patrol-li", "on my way")
            wait_for(lambda: patrol_heard(CABINET_OPEN, "acknowledged"))
        # A drill an operator starts: the API writes the AED's readings (api/routes/drills.py).
        send_drill(feed.client, drill_message("darong-a", "aed-a-1f-lobby", "back", dt.datetime.now(dt.UTC)))
        wait_for(lambda: patrol_heard("louyu/notify/li", "raised"))
        wait_for(lambda: patrol_heard(DELIVERY_FAILED, "raised"))
        # What the consumers of telemetry have seen by now.
        wait_for(lambda: {AED_B, f"{AED_B}/availability"} <= collector_topics)
        wait_for(lambda: DeviceKey("darong-b", "aed", "aed-b-1f-lobby") in notifier.latest.snapshot())
        wait_for(lambda: DeviceKey("darong-b", "aed", "aed-b-1f-lobby") in table.snapshot())
        wait_for(lambda: ("darong-a", "aed", "aed-a-1f-lobby") in scoped.engine.latest)
        wait_for(lambda: "darong-a" in scoped.engine.building_online)
        time.sleep(SETTLE_S)
    finally:
        for stop in reversed(started):
            stop()
        hook.close()

    heard += patrol.drain()
    broker.close_probes()
    yield Outcome(
        recorded=seen,
        subscribed_in_time=in_time,
        patrol=heard,
        collector_topics=set(collector_topics),
        rules_latest=set(runner.engine.latest),
        rules_buildings_online=dict(runner.engine.building_online),
        scoped_latest=set(scoped.engine.latest),
        scoped_buildings_online=dict(scoped.engine.building_online),
        notifier_latest=set(notifier.latest.snapshot()),
        api_states={k: (dict(s.fields), s.online) for k, s in table.snapshot().items()},
        api_alert_wakeups=wakeups[0],
        acknowledged_alert=acked_alert,
    )


# --- each service got what it subscribed to, and what it published arrived ---------------------


def test_every_service_subscribed(outcome: Outcome) -> None:
    assert outcome.subscribed_in_time == dict.fromkeys(outcome.subscribed_in_time, True)
    assert set(outcome.recorded.subscribed) == set(SERVICE_ACCOUNTS)


def test_collector_receives_telemetry_and_availability(outcome: Outcome) -> None:
    assert {AED_B, f"{AED_B}/availability", "louyu/darong-a/aed/aed-a-1f-lobby"} <= outcome.collector_topics


def test_rules_engines_receive_readings_and_building_availability(outcome: Outcome) -> None:
    assert {
        ("darong-b", "aed", "aed-b-1f-lobby"),
        ("darong-a", "aed", "aed-a-1f-lobby"),
    } <= outcome.rules_latest
    assert outcome.rules_buildings_online.get("darong-a") is True
    # the engine owning darong-a got darong-a's messages, on its per-building subscriptions
    assert outcome.scoped_latest == {("darong-a", "aed", "aed-a-1f-lobby")}
    assert outcome.scoped_buildings_online == {"darong-a": True}


def test_alert_events_of_the_rules_engine_reach_the_patrol(outcome: Outcome) -> None:
    events = outcome.patrol_events(CABINET_OPEN)
    assert [e["event"] for e in events][:1] == ["raised"]


def test_notifier_notifies_the_patrol_and_publishes_its_own_alert(outcome: Outcome) -> None:
    # raised, then (if it came before the notifier stopped) the API's acknowledgement
    messages = outcome.patrol_events("louyu/notify/li")
    assert messages, "no notification reached the patrol"
    assert messages[0]["event"] == "raised" and messages[0]["alert"]["rule"] == "aed-cabinet-open"
    failed = outcome.patrol_events(DELIVERY_FAILED)
    assert failed, "the notifier's own alert was not published"
    assert failed[0]["event"] == "raised" and failed[0]["alert"]["labels"]["receiver"] == "ops"


def test_notifier_reads_the_telemetry_of_its_snapshot(outcome: Outcome) -> None:
    assert DeviceKey("darong-b", "aed", "aed-b-1f-lobby") in outcome.notifier_latest


def test_api_keeps_device_states_and_hears_alert_events(outcome: Outcome) -> None:
    fields, online = outcome.api_states[DeviceKey("darong-b", "aed", "aed-b-1f-lobby")]
    assert fields.get("cabinet_open") is True and online is True
    # one wake-up on connecting, then one per alert event heard on louyu/alerts/#
    assert outcome.api_alert_wakeups >= 3


def test_api_acknowledgement_is_published(outcome: Outcome) -> None:
    events = outcome.patrol_events(CABINET_OPEN)
    acked = [e for e in events if e["event"] == "acknowledged"]
    assert len(acked) == 1
    assert acked[0]["alert"]["id"] == outcome.acknowledged_alert and acked[0]["by"] == "patrol-li"


# --- every recorded filter and topic is allowed ------------------------------------------------


def unshared(topic_filter: str) -> str:
    """`$share/<group>/<filter>` -> `<filter>`: mosquitto checks the ACL on the filter itself."""
    if topic_filter.startswith("$share/"):
        return topic_filter.split("/", 2)[2]
    return topic_filter


def intends(topic_filter: str, topic: str) -> bool:
    """Whether a service subscribing to `topic_filter` means to read `topic`: a `+` at the building
    level stands for a building, and `alerts` and `notify` are not buildings."""
    levels, filter_levels = topic.split("/"), topic_filter.split("/")
    if len(filter_levels) > 1 and filter_levels[1] in ("+", "#") and levels[1] in RESERVED:
        return False
    return mqtt.topic_matches_sub(topic_filter, topic)


def any_building(topic_filter: str) -> str:
    """`louyu/darong-a/+/+` -> `louyu/+/+/+`: the ACL cannot know which buildings an engine owns."""
    levels = topic_filter.split("/")
    if len(levels) > 1 and levels[1] not in (*RESERVED, "+", "#"):
        levels[1] = "+"
    return "/".join(levels)


def family(topic: str) -> str:
    """What a topic is: `alerts`, `notify`, or one building's telemetry."""
    second = topic.split("/")[1]
    return second if second in RESERVED else f"building {second}"


def shape(topic: str) -> str:
    """Finer than `family`: `alerts`, `notify`, or which telemetry (`aed` readings, a device's
    availability, a building's), whatever the building and device."""
    levels = topic.split("/")
    if levels[1] in RESERVED:
        return levels[1]
    return {3: "building availability", 4: f"{levels[2]} readings", 5: "device availability"}[len(levels)]


# The one telemetry a service writes: the AED readings of a drill, through the API.
TELEMETRY_WRITERS = {"louyu-api": {"aed readings"}}


def publisher_of(topic: str) -> str:
    for publisher, sample in SAMPLES:
        if family(sample) == family(topic):
            return publisher
    raise AssertionError(f"no sample publisher for {topic}")


def test_every_filter_a_service_subscribes_to_is_readable(outcome: Outcome, broker: Broker) -> None:
    """Each recorded filter, subscribed to as recorded by a client of the service's account,
    delivers the sample topics it is meant for."""
    for account, filters in sorted(outcome.recorded.subscribed.items()):
        for topic_filter in sorted(filters):
            meant = tuple(s for s in SAMPLES if intends(unshared(topic_filter), s[1]))
            assert meant, f"{account} subscribes to {topic_filter}: no sample topic of that shape here"
            reader = broker.client(account)
            # A group of its own: the collector's persistent session is still in the recorded group,
            # and mosquitto deals the group's messages to it too while it is away.
            as_subscribed = re.sub(r"^\$share/[^/]+/", f"$share/check-{time.monotonic_ns()}/", topic_filter)
            assert not reader.subscribe(as_subscribed).is_failure, (account, topic_filter)
            for publisher, topic in meant:
                payload = f"{account} {topic_filter} {time.monotonic_ns()}".encode()
                assert broker.client(publisher).publish(topic, payload).value == 0
                reader.expect(topic, payload)
            broker.close_probes()


def test_every_topic_a_service_publishes_on_is_writable(outcome: Outcome, broker: Broker) -> None:
    watcher = broker.client("patrol-li")
    watcher.subscribe("louyu/alerts/#")
    watcher.subscribe("louyu/notify/li")
    published = outcome.recorded.published
    assert {"louyu-rules", "louyu-notifier", "louyu-api"} <= set(published), "who publishes changed"
    assert set(published) <= {"louyu-rules", "louyu-rules-darong-a", "louyu-notifier", "louyu-api"}
    for account, topics in sorted(published.items()):
        for topic in sorted(topics):
            telemetry = family(topic) not in RESERVED
            assert not telemetry or shape(topic) in TELEMETRY_WRITERS.get(account, set()), (
                f"{account} publishes {topic}: a service writing telemetry?"
            )
            if topic.startswith("louyu/notify/") and topic != NOTIFICATION[1]:
                watcher.subscribe(topic)
            reader = watcher
            if telemetry:
                reader = broker.client("louyu-collector-2")
                reader.subscribe(topic)
            payload = f"{account} {time.monotonic_ns()}".encode()
            assert broker.client(account).publish(topic, payload).value == 0, (account, topic)
            reader.expect(topic, payload)


# --- and nothing more --------------------------------------------------------------------------


@pytest.mark.parametrize("account", SERVICE_ACCOUNTS)
def test_service_reads_what_its_filters_need_and_nothing_more(
    outcome: Outcome, broker: Broker, account: str
) -> None:
    filters = {unshared(f) for f in outcome.recorded.subscribed[account]}
    writes = role_writes(outcome, account)
    needed = {t for _, t in SAMPLES if any(intends(f, t) for f in filters)}
    at_most = {t for _, t in SAMPLES if any(intends(any_building(f), t) for f in filters)}
    # a service may write a topic its filters match by accident: it sees its own messages
    at_most |= {t for _, t in SAMPLES if family(t) in writes}
    got = topics_read(broker, account, SAMPLES, TELEMETRY if TELEMETRY[1] in needed else ALERT)
    assert needed <= got, f"{account} may not read {sorted(needed - got)}"
    assert got <= at_most, f"{account} may read {sorted(got - at_most)}, which it does not subscribe to"


def role_writes(outcome: Outcome, account: str) -> set[str]:
    """The topic families the account's role was seen publishing."""
    accounts = {account, ROLE_OF.get(account, account)}
    return {family(t) for a in accounts for t in outcome.recorded.published[a]}


def role_shapes(outcome: Outcome, account: str) -> set[str]:
    """The topic shapes the account's role was seen publishing."""
    accounts = {account, ROLE_OF.get(account, account)}
    return {shape(t) for a in accounts for t in outcome.recorded.published[a]}


# Topics of each family, with readers that may read them (the first that is not the writer: an
# account has one connection), to see whether a write went through.
WRITE_CHECKS = (
    (TELEMETRY[1], ("louyu-collector-1", "louyu-collector-2"), "louyu/+/+/+"),
    (
        "louyu/darong-a/aed/aed-a-1f-lobby/availability",
        ("louyu-collector-1", "louyu-collector-2"),
        "louyu/+/+/+/availability",
    ),
    ("louyu/darong-a/availability", ("louyu-rules", "louyu-rules-darong-a"), "louyu/+/availability"),
    (ALERT[1], ("patrol-li",), "louyu/alerts/#"),
    (NOTIFICATION[1], ("patrol-li",), "louyu/notify/li"),
)


@pytest.mark.parametrize("account", SERVICE_ACCOUNTS)
def test_service_writes_what_it_publishes_and_nothing_more(
    outcome: Outcome, broker: Broker, account: str
) -> None:
    writes = role_writes(outcome, account)
    shapes = role_shapes(outcome, account)
    allowed: set[str] = set()
    for topic, readers, topic_filter in WRITE_CHECKS:
        reader = broker.client(next(r for r in readers if r != account))
        reader.subscribe(topic_filter)
        attempt = f"from {account} {time.monotonic_ns()}".encode()
        writer = broker.client(account)
        writer.try_publish(topic, attempt)  # refused: dropped, or the connection closed
        writer.close()
        marker = f"marker {time.monotonic_ns()}".encode()
        assert broker.client(publisher_of(topic)).publish(topic, marker).value == 0
        reader.expect(topic, marker)
        time.sleep(SETTLE_S)
        if any(m.payload == attempt for m in reader.drain()):
            allowed.add(topic)
        broker.close_probes()
    expected = {topic for topic, _, _ in WRITE_CHECKS if shape(topic) in shapes}
    assert allowed == expected, f"{account}: may write {sorted(allowed)}, publishes only {sorted(writes)}"
