"""Real broker and database processes on free loopback ports, for the tests.

mosquitto and influxd are the runtime's own (`louyu.local_services`, which `louyu up --demo` uses
too); VictoriaMetrics, a real InfluxDB v2 write target, is here for the tests only.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from louyu.local_services import (
    COLLECTOR_BROKER_SETTINGS,
    Influxd,
    Mosquitto,
    Service,
    ServiceError,
    free_port,
    http_ok,
    port_open,
    require_binary,
)

__all__ = [
    "COLLECTOR_BROKER_SETTINGS",
    "Influxd",
    "Mosquitto",
    "Service",
    "ServiceError",
    "VictoriaMetrics",
    "free_port",
    "http_ok",
    "port_open",
    "require_binary",
]


class VictoriaMetrics(Service):
    """A real InfluxDB v2 write target: accepts /api/v2/write (line protocol)."""

    name = "victoria-metrics"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.binary = require_binary("victoria-metrics")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            self.binary,
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.workdir}/data",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
            "-loggerLevel=ERROR",
        ]

    def ready(self) -> bool:
        return http_ok(f"{self.url}/health")

    def flush(self) -> None:
        """Make everything ingested so far searchable (it is buffered for about a second)."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).close()
