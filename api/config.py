"""What the API app needs to know, as one plain object (built from `Settings` by the wiring,
directly in tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from api.mqtt_feed import MqttConfig

VERSION: Final = "1"


@dataclass(frozen=True, slots=True)
class ApiConfig:
    # The API's own MQTT subscription (latest readings, alert wake-ups); None: no broker.
    mqtt: MqttConfig | None = None
    max_body_bytes: int = 64 * 1024
    # Per token: `rate_burst` requests at once, refilled at `rate_per_s`.
    rate_per_s: float = 20.0
    rate_burst: int = 100
    history_max_points: int = 10_000
    # Seed the latest-state table from InfluxDB's last values at start-up.
    seed_from_influx: bool = True
    seed_timeout_s: float = 5.0
    # Event streams: re-read the store this often even without a wake-up (another process may
    # write events while the broker is down), and send a comment this often to keep proxies open.
    sse_poll_s: float = 2.0
    sse_ping_s: float = 15.0
    sse_batch: int = 500
    # How long an event after a missing id is held back for that id to commit (api/event_order.py).
    sse_gap_grace_s: float = 2.0
    # An open stream re-checks its token this often, and ends once it is revoked or expired.
    sse_recheck_s: float = 30.0
    # Open event streams at once: per token, and in all (beyond either: 429 with Retry-After).
    # A dashboard holds one per browser tab; an integration one or two.
    sse_max_streams_per_token: int = 20
    sse_max_streams: int = 1000
    # Slow clients: a request's headers must arrive within `header_timeout_s` of the connection
    # opening (or of the previous response), and a kept-alive connection idle for `keep_alive_s`
    # is closed (api/http_deadline.py).
    header_timeout_s: float = 10.0
    keep_alive_s: float = 5.0
    title: str = "louyu operator API"
