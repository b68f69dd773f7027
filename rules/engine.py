"""The rules engine: each reading evaluated at once against the rules that watch its device.

The public surface: `accept(topic, payload, now, retained)` takes one MQTT message as received
(parsing, ownership by building, stale readings, building availability) and `resume(now,
disconnected)` says that the broker is replaying a gap; `rules/runner.py` keeps only the MQTT
connection and the schedule.

Stages, in order, for every message: keep the device's latest state -> evaluate the rules ->
(pending `for` timers, hysteresis, flapping) -> mute (silences, gateway inhibition) -> store the
event -> publish it. Everything happens on the thread that handles the reading, so a critical
alert reaches MQTT without waiting for any batch or timer. Scheduled work (`tick`, `maintain`,
`sweep`, `daily`) takes `now` as an argument; `rules/runner.py` calls it on a schedule.

State lives in memory (works while InfluxDB is down) and in the alert store (open alerts,
pending `for` timers), from which `load()` rebuilds it after a restart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Collection
from typing import Final
from zoneinfo import ZoneInfo

import structlog

from collector.models import NAME_RE, RESERVED_BUILDINGS, Availability, FieldValue, Reading, Rejection
from collector.parsing import parse
from collector.registry import DeviceInfo, Registry
from rules.backlog import resumed_since
from rules.builtin import BUILDING, BUILDING_OFFLINE, BUILTIN, LIVENESS_SUMMARY, UNKNOWN_DEVICES
from rules.conditions import RatioCompare, View
from rules.config import PLACEHOLDERS, Rule, RuleSet
from rules.drill import DRILL_LABEL, drill_summaries
from rules.escalation import due_escalations, escalation_interval
from rules.flapping import FlapCounter
from rules.intake import Intake, Outcome
from rules.liveness import find_silent, inhibitor
from rules.metrics import RulesMetrics, default_metrics
from rules.publisher import EventPublisher
from rules.records import AlertRecord, EventRecord, JsonValue, SilenceRecord
from rules.silences import muting
from rules.store import AlertStore, NewAlert, Pending
from rules.unknown import UnknownDevices

log = structlog.get_logger("louyu.rules.engine")

Key = tuple[str, str, str]  # building, kind, device
AlertKey = tuple[str, str, str, str]  # rule, building, kind, device
_RULE_CACHE_MAX: Final = 500_000
LABEL_FIELDS: Final = ("name", "floor", "zone", "location", "lot", "gateway")
# Liveness alerts of these severities (the AEDs') are never held back by a gateway or a building
# that says offline: a gateway's word could otherwise hide them. They are raised, labelled
# `inhibited_by`, and never folded into a sweep's summary.
NEVER_HELD_BACK: Final = frozenset({"critical", "major"})
# Unknown devices silent this long: their building's `unknown-devices` alert clears.
UNKNOWN_QUIET: Final = dt.timedelta(minutes=30)


def scoped_registry(registry: Registry, buildings: Collection[str]) -> Registry:
    """The registry as an engine owning `buildings` sees it (all of it when `buildings` is empty):
    its silence sweep then starts from these devices only."""
    if not buildings:
        return registry
    scoped = Registry(
        registry.area,
        registry.area_name,
        registry.timezone,
        {b: info for b, info in registry.buildings.items() if b in buildings},
    )
    for info in registry:
        if info.building in buildings:
            scoped.add(info)
    return scoped


class _Defaulting(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


class _Down:
    """Devices known to be down: availability offline, or an open liveness alert."""

    __slots__ = ("_a", "_b")

    def __init__(self, a: set[tuple[str, str]], b: set[tuple[str, str]]) -> None:
        self._a, self._b = a, b

    def __contains__(self, item: object) -> bool:
        return item in self._a or item in self._b


def _uses_dates(rule: Rule) -> bool:
    text = repr(rule.when) + repr(rule.clear)
    return "within_days" in text


class RuleEngine:
    """The rules engine of some buildings (`buildings`, empty: all).

    `store` should read the same buildings (`AlertStore(db, buildings)`): the engine loads,
    escalates and counts what the store gives it. `publisher` sends each stored event on.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        registry: Registry,
        store: AlertStore,
        publisher: EventPublisher,
        *,
        buildings: Collection[str] = (),
        accept_unregistered: bool = False,
        max_unregistered: int = 10_000,
        liveness_summary_over: int = 20,
        retained_max_age: dt.timedelta = dt.timedelta(minutes=15),
        metrics: RulesMetrics | None = None,
    ) -> None:
        """`accept_unregistered` evaluates devices that are not in the registry (sites without a
        registry; at most `max_unregistered` of them are tracked). `liveness_summary_over`: a
        sweep that would raise more liveness alerts than this in one building raises one
        `devices-silent` alert instead (0: never). `retained_max_age`: a retained reading with a
        `ts` older than this is not applied."""
        self.ruleset = ruleset
        self.liveness_summary_over = liveness_summary_over
        self.buildings = frozenset(buildings)
        self.registry = scoped_registry(registry, self.buildings)
        self.store = store
        self.publisher = publisher
        self.metrics = metrics or default_metrics()
        self.tz = ZoneInfo(registry.timezone)
        self.lock = threading.RLock()
        self.condition_rules = [r for r in ruleset.rules if not r.liveness]
        self.liveness_rules = [r for r in ruleset.rules if r.liveness]
        self.date_rules = [r for r in self.condition_rules if _uses_dates(r)]
        self.rules_by_id = {r.id: r for r in ruleset.rules}
        self._rule_fields = {
            r.id: frozenset(r.when.fields() | (r.clear.fields() if r.clear else set()))
            for r in self.condition_rules
            if r.when is not None
        }
        self.latest: dict[Key, dict[str, FieldValue]] = {}
        self.last_seen: dict[Key, float] = {}
        self.availability_offline: set[tuple[str, str]] = set()  # (building, device)
        self.building_online: dict[str, bool] = {}
        self.liveness_down: set[tuple[str, str]] = set()  # (building, device) with an open liveness alert
        self.open: dict[AlertKey, AlertRecord] = {}
        self.active: set[AlertKey] = set()  # condition currently held true
        self.pending: dict[AlertKey, Pending] = {}
        self.flaps: dict[AlertKey, FlapCounter] = {}
        self.held: dict[AlertKey, dt.datetime] = {}  # flapping alerts kept open while clear, since
        self.silences: list[SilenceRecord] = []
        self._rule_cache: dict[Key, tuple[list[Rule], list[Rule]]] = {}
        self._gateway_ids = {(d.building, d.gateway) for d in self.registry if d.gateway}
        self.intake = Intake(
            self.registry,
            self.buildings,
            accept_unregistered=accept_unregistered,
            max_unregistered=max_unregistered,
            retained_max_age=retained_max_age,
        )
        self.on_event: Callable[[EventRecord], None] | None = None  # observers (tests, benchmarks)

    # -------------------------------------------------------------- start-up

    def load(self, now: dt.datetime) -> None:
        """Rebuild state from the store: open alerts, pending timers, silences. Every registered
        device counts as seen at start-up, so silence is measured from now, not from the epoch."""
        with self.lock:
            self._refresh_open([a for a in self.store.open_alerts() if self.owns(a.building)])
            for pending in self.store.load_pending():
                if self.owns(pending.building):
                    self.pending[(pending.rule, pending.building, pending.kind, pending.device)] = pending
            self.silences = self.store.list_silences(active_at=now)
            stamp = now.timestamp()
            for info in self.registry:
                self.last_seen.setdefault((info.building, info.kind, info.device), stamp)
            # The building-level alerts left open: a building still offline keeps holding its
            # devices back, and an `unknown-devices` alert clears UNKNOWN_QUIET after the start
            # unless unknown devices report again (they are counted again from zero).
            for rule, building, _, _ in self.open:
                if rule == BUILDING_OFFLINE.id:
                    self.building_online.setdefault(building, False)
                elif rule == UNKNOWN_DEVICES.id:
                    self.intake.unknown.setdefault(building, UnknownDevices(last_at=stamp))

    def _refresh_open(self, alerts: list[AlertRecord]) -> None:
        fresh = {(a.rule, a.building, a.kind, a.device): a for a in alerts}
        for gone in self.open.keys() - fresh.keys():
            self.held.pop(gone, None)
        self.liveness_down.clear()
        for ak in fresh:
            rule = self.rules_by_id.get(ak[0])
            if rule is not None and rule.liveness:
                self.liveness_down.add((ak[1], ak[3]))
            elif rule is not None and ak not in self.held:
                self.active.add(ak)
        self.open = fresh

    def owns(self, building: str) -> bool:
        return self.intake.owns(building)

    def rule(self, rule_id: str) -> Rule | None:
        """A rule of the file, or one of the engine's own (`rules/builtin.py`)."""
        return self.rules_by_id.get(rule_id) or BUILTIN.get(rule_id)

    def resume(self, now: dt.datetime, disconnected: dt.datetime | None) -> int:
        """The broker kept the session and replays what was published since `disconnected` (None:
        unknown, after a restart): move the stored `for` timers on by the gap (`resumed_since`).
        Returns how many moved."""
        moved = 0
        with self.lock:
            for ak, pending in list(self.pending.items()):
                since = resumed_since(pending.since, now, disconnected)
                if since != pending.since:
                    resumed = Pending(
                        pending.rule, pending.building, pending.kind, pending.device, since, pending.value
                    )
                    self.pending[ak] = resumed
                    self.store.save_pending(resumed)
                    moved += 1
        if moved:
            log.info("for timers resumed after the gap", timers=moved)
        return moved

    # -------------------------------------------------------------- messages

    def _count(self, outcome: Outcome) -> Outcome:
        self.intake.outcomes[outcome] += 1
        self.metrics.messages.labels(outcome).inc()
        return outcome

    def accept(self, topic: str, payload: bytes, now: dt.datetime, retained: bool = False) -> Outcome:
        """One MQTT message as received, parsed with the collector's parser, and what became of
        it: evaluated (`accepted`), or not because it belongs to a building another engine owns
        (`not_owned`), is invalid (`rejected`; the collector keeps rejections for operators), or
        for a reason `handle` gives."""
        parts = topic.split("/")
        if len(parts) > 1 and not self.owns(parts[1]):
            return self._count("not_owned")
        if len(parts) == 3 and parts[2] == "availability":
            word = payload.strip()
            building = parts[1]
            if (
                building in RESERVED_BUILDINGS
                or not NAME_RE.fullmatch(building)
                or word not in (b"online", b"offline")
            ):
                return self._count("rejected")
            return self._building(building, word == b"online", now)[0]
        result = parse(topic, payload, int(now.timestamp() * 1000))
        if isinstance(result, Rejection):
            return self._count("rejected")
        return self._take(result, now, retained)[0]

    def handle(
        self, message: Reading | Availability, now: dt.datetime, retained: bool = False
    ) -> list[EventRecord]:
        """Evaluate one valid message at once; returns the events it caused (already published).

        Not evaluated: a device of a building another engine owns (`not_owned`); a device not in
        the registry (`unregistered`: counted towards its building's `unknown-devices` alert),
        unless `accept_unregistered`, and then only up to `max_unregistered` devices
        (`over_limit`); a reading older than what the device already reported (`stale`,
        `ReadingOrder`); a retained reading without `ts` or older than `retained_max_age`
        (`retained`: when it was true is unknown)."""
        return self._take(message, now, retained)[1]

    def handle_building(self, building: str, online: bool, now: dt.datetime) -> list[EventRecord]:
        """`louyu/{building}/availability`: a building gateway's own online/offline word. Offline
        raises `building-offline` (major) and holds back the building's minor liveness alerts;
        online clears it."""
        return self._building(building, online, now)[1]

    def _take(
        self, message: Reading | Availability, now: dt.datetime, retained: bool
    ) -> tuple[Outcome, list[EventRecord]]:
        started = time.perf_counter()
        events: list[EventRecord] = []
        with self.lock:
            outcome = self._admit(message, now, retained, events)
            if outcome == "accepted":
                if isinstance(message, Reading):
                    self._reading(message, now, retained, events)
                else:
                    self._availability(message, now, retained, events)
        self._count(outcome)
        self.metrics.evaluation_seconds.observe(time.perf_counter() - started)
        return outcome, events

    def _admit(
        self, message: Reading | Availability, now: dt.datetime, retained: bool, events: list[EventRecord]
    ) -> Outcome:
        outcome = self.intake.admit(message, now, retained)
        if outcome == "unregistered":
            self._unknown_alert(self.intake.unknown_building(message.building), now, events)
        return outcome

    def _unknown_alert(self, building: str, now: dt.datetime, events: list[EventRecord]) -> None:
        """Devices outside the registry report in `building`: its one `unknown-devices` alert."""
        ak = (UNKNOWN_DEVICES.id, building, BUILDING, building)
        if ak not in self.open:
            bucket = self.intake.unknown[building]
            bucket.reported = bucket.count
            self._raise(UNKNOWN_DEVICES, ak, bucket.count, now, events)

    def _building(self, building: str, online: bool, now: dt.datetime) -> tuple[Outcome, list[EventRecord]]:
        events: list[EventRecord] = []
        with self.lock:
            outcome = self.intake.admit_building(building, now)
            if outcome == "unregistered":
                self._unknown_alert(self.intake.unknown_building(building), now, events)
            elif outcome == "accepted":
                self.building_online[building] = online
                ak = (BUILDING_OFFLINE.id, building, BUILDING, building)
                if not online:
                    self._raise(BUILDING_OFFLINE, ak, "offline", now, events)
                elif ak in self.open:
                    self._clear(ak, now, "online again", events)
        self._count(outcome)
        return outcome, events

    def _reading(self, reading: Reading, now: dt.datetime, retained: bool, events: list[EventRecord]) -> None:
        key = (reading.building, reading.kind, reading.device)
        state = self.latest.get(key)
        if state is None:
            state = self.latest[key] = {}
        if "drill" in state and "drill" not in reading.fields:
            del state["drill"]  # a drill's mark holds for its own readings only (_raise)
        state.update(reading.fields)
        if not retained:  # a retained reading is no sign of life now
            self.last_seen[key] = now.timestamp()
        self.availability_offline.discard((reading.building, reading.device))
        conditions, liveness = self._rules(key)
        for rule in liveness:
            ak = (rule.id, *key)
            if ak in self.open:
                self._clear(ak, now, "reporting again", events)
        if conditions:
            info = self.registry.get(*key)
            today = now.astimezone(self.tz).date()
            for rule in conditions:
                self._evaluate(rule, key, state, info, now, today, events)

    def _availability(
        self, message: Availability, now: dt.datetime, retained: bool, events: list[EventRecord]
    ) -> None:
        key = (message.building, message.kind, message.device)
        _, liveness = self._rules(key)
        if not message.online:
            self.availability_offline.add((message.building, message.device))
            for rule in liveness:
                if rule.offline:
                    self._raise_liveness(rule, key, "offline", now, events)
            return
        self.availability_offline.discard((message.building, message.device))
        if not retained:
            # A retained "online" may be hours old; only a live one is a sign of life.
            self.last_seen[key] = now.timestamp()
        for rule in liveness:
            ak = (rule.id, *key)
            alert = self.open.get(ak)
            if alert is not None and (alert.value == "offline" or not retained):
                self._clear(ak, now, "online again", events)

    # ------------------------------------------------------------ evaluation

    def _rules(self, key: Key) -> tuple[list[Rule], list[Rule]]:
        cached = self._rule_cache.get(key)
        if cached is None:
            info = self.registry.get(*key)
            cached = (
                [r for r in self.condition_rules if r.match.accepts(*key, info)],
                [r for r in self.liveness_rules if r.match.accepts(*key, info)],
            )
            if len(self._rule_cache) >= _RULE_CACHE_MAX:
                self._rule_cache.clear()
            self._rule_cache[key] = cached
        return cached

    def _evaluate(
        self,
        rule: Rule,
        key: Key,
        state: dict[str, FieldValue],
        info: DeviceInfo | None,
        now: dt.datetime,
        today: dt.date,
        events: list[EventRecord],
    ) -> None:
        assert rule.when is not None
        ak = (rule.id, *key)
        self.metrics.evaluations.labels(rule.id).inc()
        if rule.schedule is not None and not rule.schedule.active(now, self.registry.timezone):
            self._drop_pending(ak)
            if ak in self.active or ak in self.held:
                self.active.discard(ak)
                self.held.pop(ak, None)
                if ak in self.open:
                    self._clear(ak, now, "outside the rule's schedule", events)
            return
        view = View(state, info, today)
        result, value = rule.when.evaluate(view)
        if ak in self.active:
            if self._cleared(rule, view, result, state):
                self._condition_cleared(rule, ak, now, events)
            return
        if ak in self.held:
            if result is True:
                # Back on while held open: one more change, same alert.
                self.held.pop(ak)
                self.active.add(ak)
                self._flaps(ak).record(now, self.ruleset.flapping(rule).window)
            return
        if result is True:
            if rule.for_ is not None:
                pending = self.pending.get(ak)
                if pending is None:
                    pending = Pending(rule.id, *key, since=now, value=value)
                    self.pending[ak] = pending
                    self.store.save_pending(pending)
                    return
                if now - pending.since < rule.for_:
                    return
            self._condition_fired(rule, ak, value, now, events)
        elif result is False:
            self._drop_pending(ak)

    def _cleared(self, rule: Rule, view: View, result: bool | None, state: dict[str, FieldValue]) -> bool:
        """Whether a firing condition has stopped: `clear` true (or, without one, `when` false).

        An unknown answer cannot hold an alert open: it comes from a field the device has not
        reported, maybe an optional one it never sends (`aed-fault` reads `self_test`), and would
        keep the alert open for ever. So unknown with `when` not true clears too, unless the device
        has reported none of the rule's fields since the engine started: after a restart an open
        alert waits for a reading about it (a heartbeat without `cabinet_open` does not close the
        cabinet's alert). docs/rules.md, "Fields a device has not reported".
        """
        decided = (
            rule.clear.evaluate(view)[0] if rule.clear is not None else None if result is None else not result
        )
        if decided is not None:
            return decided
        return result is not True and not state.keys().isdisjoint(self._rule_fields[rule.id])

    def _drop_pending(self, ak: AlertKey) -> None:
        if self.pending.pop(ak, None) is not None:
            self.store.delete_pending(*ak)

    def _flaps(self, ak: AlertKey) -> FlapCounter:
        counter = self.flaps.get(ak)
        if counter is None:
            counter = self.flaps[ak] = FlapCounter()
        return counter

    def _condition_fired(
        self, rule: Rule, ak: AlertKey, value: FieldValue | None, now: dt.datetime, events: list[EventRecord]
    ) -> None:
        self._drop_pending(ak)
        self.active.add(ak)
        self._flaps(ak).record(now, self.ruleset.flapping(rule).window)
        self._raise(rule, ak, value, now, events)

    def _condition_cleared(
        self, rule: Rule, ak: AlertKey, now: dt.datetime, events: list[EventRecord]
    ) -> None:
        self.active.discard(ak)
        policy = self.ruleset.flapping(rule)
        changes = self._flaps(ak).record(now, policy.window)
        alert = self.open.get(ak)
        if alert is None:
            return  # resolved by hand while the condition held: nothing left to clear
        if alert.flapping or changes >= policy.changes:
            if not alert.flapping:
                event = self.store.mark_flapping(
                    alert.id, now, f"{changes} changes within {policy.window}; held open until stable"
                )
                if event is not None:
                    self._emit(event, events)
            self.held[ak] = now
            return
        self._clear(ak, now, "condition cleared", events)

    # ------------------------------------------------------------- raise/clear

    def _summary(
        self, rule: Rule, ak: AlertKey, value: JsonValue, info: DeviceInfo | None
    ) -> tuple[str, dict[str, str]]:
        """The alert's summary, and one per language the rule gives (labels `summary_<lang>`).

        The summary keeps the registry's texts whole (a location reads "中文 / English"); a
        language's own summary takes its half of them, and the building's name in that language.
        """
        _, building, kind, device = ak
        if isinstance(rule.when, RatioCompare) and isinstance(value, int | float):
            value_text = f"{value * 100:.0f}%"
        else:
            value_text = (
                "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
            )
        fields = _Defaulting(rule=rule.id, building=building, kind=kind, device=device, value=value_text)
        b = self.registry.buildings.get(building)
        fields["building_name"] = (b.name_en or b.name) if b else building
        if info is not None:
            for name in ("name", "floor", "zone", "location"):
                fields[name] = getattr(info, name) or ""
        if not fields.get("location"):
            fields["location"] = f"{building}/{device}"
        if rule.summary is None:
            return f"{rule.id}: {building}/{device}", {}
        if isinstance(rule.summary, str):
            return rule.summary.format_map({k: fields[k] for k in PLACEHOLDERS}), {}
        per_lang: dict[str, str] = {}
        for lang, template in rule.summary.items():
            local = _Defaulting(fields)
            if b is not None:
                local["building_name"] = b.name if lang == "zh" else (b.name_en or b.name)
            halves = str(local["location"]).split(" / ")
            if len(halves) == 2:
                local["location"] = halves[0] if lang == "zh" else halves[1]
            per_lang[f"summary_{lang}"] = template.format_map({k: local[k] for k in PLACEHOLDERS})
        main = rule.summary.get("en") or next(iter(rule.summary.values()))
        return main.format_map({k: fields[k] for k in PLACEHOLDERS}), per_lang

    def _raise(
        self,
        rule: Rule,
        ak: AlertKey,
        value: JsonValue,
        now: dt.datetime,
        events: list[EventRecord],
        extra_labels: dict[str, str] | None = None,
    ) -> None:
        if ak in self.open:
            return
        _, building, kind, device = ak
        info = self.registry.get(building, kind, device)
        labels = {n: str(getattr(info, n)) for n in LABEL_FIELDS if info is not None and getattr(info, n)}
        if extra_labels:
            labels.update(extra_labels)
        summary, summaries = self._summary(rule, ak, value, info)
        if self.latest.get((building, kind, device), {}).get("drill") is True:
            # Raised by a drill's reading (payload `drill: true`): marked so nobody mistakes it.
            labels[DRILL_LABEL] = "true"
            summary, summaries = drill_summaries(summary, summaries)
        labels.update(summaries)
        silenced = (
            muting(
                self.silences,
                rule=rule.id,
                severity=rule.severity,
                building=building,
                kind=kind,
                device=device,
                now=now,
            )
            is not None
        )
        new = NewAlert(
            rule.id,
            rule.severity,
            building,
            kind,
            device,
            summary,
            value,
            labels,
        )
        event = self.store.raise_alert(new, now, silenced=silenced)
        if event is None:
            # Another engine on the same store opened it first (the unique index said no).
            existing = self.store.open_alert(rule.id, building, kind, device)
            if existing is not None:
                self.open[ak] = existing
            return
        self._emit(event, events)

    def _clear(self, ak: AlertKey, now: dt.datetime, note: str, events: list[EventRecord]) -> None:
        alert = self.open.pop(ak, None)
        self.held.pop(ak, None)
        if alert is None:
            return
        event = self.store.clear(alert.id, now, note)
        if event is not None:
            self._emit(event, events)

    def _emit(self, event: EventRecord, events: list[EventRecord]) -> None:
        """Stored already; now keep the open map in step, publish, count."""
        alert = event.alert
        ak = (alert.rule, alert.building, alert.kind, alert.device)
        if alert.is_open:
            self.open[ak] = alert
        elif self.open.get(ak, alert).id == alert.id:
            self.open.pop(ak, None)
        rule = self.rules_by_id.get(alert.rule)
        if rule is not None and rule.liveness:
            if alert.is_open:
                self.liveness_down.add((alert.building, alert.device))
            else:
                self.liveness_down.discard((alert.building, alert.device))
        try:
            self.publisher.publish(event)
        except Exception:  # a publisher must not stop the engine; the event is stored
            self.metrics.errors.labels("publish").inc()
            log.exception("alert event not published", event_id=event.id)
        self.metrics.events.labels(event.event, alert.severity).inc()
        events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def _inhibitor(self, key: Key) -> str | None:
        info = self.registry.get(*key)
        return inhibitor(key[0], info.gateway if info else None, self.building_online, self._down)

    def _raise_liveness(
        self, rule: Rule, key: Key, why: str, now: dt.datetime, events: list[EventRecord]
    ) -> None:
        """Raise a liveness alert unless a gateway or the building being offline explains it:
        then it is held back (counted), except for the severities in NEVER_HELD_BACK, which are
        raised with the label `inhibited_by` so that the dashboard shows them under the outage."""
        ak = (rule.id, *key)
        if ak in self.open:
            return
        why_inhibited = self._inhibitor(key)
        if why_inhibited is not None and rule.severity not in NEVER_HELD_BACK:
            self.metrics.inhibited.labels(rule.id).inc()
            return
        extra = {"inhibited_by": why_inhibited} if why_inhibited is not None else None
        self._raise(rule, ak, why, now, events, extra)

    @property
    def _down(self) -> _Down:
        return _Down(self.availability_offline, self.liveness_down)

    # ------------------------------------------------------ scheduled work

    def tick(self, now: dt.datetime) -> list[EventRecord]:
        """Every second or so: `for` timers that have run out, flapping alerts that settled, and
        rules whose schedule window has closed."""
        events: list[EventRecord] = []
        today = now.astimezone(self.tz).date()
        with self.lock:
            for ak, pending in list(self.pending.items()):
                rule = self.rules_by_id.get(ak[0])
                state = self.latest.get(ak[1:])
                if rule is None or rule.liveness:
                    self._drop_pending(ak)
                elif state is not None and rule.for_ is not None and now - pending.since >= rule.for_:
                    # Re-evaluated, not assumed: after a restart the latest state decides.
                    self._evaluate(rule, ak[1:], state, self.registry.get(*ak[1:]), now, today, events)
            for ak, since in list(self.held.items()):
                rule = self.rules_by_id.get(ak[0])
                settle = self.ruleset.flapping(rule).settle if rule else dt.timedelta(0)
                if now - since >= settle:
                    self.flaps.pop(ak, None)
                    self._clear(ak, now, "stable again after flapping", events)
            for ak in list(self.active):
                rule = self.rules_by_id.get(ak[0])
                if (
                    rule is not None
                    and rule.schedule is not None
                    and not rule.schedule.active(now, self.registry.timezone)
                ):
                    state = self.latest.get(ak[1:], {})
                    self._evaluate(rule, ak[1:], state, self.registry.get(*ak[1:]), now, today, events)
        return events

    def daily(self, now: dt.datetime) -> list[EventRecord]:
        """Once a day: date checks (pads expiry) against each device's latest state."""
        return self.reevaluate(now, self.date_rules)

    def reevaluate(self, now: dt.datetime, rules: list[Rule]) -> list[EventRecord]:
        events: list[EventRecord] = []
        today = now.astimezone(self.tz).date()
        with self.lock:
            for key, state in list(self.latest.items()):
                conditions, _ = self._rules(key)
                for rule in conditions:
                    if rule in rules:
                        self._evaluate(rule, key, state, self.registry.get(*key), now, today, events)
        return events

    def maintain(self, now: dt.datetime) -> list[EventRecord]:
        """Every few seconds: silences (start, end), changes made elsewhere (API acks and
        resolutions, other engines), escalations, the alert gauges."""
        events: list[EventRecord] = []
        for event in self.store.close_ended_silences(now):
            with self.lock:
                self._emit(event, events)
        self.store.apply_silences(now)
        silences = self.store.list_silences(active_at=now)
        with self.lock:
            # Read under the lock so that no alert raised meanwhile is missing from the snapshot.
            alerts = self.store.open_alerts()
            self.silences = silences
            self._refresh_open(alerts)
        due = due_escalations(alerts, now, self._escalate_after, self.ruleset.file.defaults.max_escalation)
        for alert_id, level in due:
            escalated = self.store.escalate(alert_id, level, now)
            if escalated is not None:
                with self.lock:
                    self._emit(escalated, events)
        with self.lock:
            for building, bucket in self.intake.unknown.items():
                alert = self.open.get((UNKNOWN_DEVICES.id, building, BUILDING, building))
                if alert is not None and bucket.count != bucket.reported:
                    # The count grows without an event: a new unknown device is not news.
                    self.store.update_value(alert.id, bucket.count)
                    bucket.reported = bucket.count
        self.metrics.set_counts(self.store.counts())
        self._measure_tables()
        return events

    def _measure_tables(self) -> None:
        """Every per-device table, with its size: each is bounded by the registry (devices not in
        it are not tracked) or by `max_unregistered`, and these gauges show it."""
        sizes = {
            "latest": len(self.latest),
            "last_seen": len(self.last_seen),
            "reading_order": len(self.intake.order.newest),
            "unregistered": len(self.intake.unregistered),
            "unknown_devices": sum(b.count for b in self.intake.unknown.values()),
            "open_alerts": len(self.open),
            "pending": len(self.pending),
            "flapping_counters": len(self.flaps),
            "active": len(self.active),
            "held_open": len(self.held),
            "rule_cache": len(self._rule_cache),
            "availability_offline": len(self.availability_offline),
            "building_online": len(self.building_online),
        }
        for table, size in sizes.items():
            self.metrics.tables.labels(table).set(size)

    def _escalate_after(self, alert: AlertRecord) -> dt.timedelta | None:
        return escalation_interval(self.ruleset, alert, self.rule(alert.rule))

    def sweep(self, now: dt.datetime) -> list[EventRecord]:
        """Liveness: raise for devices silent past their rule's `silent_for`. Gateways first, so
        that the devices behind a silent gateway are recognised as inhibited in the same sweep.

        Alerts that may be held back (severities outside NEVER_HELD_BACK) are gathered per
        building first: more than `liveness_summary_over` in one building become one
        `devices-silent` alert (a power cut in a garage is one row, not 500); that alert clears
        at the first sweep that finds no more than that, which raises the remaining ones."""
        events: list[EventRecord] = []
        stamp = now.timestamp()
        snapshot = dict(self.last_seen)  # copied in one step under the GIL: no lock held while scanning
        ages = sorted({r.silent_for for r in self.liveness_rules if r.silent_for is not None})
        gathered: dict[str, list[tuple[Rule, Key]]] = {}
        for age in ages:
            silent = find_silent(snapshot, stamp, age.total_seconds())
            silent.sort(key=lambda k: (k[0], k[2]) not in self._gateway_ids)
            for key in silent:
                _, liveness = self._rules(key)
                for rule in liveness:
                    if rule.silent_for != age or (rule.id, *key) in self.open:
                        continue
                    with self.lock:
                        if self.last_seen.get(key, 0.0) >= stamp - age.total_seconds():
                            continue
                        if (
                            rule.severity in NEVER_HELD_BACK
                            or not self.liveness_summary_over
                            or (key[0], key[2]) in self._gateway_ids  # raised: it explains the others
                        ):
                            self._raise_liveness(rule, key, "silent", now, events)
                        elif self._inhibitor(key) is not None:
                            self.metrics.inhibited.labels(rule.id).inc()
                        else:
                            gathered.setdefault(key[0], []).append((rule, key))
        with self.lock:
            self._summarise(gathered, now, events)
            self._unknown_quiet(now, events)
        return events

    def _summarise(
        self, gathered: dict[str, list[tuple[Rule, Key]]], now: dt.datetime, events: list[EventRecord]
    ) -> None:
        open_summaries = {ak[1] for ak in self.open if ak[0] == LIVENESS_SUMMARY.id}
        for building in open_summaries | gathered.keys():
            found = gathered.get(building, [])
            ak = (LIVENESS_SUMMARY.id, building, BUILDING, building)
            if len(found) > self.liveness_summary_over:
                alert = self.open.get(ak)
                if alert is None:
                    self._raise(LIVENESS_SUMMARY, ak, len(found), now, events)
                elif alert.value != len(found):
                    self.store.update_value(alert.id, len(found))
                    self.open[ak] = dataclasses.replace(alert, value=len(found))
                continue
            if ak in self.open:
                self._clear(ak, now, f"{len(found)} silent devices now: raised one by one", events)
            for rule, key in found:
                self._raise_liveness(rule, key, "silent", now, events)

    def _unknown_quiet(self, now: dt.datetime, events: list[EventRecord]) -> None:
        """Clear a building's `unknown-devices` alert once none has reported for UNKNOWN_QUIET."""
        cutoff = (now - UNKNOWN_QUIET).timestamp()
        for building, bucket in list(self.intake.unknown.items()):
            if bucket.last_at < cutoff:
                del self.intake.unknown[building]
                self._clear(
                    (UNKNOWN_DEVICES.id, building, BUILDING, building),
                    now,
                    f"no device outside the registry for {UNKNOWN_QUIET}",
                    events,
                )
