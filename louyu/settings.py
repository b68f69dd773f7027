"""Configuration: environment variables `LOUYU_*` (contract section 6), or a TOML file.

Parsed once at start-up by `get_settings()`; components receive plain typed values from the
wiring, never this object, so each can be built directly in tests.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "password", "set-me"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOUYU_",
        extra="ignore",
        secrets_dir=os.environ.get("LOUYU_SECRETS_DIR") or None,
        toml_file=os.environ.get("LOUYU_CONFIG_FILE") or None,
    )

    environment: Literal["production", "development"] = "production"

    # MQTT
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_client_id: str = Field("louyu-collector", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    mqtt_shared_group: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    mqtt_session_expiry_s: int = Field(7 * 24 * 3600, ge=0)
    # How many unacknowledged QoS 1 messages the broker may send us (MQTT 5 Receive Maximum).
    # Acks wait for a durable write, so this must exceed one batch or throughput collapses.
    mqtt_receive_maximum: int = Field(20_000, ge=1, le=65_535)
    mqtt_keepalive_s: int = Field(30, ge=5)
    # "5" by default; "3.1.1" for brokers without MQTT 5 (session expiry then rests on the broker's
    # persistent_client_expiration).
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    mqtt_tls_ca_file: Path | None = None
    mqtt_tls_cert_file: Path | None = None
    mqtt_tls_key_file: Path | None = None
    mqtt_tls_insecure: bool = False

    # InfluxDB
    influx_url: str = "http://127.0.0.1:8086"
    influx_api: Literal["v1", "v2"] = "v1"
    influx_db: str = Field("louyu", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    influx_org: str | None = None
    influx_token: SecretStr | None = None
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    influx_retention_policy: str | None = None
    influx_timeout_s: float = Field(10.0, gt=0)

    # Collector
    batch_size: int = Field(5000, ge=1, le=100_000)
    batch_interval_s: float = Field(0.2, gt=0, le=60)
    spool_path: Path = Path("var/spool.db")
    dead_letter_path: Path = Path("var/dead-letters.db")
    spool_max_points: int = Field(50_000_000, ge=1000)
    dead_letter_max: int = Field(10_000, ge=10)
    # A valid reading from a device missing from the registry: "quarantine" (kept apart, counted,
    # never evaluated by the rules) or "accept" (stored and evaluated like any other: the open
    # behaviour, for sites without a registry; docs/operations.md). Collector and rules read it.
    unknown_devices: Literal["quarantine", "accept"] = "quarantine"
    quarantine_max: int = Field(10_000, ge=10)  # devices held in the quarantine

    # Alert store, rules, registry
    database_url: str = "sqlite:///var/louyu.db"
    rules_file: Path | None = None
    registry_file: Path | None = None
    # The rules engine's own MQTT client id: its persistent session (the readings queued while it
    # restarts) hangs on it. Not `mqtt_client_id`, which is the collector's: `louyu up` runs both
    # in one process with one environment, and two clients with one id take over each other.
    mqtt_rules_client_id: str = Field("louyu-rules", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # The buildings this rules engine owns (comma-separated or a JSON list); empty: all of them.
    # Several engines, each with its own list and client id, split a district (docs/scaling.md).
    rules_buildings: Annotated[list[str], NoDecode] = []
    # Evaluate devices that are not in the registry (sites without a registry). Off by default:
    # anyone allowed to publish under a building could invent an AED and page the patrols.
    rules_accept_unregistered: bool = False
    # A liveness sweep raising more minor alerts than this in one building raises one instead (0: never).
    rules_liveness_summary_over: int = Field(20, ge=0)

    # API
    api_bind: str = "127.0.0.1:8000"
    metrics_bind: str | None = None
    # Open event streams per token and in all; slow clients' header and keep-alive timeouts.
    api_sse_max_streams_per_token: int = Field(20, ge=1)
    api_sse_max_streams: int = Field(1000, ge=1)
    api_header_timeout_s: float = Field(10.0, gt=0)
    api_keep_alive_s: float = Field(5.0, ge=1)

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "console"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the config file, which beats the defaults.
        return (init_settings, env_settings, file_secret_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError("must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("has no host")
        return value

    @field_validator("rules_buildings", mode="before")
    @classmethod
    def _split_buildings(cls, value: Any) -> Any:
        # The environment gives one string: `darong-a,darong-b` or `["darong-a", "darong-b"]`.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("rules_buildings")
    @classmethod
    def _check_buildings(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name) or name in ("alerts", "notify"):
                raise ValueError(f"{name!r} is not a building id")
        return list(dict.fromkeys(value))

    @field_validator("influx_url")
    @classmethod
    def _check_influx_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("api_bind")
    @classmethod
    def _check_bind(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("must be HOST:PORT")
        return value

    def check_secrets(self) -> list[str]:
        """Secrets left at a placeholder: refused outside development."""
        problems = []
        for name in ("mqtt_password", "influx_token", "influx_password"):
            secret: SecretStr | None = getattr(self, name)
            if secret is not None and secret.get_secret_value().lower() in PLACEHOLDER_SECRETS:
                problems.append(f"LOUYU_{name.upper()} is left at a placeholder")
        return problems

    @property
    def mqtt(self) -> MqttTarget:
        return MqttTarget.from_settings(self)

    @property
    def api_host_port(self) -> tuple[str, int]:
        host, _, port = self.api_bind.rpartition(":")
        return host.strip("[]"), int(port)


class MqttTarget:
    """Where and how to reach the broker, from the URL and the separate credential settings."""

    def __init__(self, host: str, port: int, tls: bool, username: str | None, password: str | None) -> None:
        self.host, self.port, self.tls, self.username, self.password = host, port, tls, username, password

    @classmethod
    def from_settings(cls, settings: Settings) -> MqttTarget:
        parts = urlsplit(settings.mqtt_url)
        tls = parts.scheme in ("mqtts", "ssl")
        username = unquote(parts.username) if parts.username else settings.mqtt_username
        password: str | None
        if parts.password:
            password = unquote(parts.password)
        elif settings.mqtt_password is not None:
            password = settings.mqtt_password.get_secret_value()
        else:
            password = None
        return cls(
            parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls, username, password
        )

    def __repr__(self) -> str:  # never show the password
        return f"MqttTarget({self.host}:{self.port}, tls={self.tls}, user={self.username!r})"


def get_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
