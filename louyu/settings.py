"""Configuration: one `Settings` object in sections, from environment variables and a TOML file.

Each section is a typed model; where a component has a config model of its own, the section IS
that model (`api` is `api.config.ApiConfig`), so a knob added to the component is settable and
documented at once. Every knob has one environment variable and one TOML key:

- environment: `LOUYU_<SECTION>_<FIELD>` (`LOUYU_MQTT_URL` is `mqtt.url`, `LOUYU_API_RATE_BURST`
  is `api.rate_burst`), except the names fixed before the sections existed, which stay as they
  were (`LOUYU_SPOOL_PATH` is `collector.spool_path`; see `LEGACY_ENV`);
- TOML (the file named by `LOUYU_CONFIG_FILE`): `[mqtt] url = "..."`, or, as before the sections,
  the flat name at the top (`mqtt_url = "..."`, `spool_path = "..."`).

The environment beats a secrets directory (`LOUYU_SECRETS_DIR`: one file per variable, named
like it), which beats the TOML file, which beats the defaults. `docs/configuration.md` is
generated from this module (`python -m louyu.config_reference`).

State files (spool, dead letters, the SQLite store) default to paths under `state_dir`, never
under the working directory.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from api.config import ApiConfig
from collector.area_clock import SPEC_HELP, check_spec
from collector.broker import BrokerTarget
from collector.service import CollectorConfig

PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "password", "set-me"})
ENV_PREFIX = "LOUYU_"
# Where state files go when LOUYU_STATE_DIR is not set (the systemd units' StateDirectory, the
# container's volume). The demo puts its own under var/demo (`louyu up --demo`).
PRODUCTION_STATE_DIR = Path("/var/lib/louyu")
# The cwd-relative defaults of earlier versions: a spool found there is refused (louyu/runtime.py).
OLD_SPOOL_PATH = Path("var/spool.db")


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MqttSection(Section):
    """The broker, as every part reaches it (`collector.broker.BrokerTarget`, built once)."""

    url: str = Field("mqtt://127.0.0.1:1883", description="Broker URL: mqtt://host:1883 or mqtts://host:8883")
    username: str | None = Field(None, description="Broker account (or user:password@ in the URL)")
    password: SecretStr | None = Field(None, description="Password of the broker account")
    session_expiry_s: int = Field(
        7 * 24 * 3600,
        ge=0,
        description="How long the broker keeps the collector's and the rules engine's session"
        " (MQTT 5; on 3.1.1 the broker's own session expiry applies)",
    )
    keepalive_s: int = Field(30, ge=5, description="MQTT keep-alive of every part")
    protocol: Literal["auto", "5", "3.1.1"] = Field(
        "auto",
        description="MQTT version of every part: auto tries 5, then 3.1.1 if the broker refuses"
        " or drops it, and keeps what worked; 5 or 3.1.1 fixes it",
    )
    tls_ca_file: Path | None = Field(
        None, description="CA certificate(s) the broker's certificate must chain to"
    )
    tls_cert_file: Path | None = Field(None, description="Client certificate, for brokers that ask for one")
    tls_key_file: Path | None = Field(None, description="Key of the client certificate")
    tls_insecure: bool = Field(
        False, description="Do not check the broker's certificate at all (test brokers only)"
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        BrokerTarget.from_url(value)  # raises a ValueError naming what is wrong
        return value

    def target(self) -> BrokerTarget:
        return BrokerTarget.from_url(
            self.url,
            username=self.username,
            password=self.password.get_secret_value() if self.password is not None else None,
            ca_file=self.tls_ca_file,
            cert_file=self.tls_cert_file,
            key_file=self.tls_key_file,
            tls_insecure=self.tls_insecure,
            protocol=self.protocol,
            keepalive_s=self.keepalive_s,
        )


class InfluxSection(Section):
    url: str = Field("http://127.0.0.1:8086", description="InfluxDB URL")
    api: Literal["v1", "v2"] = Field("v1", description="InfluxDB API: v1 (1.x, or 2.x's v1 API) or v2")
    db: str = Field("louyu", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="v1 database; on v2 the bucket")
    org: str | None = Field(None, description="v2 organisation")
    token: SecretStr | None = Field(None, description="v2 token")
    username: str | None = Field(None, description="v1 user")
    password: SecretStr | None = Field(None, description="v1 password")
    retention_policy: str | None = Field(None, description="v1 retention policy to write to")
    timeout_s: float = Field(10.0, gt=0, description="Timeout of each InfluxDB request")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class DatabaseSection(Section):
    url: str = Field(
        "sqlite:////var/lib/louyu/louyu.db",
        description="Alert store (alerts, tokens, outbox): sqlite:///PATH or postgresql+psycopg://...;"
        " default: louyu.db in the state directory",
    )


class RulesSection(Section):
    # The rules engine's own client id: its persistent session (the readings queued while it
    # restarts) hangs on it. Not the collector's: `louyu up` runs both in one process, and two
    # clients with one id take over each other.
    client_id: str = Field(
        "louyu-rules", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="The rules engine's MQTT client id"
    )
    file: Path | None = Field(None, description="Rules file (YAML); default: the shipped rules")
    # Several engines, each with its own list and client id, split a district (docs/scaling.md).
    buildings: Annotated[list[str], NoDecode] = Field(
        [], description="Buildings this engine owns (comma-separated or a JSON list); empty: all"
    )
    liveness_summary_over: int = Field(
        20,
        ge=0,
        description="A liveness sweep raising more minor alerts than this in one building raises one"
        " summary alert instead (0: never)",
    )

    @field_validator("buildings", mode="before")
    @classmethod
    def _split_buildings(cls, value: Any) -> Any:
        # The environment gives one string: `darong-a,darong-b` or `["darong-a", "darong-b"]`.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("buildings")
    @classmethod
    def _check_buildings(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name) or name in ("alerts", "notify"):
                raise ValueError(f"{name!r} is not a building id")
        return list(dict.fromkeys(value))


class RegistrySection(Section):
    file: Path | None = Field(None, description="Registry file (YAML); default: the shipped Darong area")


class NotifySection(Section):
    file: Path | None = Field(
        None, description="Notification routing file (YAML); default: the shipped example routes"
    )


class ApiSection(ApiConfig):
    """The API's knobs (`api.config.ApiConfig`) and where it listens."""

    bind: str = Field("127.0.0.1:8000", description="HOST:PORT the API listens on")

    @field_validator("bind")
    @classmethod
    def _check_bind(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("must be HOST:PORT")
        return value

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.bind.rpartition(":")
        return host.strip("[]"), int(port)


class MetricsSection(Section):
    bind: str | None = Field(
        None, description="HOST:PORT of the Prometheus metrics of a part run alone (the API serves its own)"
    )


class LogSection(Section):
    level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING, ERROR")
    format: Literal["json", "console"] = Field("console", description="Log format")


class DemoSection(Section):
    """Simulated time for demonstrations (collector/area_clock.py); off in production."""

    clock: str | None = Field(
        None,
        description="Run the area's time of day simulated: "
        + SPEC_HELP
        + "; `louyu up --demo` sets 07:30x60; empty: the real clock",
    )

    @field_validator("clock")
    @classmethod
    def _check_clock(cls, value: str | None) -> str | None:
        return check_spec(value) or None


# The environment names fixed before the settings had sections: (section, field) -> name.
LEGACY_ENV: dict[tuple[str, str], str] = {
    **{
        ("collector", name): f"{ENV_PREFIX}{name.upper()}"
        for name in (
            "batch_size",
            "batch_interval_s",
            "spool_path",
            "dead_letter_path",
            "spool_max_points",
            "dead_letter_max",
        )
    },
    ("collector", "unknown_devices"): f"{ENV_PREFIX}UNKNOWN_DEVICES",
    ("collector", "quarantine_max"): f"{ENV_PREFIX}QUARANTINE_MAX",
    ("collector", "client_id"): f"{ENV_PREFIX}MQTT_CLIENT_ID",
    ("collector", "shared_group"): f"{ENV_PREFIX}MQTT_SHARED_GROUP",
    ("collector", "receive_maximum"): f"{ENV_PREFIX}MQTT_RECEIVE_MAXIMUM",
    ("rules", "client_id"): f"{ENV_PREFIX}MQTT_RULES_CLIENT_ID",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    def __init__(self, **values: Any) -> None:
        # Flat names (`mqtt_url=...`) as the settings had them before the sections, or sections.
        super().__init__(**flat_values(values))

    environment: Literal["production", "development"] = Field(
        "production",
        description="production refuses placeholder secrets and an anonymous broker; development allows both",
    )
    state_dir: Path = Field(
        PRODUCTION_STATE_DIR,
        description="Directory of the state files (spool, dead letters, SQLite store); default:"
        " /var/lib/louyu, or $XDG_STATE_HOME/louyu (~/.local/state/louyu) in development",
    )
    mqtt: MqttSection = MqttSection()
    influx: InfluxSection = InfluxSection()
    database: DatabaseSection = DatabaseSection()
    collector: CollectorConfig = CollectorConfig()
    rules: RulesSection = RulesSection()
    registry: RegistrySection = RegistrySection()
    notify: NotifySection = NotifySection()
    api: ApiSection = ApiSection()
    metrics: MetricsSection = MetricsSection()
    log: LogSection = LogSection()
    demo: DemoSection = DemoSection()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ = os.environ
        secrets_dir = environ.get(f"{ENV_PREFIX}SECRETS_DIR") or None
        config_file = environ.get(f"{ENV_PREFIX}CONFIG_FILE") or None
        return (
            init_settings,
            KnobSource(settings_cls, environment_values(environ)),
            KnobSource(settings_cls, secret_file_values(Path(secrets_dir)) if secrets_dir else {}),
            KnobSource(settings_cls, toml_values(Path(config_file)) if config_file else {}),
            KnobSource(settings_cls, _DEFAULTS.get() or {}),
        )

    @model_validator(mode="before")
    @classmethod
    def _state_paths(cls, data: Any) -> Any:
        """Fill the state files' defaults in from the state directory, unless set one by one."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        state_dir = data.get("state_dir") or default_state_dir(str(data.get("environment") or "production"))
        data["state_dir"] = state_dir = Path(state_dir)
        collector = dict(data.get("collector") or {})
        collector.setdefault("spool_path", state_dir / "spool.db")
        collector.setdefault("dead_letter_path", state_dir / "dead-letters.db")
        data["collector"] = collector
        database = dict(data.get("database") or {})
        database.setdefault("url", f"sqlite:///{state_dir / 'louyu.db'}")
        data["database"] = database
        return data

    @cached_property
    def broker(self) -> BrokerTarget:
        """The broker target every part connects with, built once."""
        return self.mqtt.target()

    def check_secrets(self) -> list[str]:
        """Secrets left at a placeholder: refused outside development."""
        problems = []
        for section, name in (("mqtt", "password"), ("influx", "token"), ("influx", "password")):
            secret: SecretStr | None = getattr(getattr(self, section), name)
            if secret is not None and secret.get_secret_value().lower() in PLACEHOLDER_SECRETS:
                problems.append(f"{env_name(section, name)} is left at a placeholder")
        return problems

    def check_credentials(self) -> list[str]:
        """In production the broker must ask who we are: an anonymous start is refused."""
        broker = self.broker
        if broker.username and broker.password:
            return []
        return [
            "production needs a broker account: set LOUYU_MQTT_USERNAME and LOUYU_MQTT_PASSWORD"
            " (or user:password@ in LOUYU_MQTT_URL); LOUYU_ENVIRONMENT=development allows an"
            " anonymous broker"
        ]


def default_state_dir(environment: str) -> Path:
    if environment == "production":
        return PRODUCTION_STATE_DIR
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "louyu"


# ---------------------------------------------------------------------------- the knobs


@dataclass(frozen=True)
class Knob:
    """One setting: where it lives in `Settings` and the names it is set by."""

    section: str  # "" for the top level
    name: str
    env: str
    info: FieldInfo

    @property
    def toml_key(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name

    @property
    def flat_key(self) -> str:
        """The TOML key of the settings before sections: the environment name without LOUYU_."""
        return self.env.removeprefix(ENV_PREFIX).lower()


def env_name(section: str, name: str) -> str:
    legacy = LEGACY_ENV.get((section, name))
    if legacy is not None:
        return legacy
    return f"{ENV_PREFIX}{section.upper()}_{name.upper()}" if section else f"{ENV_PREFIX}{name.upper()}"


def knobs() -> Iterator[Knob]:
    """Every setting, in the order of the sections. Fields marked `exclude` are wired, not set."""
    for name, info in Settings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for field, field_info in annotation.model_fields.items():
                if not field_info.exclude:
                    yield Knob(name, field, env_name(name, field), field_info)
        else:
            yield Knob("", name, env_name("", name), info)


def env_names() -> set[str]:
    """Every LOUYU_* variable louyu reads (the settings', and the two that find them)."""
    return {knob.env for knob in knobs()} | {f"{ENV_PREFIX}CONFIG_FILE", f"{ENV_PREFIX}SECRETS_DIR"}


def _nest(values: Mapping[tuple[str, str], Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for (section, name), value in values.items():
        if section:
            nested.setdefault(section, {})[name] = value
        else:
            nested[name] = value
    return nested


def environment_values(environ: Mapping[str, str]) -> dict[str, Any]:
    return _nest({(k.section, k.name): environ[k.env] for k in knobs() if k.env in environ})


def secret_file_values(directory: Path) -> dict[str, Any]:
    """One file per variable, named like it (upper or lower case), as Docker and systemd credentials give them."""
    values: dict[tuple[str, str], Any] = {}
    for knob in knobs():
        for name in (knob.env, knob.env.lower()):
            path = directory / name
            if path.is_file():
                values[(knob.section, knob.name)] = path.read_text("utf-8").strip()
                break
    return _nest(values)


def flat_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Settings given by their flat names (`mqtt_url`, `spool_path`) or as sections (`mqtt={...}`)."""
    by_flat = {knob.flat_key: knob for knob in knobs()}
    nested: dict[str, Any] = {}
    for key, value in values.items():
        knob = by_flat.get(key)
        if knob is not None and knob.section:
            nested.setdefault(knob.section, {})[knob.name] = value
        elif isinstance(value, Mapping) and isinstance(nested.get(key), dict):
            nested[key].update(value)
        else:
            nested[key] = dict(value) if isinstance(value, Mapping) else value
    return nested


def toml_values(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise ValueError(f"LOUYU_CONFIG_FILE {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"LOUYU_CONFIG_FILE {path}: {error}") from error
    return flat_values(data)


class KnobSource(PydanticBaseSettingsSource):
    """Values already sorted into sections by one of the functions above."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self.values = dict(values)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.values


# Defaults of one start (the demo's), below every other source: the environment still wins.
_DEFAULTS: ContextVar[dict[str, Any] | None] = ContextVar("louyu_settings_defaults", default=None)


def get_settings(defaults: Mapping[str, Any] | None = None, **overrides: Any) -> Settings:
    """The settings: `overrides` (a command's options) beat the environment and the file,
    `defaults` lose to everything. Both take flat names (`mqtt_url`) or sections (`mqtt={...}`)."""
    token = _DEFAULTS.set(flat_values(defaults or {}))
    try:
        return Settings(**overrides)
    finally:
        _DEFAULTS.reset(token)
