"""Running parts of louyu in one process until SIGINT or SIGTERM."""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from typing import Protocol

import structlog

from collector.registry import Registry, RegistryError
from louyu.settings import Settings

log = structlog.get_logger("louyu")


class Part(Protocol):
    def start(self) -> object: ...

    def stop(self) -> object: ...


def load_registry(settings: Settings) -> Registry:
    try:
        return Registry.load(settings.registry_file)
    except RegistryError as error:
        raise SystemExit(f"louyu: {error}") from error


def check_settings(settings: Settings) -> None:
    """Refuse secrets left at a placeholder, outside development."""
    problems = settings.check_secrets()
    if problems and settings.environment == "production":
        raise SystemExit("louyu: " + "; ".join(problems))


def serve_metrics(settings: Settings) -> None:
    """Prometheus metrics on LOUYU_METRICS_BIND, for a part run alone (the API serves its own)."""
    if not settings.metrics_bind:
        return
    from prometheus_client import start_http_server

    host, _, port = settings.metrics_bind.rpartition(":")
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
