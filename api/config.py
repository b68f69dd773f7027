"""What the API app needs to know, as one typed model: the `api` section of the settings
(`LOUYU_API_*`, `[api]` in the TOML file) is this model, so a knob added here is settable and
documented without further wiring. Tests build it directly."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from collector.broker import BrokerTarget

VERSION: Final = "1"


class ApiConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The API's own MQTT subscription (latest readings, alert wake-ups); None: no broker. Wired
    # from the `mqtt` section at start-up, not a knob of its own.
    mqtt: SkipValidation[BrokerTarget | None] = Field(None, exclude=True)
    # Keep the latest state of devices missing from the registry too (the open mode). Wired from
    # the collector's `unknown_devices` at start-up: one setting for every part, not a knob here.
    accept_unknown: bool = Field(False, exclude=True)
    mqtt_client_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="MQTT client id of the API's subscription; default: unique per process",
    )
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="Largest request body accepted")
    rate_per_s: float = Field(20.0, gt=0, description="Requests per second each token is refilled with")
    rate_burst: int = Field(100, ge=1, description="Requests a token may make at once")
    history_max_points: int = Field(10_000, ge=1, description="Most points one history query returns")
    seed_from_influx: bool = Field(
        True, description="Seed the latest-state table from InfluxDB's last values at start-up"
    )
    seed_timeout_s: float = Field(
        5.0, gt=0, description="How long start-up waits for the seeding (the rest goes on in the background)"
    )
    seed_background_s: float = Field(
        300.0, gt=0, description="How long the seeding may go on in all, in the background after start-up"
    )
    # Event streams: re-read the store this often even without a wake-up (another process may
    # write events while the broker is down), and send a comment this often to keep proxies open.
    sse_poll_s: float = Field(2.0, gt=0, description="Event streams re-read the store at least this often")
    sse_ping_s: float = Field(15.0, gt=0, description="Event streams send a keep-alive comment this often")
    sse_batch: int = Field(500, ge=1, description="Most events one stream read sends")
    # How long an event after a missing id is held back for that id to commit (api/event_order.py).
    sse_gap_grace_s: float = Field(
        2.0, ge=0, description="How long an event after a missing id waits for that id to commit"
    )
    # An open stream re-checks its token this often, and ends once it is revoked or expired.
    sse_recheck_s: float = Field(30.0, gt=0, description="Open streams re-check their token this often")
    # Open event streams at once: per token, and in all (beyond either: 429 with Retry-After).
    # A dashboard holds one per browser tab; an integration one or two.
    sse_max_streams_per_token: int = Field(
        20, ge=1, description="Event streams one token may hold open at once (beyond: 429)"
    )
    sse_max_streams: int = Field(1000, ge=1, description="Event streams open at once in all (beyond: 429)")
    # Slow clients: a request's headers must arrive within `header_timeout_s` of the connection
    # opening (or of the previous response), and a kept-alive connection idle for `keep_alive_s`
    # is closed (api/http_deadline.py).
    header_timeout_s: float = Field(
        10.0, gt=0, description="A request's headers must arrive within this many seconds"
    )
    keep_alive_s: float = Field(5.0, ge=1, description="An idle kept-alive connection is closed after this")
    title: str = Field("louyu operator API", description="Title of the OpenAPI document")
