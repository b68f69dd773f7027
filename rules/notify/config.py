"""The routing file: receivers (who, by which channel, when on duty) and routes (which alerts go where).

Validated with pydantic; every problem is reported with the line of the YAML node it concerns, so
that `routes.yaml:14: routes.0.escalate.1.after: ...` points at the mistake. Parsed once at start-up.
"""

from __future__ import annotations

import datetime as dt
import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from collector.yaml_text import compose_and_load
from rules.notify.errors import RoutingFileError
from rules.notify.ngsi_ld import PARKING_CONTEXT, TYPES, EntityType
from rules.records import EventKind

DEFAULT_EVENTS: tuple[EventKind, ...] = ("raised", "unsilenced", "acknowledged", "resolved")
SEVERITIES = ("critical", "major", "minor", "warning", "info")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$")
_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def parse_duration(value: object) -> dt.timedelta:
    """`90s`, `5m`, `1h30m`, `2d`, `250ms`, or a number of seconds."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text such as 90s, 5m, 1h30m")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value and (match := _DURATION_RE.match(value.strip())):
        d, h, m, s, ms = match.groups()
        seconds = (
            int(d or 0) * 86400 + int(h or 0) * 3600 + int(m or 0) * 60 + float(s or 0) + int(ms or 0) / 1000
        )
    else:
        raise ValueError(f"{value!r} is not a duration (examples: 90s, 5m, 1h30m, 2d)")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return dt.timedelta(seconds=seconds)


def _parse_clock(value: object) -> dt.time:
    if isinstance(value, int):  # YAML 1.1 reads 08:00 unquoted as a base-60 integer (480)
        if 0 <= value < 24 * 60:
            return dt.time(value // 60, value % 60)
        raise ValueError(f'{value} is not a time of day; write it as "HH:MM"')
    if isinstance(value, str):
        if value == "24:00":
            return dt.time.max
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f'{value!r} is not a time of day; write it as "HH:MM"')


CHANNELS = ("mqtt", "webhook", "cloudevents", "apprise", "ngsi_ld")
Duration = Annotated[dt.timedelta, BeforeValidator(parse_duration)]
Clock = Annotated[dt.time, BeforeValidator(_parse_clock)]
OneOrMany = Annotated[list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Shift(_Strict):
    """On duty from `start` to `end` (local time) on the listed weekdays; an `end` before `start`
    runs past midnight into the next day (a night shift belongs to the day it starts)."""

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    start: Clock = dt.time(0, 0)
    end: Clock = dt.time.max


class Retry(_Strict):
    initial: Duration = dt.timedelta(seconds=1)
    max: Duration = dt.timedelta(minutes=5)
    multiplier: float = Field(2.0, ge=1.0, le=10.0)
    # How long a delivery keeps being retried before it is given up as failed.
    deadline: Duration = dt.timedelta(hours=6)
    timeout: Duration = dt.timedelta(seconds=10)


class MqttChannel(_Strict):
    # The handset's topic; default louyu/notify/{receiver name}.
    topic: str | None = Field(None, pattern=r"^louyu/notify/[^#+\s]+$")


class SecretRef(_Strict):
    """Where the signing secret lives: an environment variable or a file (never the routing file)."""

    secret_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    secret_file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.secret_env is None) == (self.secret_file is None):
            raise ValueError("give exactly one of secret_env or secret_file")
        return self


class WebhookChannel(SecretRef):
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)


class CloudEventsChannel(SecretRef):
    url: str = Field(pattern=r"^https?://")
    # CloudEvents `source`: who we are, as the city platform knows us.
    source: str = "/louyu"
    headers: dict[str, str] = Field(default_factory=dict)


class AppriseChannel(_Strict):
    """Apprise URLs (mailto://, dingtalk://, wecombot://, feishu://...). They hold credentials, so they
    come from the environment or a file: one URL per line."""

    urls_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    urls_file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> AppriseChannel:
        if (self.urls_env is None) == (self.urls_file is None):
            raise ValueError("give exactly one of urls_env or urls_file")
        return self


class NgsiLdChannel(_Strict):
    """A city NGSI-LD context broker, kept up to date with the parking entities by batch upsert
    (`POST {url}/ngsi-ld/v1/entityOperations/upsert`). It takes no alerts: routes and the snapshot
    may not name it. The bearer token, if the broker wants one, comes from the environment or a file."""

    url: str = Field(pattern=r"^https?://")
    tenant: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # The @context: a JSON-LD document URL, sent in a `Link` header (body `application/json`), or
    # with `inline_context: true` inside every entity (body `application/ld+json`).
    context: str = Field(PARKING_CONTEXT, pattern=r"^https?://")
    inline_context: bool = False
    token_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    token_file: Path | None = None
    types: list[EntityType] = Field(default_factory=lambda: list(TYPES), min_length=1)
    # At most `batch` entities per request, at most `rate` requests per second, a new round of
    # changed entities every `every` (once the previous round is out).
    batch: int = Field(100, ge=1, le=1000)
    rate: float = Field(5.0, gt=0, le=1000)
    every: Duration = dt.timedelta(seconds=10)

    @model_validator(mode="after")
    def _one_token_source(self) -> NgsiLdChannel:
        if self.token_env is not None and self.token_file is not None:
            raise ValueError("give at most one of token_env or token_file")
        # A group names its site, a spot its site and level: no relationship may dangle at the broker.
        needs = {"ParkingGroup": {"OffStreetParking"}, "ParkingSpot": {"OffStreetParking", "ParkingGroup"}}
        for name in self.types:
            missing = sorted(needs.get(name, set()) - set(self.types))
            if missing:
                raise ValueError(f"types: {name} refers to {', '.join(missing)}, which must be sent too")
        return self

    @property
    def upsert_url(self) -> str:
        return self.url.rstrip("/") + "/ngsi-ld/v1/entityOperations/upsert"


class Receiver(_Strict):
    name: str = Field(pattern=_NAME)
    description: str | None = None
    mqtt: MqttChannel | None = None
    webhook: WebhookChannel | None = None
    cloudevents: CloudEventsChannel | None = None
    apprise: AppriseChannel | None = None
    ngsi_ld: NgsiLdChannel | None = None
    language: Literal["zh", "en", "zh+en"] = "zh+en"
    # The API token names of the people who carry this receiver (a handset on a rota): their
    # phone view (`/patrol`) puts what this receiver is paged about first. A token whose name is
    # the receiver's own name is matched too (docs/notifications.md).
    people: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list)
    # No shifts: always on duty.
    on_duty: list[Shift] = Field(default_factory=list)
    retry: Retry = Field(default_factory=Retry)

    @model_validator(mode="after")
    def _one_channel(self) -> Receiver:
        given = [c for c in CHANNELS if getattr(self, c) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one channel: mqtt, webhook, cloudevents, apprise or ngsi_ld")
        return self

    @property
    def channel(self) -> str:
        for name in CHANNELS:
            if getattr(self, name) is not None:
                return name
        raise AssertionError("validated to have one channel")


class Match(_Strict):
    """Every field given must match (glob patterns, any of a list); an empty match takes every alert."""

    severity: OneOrMany | None = None
    rule: OneOrMany | None = None
    kind: OneOrMany | None = None
    building: OneOrMany | None = None
    device: OneOrMany | None = None
    # Registry tags and alert labels, such as floor or zone.
    labels: dict[str, OneOrMany] = Field(default_factory=dict)


class EscalationStep(_Strict):
    # Measured from the moment the alert was first notified on this route.
    after: Duration
    receivers: OneOrMany = Field(min_length=1)


def _default_events() -> list[EventKind] | Literal["all"]:
    return list(DEFAULT_EVENTS)


class Route(_Strict):
    name: str | None = Field(None, pattern=_NAME)
    match: Match = Field(default_factory=Match)
    receivers: OneOrMany = Field(min_length=1)
    events: list[EventKind] | Literal["all"] = Field(default_factory=_default_events)
    # Silenced alerts (a maintenance window) are not sent unless the route asks for them.
    include_silenced: bool = False
    # Remind the receivers of the current level this often until the alert is acknowledged.
    repeat_every: Duration | None = None
    max_reminders: int | None = Field(None, ge=1)
    escalate: list[EscalationStep] = Field(default_factory=list)
    # Like Alertmanager: the first matching route takes the alert unless it says `continue: true`.
    continue_: bool = Field(False, alias="continue")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _ordered_steps(self) -> Route:
        afters = [step.after for step in self.escalate]
        if afters != sorted(afters) or len(set(afters)) != len(afters):
            raise ValueError("escalation steps must have increasing `after` delays")
        return self

    def takes(self, event: str) -> bool:
        return self.events == "all" or event in self.events

    @property
    def timed(self) -> bool:
        return self.repeat_every is not None or bool(self.escalate)


class Snapshot(_Strict):
    """The periodic building status pushed to the city platform."""

    every: Duration = dt.timedelta(minutes=1)
    receivers: OneOrMany = Field(min_length=1)


class ReportSchedule(_Strict):
    """Reports made on a schedule and sent (docs/reports.md): weekly on Monday, monthly on the 1st,
    at `at` local time, for the period just ended. Receivers are apprise (e-mail with the PDF
    attached) or webhook receivers (a signed JSON message with the links)."""

    kinds: list[str] = Field(min_length=1)
    every: Literal["week", "month"]
    at: Clock = dt.time(2, 0)
    building: str | None = Field(None, pattern=_NAME)
    languages: list[Literal["zh", "en"]] = Field(["zh"], min_length=1)
    receivers: OneOrMany = Field(default_factory=list)
    # The API's address as the receivers reach it, for the links (e.g. https://louyu.example.com).
    link_base: str | None = Field(None, pattern=r"^https?://")
    # A failed sending is tried again after each of these delays in turn (counted from the
    # attempt before), to the receivers that failed only; after the last, given up. The default
    # spans about 22 hours: a receiver down for a night still gets the month's report.
    retry: list[Duration] = Field(
        default_factory=lambda: [dt.timedelta(minutes=m) for m in (1, 5, 15, 60, 3 * 60, 6 * 60, 12 * 60)],
        max_length=20,
    )


class RoutingConfig(_Strict):
    timezone: str = "Asia/Shanghai"
    receivers: list[Receiver] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    snapshot: Snapshot | None = None
    reports: list[ReportSchedule] = Field(default_factory=list)
    # The alert raised when a delivery of a critical alert finally fails.
    delivery_failed_rule: str = Field("notify-delivery-failed", pattern=_NAME)

    @model_validator(mode="after")
    def _check_names(self) -> RoutingConfig:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown timezone {self.timezone!r}") from error
        names = [r.name for r in self.receivers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"receiver(s) listed twice: {', '.join(twice)}")
        known = set(names)
        referenced: list[str] = []
        for route in self.routes:
            referenced += route.receivers
            for step in route.escalate:
                referenced += step.receivers
        if self.snapshot is not None:
            referenced += self.snapshot.receivers
        for schedule in self.reports:
            referenced += schedule.receivers
        unknown = sorted({n for n in referenced if n not in known})
        if unknown:
            raise ValueError(f"unknown receiver(s): {', '.join(unknown)}")
        brokers = sorted({r.name for r in self.receivers if r.ngsi_ld is not None} & set(referenced))
        if brokers:
            raise ValueError(
                f"ngsi_ld receiver(s) {', '.join(brokers)} take entities, not alerts: "
                "name them in no route and not in the snapshot"
            )
        by_name = {r.name: r for r in self.receivers}
        unfit = sorted(
            {
                n
                for s in self.reports
                for n in s.receivers
                if n in by_name and by_name[n].channel not in ("apprise", "webhook")
            }
        )
        if unfit:
            raise ValueError(f"report receiver(s) {', '.join(unfit)} must be apprise or webhook receivers")
        route_names = [r.name for r in self.routes if r.name]
        if len(set(route_names)) != len(route_names):
            raise ValueError("route names must be unique")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def receiver(self, name: str) -> Receiver:
        for receiver in self.receivers:
            if receiver.name == name:
                return receiver
        raise KeyError(name)

    def route_name(self, index: int) -> str:
        """A stable name for a route: its own, or its position."""
        return self.routes[index].name or f"route-{index}"


def _node_at(node: yaml.Node | None, loc: tuple[int | str, ...]) -> yaml.Node | None:
    """The deepest YAML node along a pydantic error location, for its line number."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    found = value
                    break
            if found is None:
                return node
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _problems(error: ValidationError, root: yaml.Node | None) -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        # Union members and validator names appear in the location; keep the path a user wrote.
        loc = tuple(
            p for p in item["loc"] if not (isinstance(p, str) and ("[" in p or p in ("function-after",)))
        )
        node = _node_at(root, loc)
        line = node.start_mark.line + 1 if node is not None else 1
        where = ".".join(str(p) for p in loc) or "(top)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"line {line}: {where}: {message}")
    return _sorted(lines)


def _sorted(lines: list[str]) -> list[str]:
    return sorted(set(lines), key=lambda text: int(text.split(":")[0].split()[1]))


def _reference_problems(raw: dict[str, Any], root: yaml.Node | None) -> list[str]:
    """Receivers named in routes but never defined, each on its own line; checked even when other
    parts of the file are wrong, so that one run lists every mistake."""
    defined = {r.get("name") for r in raw.get("receivers") or [] if isinstance(r, dict)}
    places: list[tuple[tuple[int | str, ...], object]] = []
    for i, route in enumerate(raw.get("routes") or []):
        if isinstance(route, dict):
            places.append((("routes", i, "receivers"), route.get("receivers")))
            for j, step in enumerate(route.get("escalate") or []):
                if isinstance(step, dict):
                    places.append((("routes", i, "escalate", j, "receivers"), step.get("receivers")))
    snapshot = raw.get("snapshot")
    if isinstance(snapshot, dict):
        places.append((("snapshot", "receivers"), snapshot.get("receivers")))
    found = []
    for loc, names in places:
        listed = [names] if isinstance(names, str) else names if isinstance(names, list) else []
        for k, name in enumerate(listed):
            if isinstance(name, str) and name not in defined:
                at = (*loc, k) if isinstance(names, list) else loc
                node = _node_at(root, at)
                line = node.start_mark.line + 1 if node is not None else 1
                found.append(f"line {line}: {'.'.join(str(p) for p in loc)}: unknown receiver {name!r}")
    return found


def parse_routing(text: str, where: str = "<text>") -> RoutingConfig:
    """Validate a routing file's text; raises RoutingFileError listing every problem with its line."""
    try:
        root, raw = compose_and_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise RoutingFileError(where, [f"line {line}: not valid YAML: {error}"]) from error
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RoutingFileError(where, ["line 1: the file must be a mapping with receivers and routes"])
    references = _reference_problems(raw, root)
    try:
        config = RoutingConfig.model_validate(raw)
    except ValidationError as error:
        found = [p for p in _problems(error, root) if not (references and "unknown receiver" in p)]
        raise RoutingFileError(where, _sorted(found + references)) from error
    if references:
        raise RoutingFileError(where, references)
    return config


def load_routing(path: Path | str | None = None) -> RoutingConfig:
    """Load a routing file; None means the packaged example (`rules/notify/data/routes.yaml`)."""
    if path is None:
        text = resources.files("rules.notify.data").joinpath("routes.yaml").read_text("utf-8")
        return parse_routing(text, "routes.yaml (packaged)")
    where = Path(path)
    try:
        text = where.read_text("utf-8")
    except OSError as error:
        raise RoutingFileError(str(where), [f"line 1: cannot read: {error.strerror}"]) from error
    return parse_routing(text, str(where))
