"""How every `louyu` command starts (`start`: settings, logging, the production checks) and how
the parts of one process run until SIGINT or SIGTERM (`run_parts`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog
from pydantic import ValidationError

from collector.area_clock import AreaClock, parse_clock
from collector.registry import Registry, RegistryError
from louyu.logs import configure_logging
from louyu.settings import OLD_SPOOL_PATH, Settings, env_name, get_settings

log = structlog.get_logger("louyu")


class Part(Protocol):
    def start(self) -> object: ...

    def stop(self) -> object: ...


def start(
    command: str,
    *,
    service: bool = True,
    defaults: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Settings and logging for one command. `service`: a part that serves (collector, rules,
    notifier, API, `up`), held to the production checks; `defaults` lose to the environment and
    the file (the demo's), `overrides` win over both (the command's options)."""
    try:
        settings = get_settings(defaults, **(overrides or {}))
    except ValidationError as error:
        raise SystemExit(f"louyu {command}: {describe(error)}") from error
    except ValueError as error:  # an unreadable LOUYU_CONFIG_FILE
        raise SystemExit(f"louyu {command}: {error}") from error
    configure_logging(settings.log.level, settings.log.format)
    if service:
        check_settings(settings, command)
    return settings


def describe(error: ValidationError) -> str:
    """A settings error by the names an operator sets (`LOUYU_MQTT_URL: ...`)."""
    lines = []
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"]]
        name = env_name(loc[0], loc[1]) if len(loc) >= 2 else env_name("", loc[0]) if loc else "settings"
        lines.append(f"{name}: {item['msg']}")
    return "; ".join(lines)


def check_settings(settings: Settings, command: str = "") -> None:
    """In production: no secret left at a placeholder, no anonymous broker."""
    if settings.environment != "production":
        return
    problems = settings.check_secrets() + settings.check_credentials()
    if problems:
        prefix = f"louyu {command}: " if command else "louyu: "
        raise SystemExit(prefix + "; ".join(problems))


def check_state_paths(settings: Settings, cwd: Path | None = None) -> None:
    """Refuse to start next to a spool left at the old default (var/spool.db under the working
    directory): its readings would silently stay behind while a new, empty spool is used."""
    old = (cwd or Path.cwd()) / OLD_SPOOL_PATH
    configured = settings.collector.spool_path
    if old.exists() and old.resolve() != configured.resolve():
        raise SystemExit(
            f"louyu: a spool from an earlier version is at {old}, but the spool is now"
            f" {configured} (LOUYU_STATE_DIR / LOUYU_SPOOL_PATH). Readings not yet in InfluxDB may be"
            f" in it: stop, move it to {configured} (or set LOUYU_SPOOL_PATH={old}), then start again."
        )


def load_registry(settings: Settings) -> Registry:
    try:
        return Registry.load(settings.registry.file)
    except RegistryError as error:
        raise SystemExit(f"louyu: {error}") from error


def area_clock(settings: Settings, registry: Registry) -> AreaClock:
    """The area's clock of this process: the real one, or the demo's (`LOUYU_DEMO_CLOCK`), anchored
    now unless the setting names its anchor. Build it once per process and hand it to every part."""
    clock = parse_clock(settings.demo.clock, ZoneInfo(registry.timezone))
    if clock.simulated:
        log.info(
            "demo_clock", clock=settings.demo.clock, speed=clock.speed, anchor_real_ms=clock.anchor_real_ms
        )
    return clock


def serve_metrics(settings: Settings) -> None:
    """Prometheus metrics on LOUYU_METRICS_BIND, for a part run alone (the API serves its own)."""
    if not settings.metrics.bind:
        return
    from prometheus_client import start_http_server

    host, _, port = settings.metrics.bind.rpartition(":")
    start_http_server(int(port), addr=host or "127.0.0.1")


def wait_for_signal() -> None:
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    stop.wait()


def run_parts(parts: Sequence[tuple[str, Part]]) -> None:
    """Start parts in order, wait for a signal, stop them in reverse order."""
    started: list[tuple[str, Part]] = []
    try:
        for name, part in parts:
            part.start()
            started.append((name, part))
            log.info("started", part=name)
        wait_for_signal()
    finally:
        for name, part in reversed(started):
            try:
                part.stop()
            except Exception:
                log.exception("error while stopping", part=name)
