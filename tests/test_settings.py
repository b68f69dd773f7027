"""Settings: sections, every knob by environment variable and by TOML, the names that must not
change, the state directory, the production checks, and the generated reference in docs/."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr
from typer.testing import CliRunner

from louyu import config_reference, runtime
from louyu.cli import app
from louyu.commands.up import demo_defaults
from louyu.settings import Knob, Settings, env_names, get_settings, knobs


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))


def value_of(settings: Settings, knob: Knob) -> Any:
    holder: Any = getattr(settings, knob.section) if knob.section else settings
    value = getattr(holder, knob.name)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


# A value other than the default for every knob that is not a plain number or flag: (text, parsed).
SAMPLES: dict[str, tuple[str, Any]] = {
    "environment": ("development", "development"),
    "state_dir": ("/srv/louyu-state", Path("/srv/louyu-state")),
    "mqtt.url": ("mqtts://broker.example:8884", "mqtts://broker.example:8884"),
    "mqtt.username": ("louyu-x", "louyu-x"),
    "mqtt.password": ("pw-x", "pw-x"),
    "mqtt.protocol": ("3.1.1", "3.1.1"),
    "mqtt.tls_ca_file": ("/etc/louyu/ca.crt", Path("/etc/louyu/ca.crt")),
    "mqtt.tls_cert_file": ("/etc/louyu/c.crt", Path("/etc/louyu/c.crt")),
    "mqtt.tls_key_file": ("/etc/louyu/c.key", Path("/etc/louyu/c.key")),
    "influx.url": ("https://influx.example:8086", "https://influx.example:8086"),
    "influx.api": ("v2", "v2"),
    "influx.db": ("louyu2", "louyu2"),
    "influx.org": ("org-x", "org-x"),
    "influx.token": ("token-x", "token-x"),
    "influx.username": ("influx-x", "influx-x"),
    "influx.password": ("influx-pw", "influx-pw"),
    "influx.retention_policy": ("rp", "rp"),
    "database.url": ("postgresql+psycopg://db/louyu", "postgresql+psycopg://db/louyu"),
    "collector.client_id": ("collector-7", "collector-7"),
    "collector.shared_group": ("group-x", "group-x"),
    "collector.spool_path": ("/data/spool.db", Path("/data/spool.db")),
    "collector.dead_letter_path": ("/data/dead.db", Path("/data/dead.db")),
    "collector.unknown_devices": ("accept", "accept"),
    "rules.client_id": ("rules-7", "rules-7"),
    "rules.file": ("/etc/louyu/rules.yaml", Path("/etc/louyu/rules.yaml")),
    "rules.buildings": ("darong-a,darong-b", ["darong-a", "darong-b"]),
    "registry.file": ("/etc/louyu/registry.yaml", Path("/etc/louyu/registry.yaml")),
    "notify.file": ("/etc/louyu/routes.yaml", Path("/etc/louyu/routes.yaml")),
    "api.mqtt_client_id": ("api-7", "api-7"),
    "api.title": ("Darong API", "Darong API"),
    "api.bind": ("0.0.0.0:8001", "0.0.0.0:8001"),
    "metrics.bind": ("127.0.0.1:9100", "127.0.0.1:9100"),
    "log.level": ("DEBUG", "DEBUG"),
    "log.format": ("json", "json"),
    "demo.clock": ("07:30x60", "07:30x60"),
}


def sample(knob: Knob) -> tuple[str, Any]:
    if knob.toml_key in SAMPLES:
        return SAMPLES[knob.toml_key]
    default = knob.info.get_default(call_default_factory=True)
    if isinstance(default, bool):
        return ("false" if default else "true"), not default
    if isinstance(default, int):
        return str(default + 1), default + 1
    if isinstance(default, float):
        return str(default * 2), default * 2
    raise AssertionError(f"{knob.env}: add a sample value to SAMPLES")


ALL = list(knobs())


@pytest.mark.parametrize("knob", ALL, ids=[k.env for k in ALL])
def test_every_knob_is_set_by_its_environment_variable(knob: Knob, monkeypatch: pytest.MonkeyPatch) -> None:
    text, parsed = sample(knob)
    monkeypatch.setenv(knob.env, text)
    assert value_of(Settings(), knob) == parsed


@pytest.mark.parametrize("knob", ALL, ids=[k.toml_key for k in ALL])
def test_every_knob_is_set_by_its_toml_key(
    knob: Knob, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, parsed = sample(knob)
    value = text if isinstance(parsed, str | Path) else parsed
    literal = repr(value).replace("'", '"') if not isinstance(value, bool) else str(value).lower()
    if isinstance(value, Path):
        literal = f'"{value}"'
    table = f"[{knob.section}]\n" if knob.section else ""
    content = f"{table}{knob.name} = {literal}\n"
    config = tmp_path / "louyu.toml"
    config.write_text(content)
    monkeypatch.setenv("LOUYU_CONFIG_FILE", str(config))
    assert value_of(Settings(), knob) == parsed, content
    # and by its name from before the sections, at the top of the file
    config.write_text(f"{knob.flat_key} = {literal}\n")
    assert value_of(Settings(), knob) == parsed


def test_environment_beats_the_file_which_beats_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "louyu.toml"
    config.write_text('[mqtt]\nurl = "mqtt://from-file:1883"\nkeepalive_s = 45\n[api]\nrate_burst = 7\n')
    monkeypatch.setenv("LOUYU_CONFIG_FILE", str(config))
    monkeypatch.setenv("LOUYU_MQTT_URL", "mqtt://from-env:1883")
    settings = Settings()
    assert settings.broker.host == "from-env"
    assert settings.broker.keepalive_s == 45
    assert settings.api.rate_burst == 7
    assert settings.api.rate_per_s == 20.0


def test_secrets_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "LOUYU_MQTT_PASSWORD").write_text("from-a-file\n")
    monkeypatch.setenv("LOUYU_SECRETS_DIR", str(tmp_path))
    assert Settings().broker.password == "from-a-file"
    monkeypatch.setenv("LOUYU_MQTT_PASSWORD", "from-env")
    assert Settings().broker.password == "from-env"


# Variables of deploy/docker-compose.yml itself, read by docker compose, not by louyu.
COMPOSE_VARIABLES = {"LOUYU_API_PUBLISH", "LOUYU_VERSION"}


def test_names_of_the_contract_and_the_docs_keep_working(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {
        "LOUYU_MQTT_URL": ("mqtt", "url"),
        "LOUYU_MQTT_USERNAME": ("mqtt", "username"),
        "LOUYU_MQTT_PASSWORD": ("mqtt", "password"),
        "LOUYU_MQTT_PROTOCOL": ("mqtt", "protocol"),
        "LOUYU_MQTT_CLIENT_ID": ("collector", "client_id"),
        "LOUYU_MQTT_SHARED_GROUP": ("collector", "shared_group"),
        "LOUYU_MQTT_RECEIVE_MAXIMUM": ("collector", "receive_maximum"),
        "LOUYU_MQTT_RULES_CLIENT_ID": ("rules", "client_id"),
        "LOUYU_INFLUX_URL": ("influx", "url"),
        "LOUYU_INFLUX_API": ("influx", "api"),
        "LOUYU_INFLUX_DB": ("influx", "db"),
        "LOUYU_DATABASE_URL": ("database", "url"),
        "LOUYU_RULES_FILE": ("rules", "file"),
        "LOUYU_RULES_BUILDINGS": ("rules", "buildings"),
        "LOUYU_REGISTRY_FILE": ("registry", "file"),
        "LOUYU_NOTIFY_FILE": ("notify", "file"),
        "LOUYU_API_BIND": ("api", "bind"),
        "LOUYU_METRICS_BIND": ("metrics", "bind"),
        "LOUYU_SPOOL_PATH": ("collector", "spool_path"),
        "LOUYU_DEAD_LETTER_PATH": ("collector", "dead_letter_path"),
        "LOUYU_BATCH_SIZE": ("collector", "batch_size"),
        "LOUYU_BATCH_INTERVAL_S": ("collector", "batch_interval_s"),
        "LOUYU_UNKNOWN_DEVICES": ("collector", "unknown_devices"),
        "LOUYU_QUARANTINE_MAX": ("collector", "quarantine_max"),
        "LOUYU_RULES_LIVENESS_SUMMARY_OVER": ("rules", "liveness_summary_over"),
        "LOUYU_API_SSE_MAX_STREAMS_PER_TOKEN": ("api", "sse_max_streams_per_token"),
        "LOUYU_API_SSE_MAX_STREAMS": ("api", "sse_max_streams"),
        "LOUYU_API_HEADER_TIMEOUT_S": ("api", "header_timeout_s"),
        "LOUYU_API_KEEP_ALIVE_S": ("api", "keep_alive_s"),
        "LOUYU_LOG_LEVEL": ("log", "level"),
        "LOUYU_LOG_FORMAT": ("log", "format"),
        "LOUYU_ENVIRONMENT": ("", "environment"),
    }
    by_env = {knob.env: knob for knob in knobs()}
    for name, where in names.items():
        assert name in by_env, f"{name} is no longer a setting"
        assert (by_env[name].section, by_env[name].name) == where
    assert len(by_env) == len(list(knobs())), "two settings share one environment variable"
    # Every LOUYU_* name the user documentation mentions is one louyu reads.
    root = Path(__file__).resolve().parents[1]
    known = env_names() | COMPOSE_VARIABLES
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for name in re.findall(r"\b(LOUYU_[A-Z0-9_]*[A-Z0-9])\b", doc.read_text("utf-8")):
            if (
                name.endswith(("_MQTT_PASSWORD", "_INFLUX_PASSWORD", "_SECRET", "_URLS"))
                and name not in known
            ):
                continue  # deploy-side account passwords and routing-file secrets, not settings
            assert name in known, f"{doc.name} names {name}, which is not a setting"


def test_component_configs_are_the_sections() -> None:
    """A knob added to the collector's or the API's config model is a setting without wiring."""
    from api.config import ApiConfig
    from collector.service import CollectorConfig

    settings = Settings()
    assert isinstance(settings.collector, CollectorConfig)
    assert isinstance(settings.api, ApiConfig)
    assert all(isinstance(getattr(settings, k.section), BaseModel) for k in knobs() if k.section)


@pytest.mark.parametrize("value", ["quarantine", "accept"])
def test_one_setting_for_unknown_devices_drives_every_part(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOUYU_UNKNOWN_DEVICES is the collector's pipeline mode, the rules engine's
    `accept_unregistered` and the API's and the notifier's latest-state mode, all at once."""
    from collector.registry import Registry
    from louyu.commands import api as api_cmd
    from louyu.commands import collector as collector_cmd
    from louyu.commands import notifier as notifier_cmd
    from louyu.commands import rules as rules_cmd

    monkeypatch.setenv("LOUYU_UNKNOWN_DEVICES", value)
    monkeypatch.setenv("LOUYU_ENVIRONMENT", "development")
    monkeypatch.setenv("LOUYU_STATE_DIR", str(tmp_path))
    settings = Settings()
    accept = value == "accept"
    registry = Registry.load()
    collector = collector_cmd.build(settings, registry)
    runner = rules_cmd.build(settings, registry)
    notifier = notifier_cmd.build(settings, registry)
    try:
        assert collector.pipeline.accept_unknown is accept
        assert runner.engine.intake.accept_unregistered is accept
        assert api_cmd.api_config(settings).accept_unknown is accept
        assert notifier.latest.accept_unknown is accept
    finally:
        for store in (collector.sink, collector.spool, collector.dead_letters, collector.quarantine):
            store.close()
        notifier.http.close()
        notifier.engine.dispose()


def test_configuration_reference_is_up_to_date() -> None:
    assert config_reference.DOC.read_text("utf-8") == config_reference.render(), (
        "docs/configuration.md is out of date: run `python -m louyu.config_reference`"
    )
    for knob in knobs():
        assert f"`{knob.env}`" in config_reference.render()
        assert knob.info.description, f"{knob.env} has no description for the reference"


# ------------------------------------------------------------------ state directory


def test_state_paths_follow_the_state_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    production = Settings()
    assert production.state_dir == Path("/var/lib/louyu")
    assert production.collector.spool_path == Path("/var/lib/louyu/spool.db")
    assert production.database.url == "sqlite:////var/lib/louyu/louyu.db"
    monkeypatch.setenv("LOUYU_ENVIRONMENT", "development")
    assert Settings().state_dir == tmp_path / "xdg" / "louyu"
    monkeypatch.setenv("LOUYU_STATE_DIR", str(tmp_path / "state"))
    settings = Settings()
    assert settings.collector.spool_path == tmp_path / "state" / "spool.db"
    assert settings.collector.dead_letter_path == tmp_path / "state" / "dead-letters.db"
    assert settings.database.url == f"sqlite:///{tmp_path / 'state' / 'louyu.db'}"
    # set one by one, they stay as given
    monkeypatch.setenv("LOUYU_SPOOL_PATH", str(tmp_path / "elsewhere.db"))
    assert Settings().collector.spool_path == tmp_path / "elsewhere.db"
    assert Settings().collector.dead_letter_path == tmp_path / "state" / "dead-letters.db"


def test_state_paths_do_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOUYU_ENVIRONMENT", "development")
    seen = []
    for cwd in (tmp_path / "a", tmp_path / "b"):
        cwd.mkdir()
        monkeypatch.chdir(cwd)
        settings = Settings()
        seen.append(
            (settings.collector.spool_path, settings.collector.dead_letter_path, settings.database.url)
        )
    assert seen[0] == seen[1]
    assert seen[0][0].is_absolute()


def test_collector_refuses_a_spool_left_at_the_old_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOUYU_ENVIRONMENT", "development")
    monkeypatch.setenv("LOUYU_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LOUYU_MQTT_URL", "mqtt://127.0.0.1:9")  # never reached: it stops before
    runtime.check_state_paths(Settings())  # nothing there: fine
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "spool.db").write_bytes(b"SQLite format 3\x00")
    with pytest.raises(SystemExit, match=r"spool from an earlier version is at .*var/spool\.db"):
        runtime.check_state_paths(Settings())
    result = CliRunner().invoke(app, ["collector"])
    assert result.exit_code != 0
    assert "spool from an earlier version" in str(result.exception) + result.output
    # configured to be that very file, it is the spool, not a left-over
    monkeypatch.setenv("LOUYU_SPOOL_PATH", "var/spool.db")
    runtime.check_state_paths(Settings())


# ------------------------------------------------------------------ production checks


@pytest.mark.parametrize("command", ["collector", "rules", "notifier", "api", "up"])
def test_production_refuses_an_anonymous_broker(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUYU_MQTT_URL", "mqtt://127.0.0.1:9")
    result = CliRunner().invoke(app, [command])
    assert result.exit_code != 0
    message = str(result.exception) + result.output
    assert "production needs a broker account" in message and "LOUYU_MQTT_USERNAME" in message


def test_production_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit, match="production needs a broker account"):
        runtime.check_settings(get_settings(mqtt_username="louyu"))  # no password
    runtime.check_settings(get_settings(mqtt_username="louyu", mqtt_password="a-real-one"))
    runtime.check_settings(get_settings(mqtt_url="mqtts://louyu:a-real-one@broker:8883"))
    with pytest.raises(SystemExit, match="LOUYU_MQTT_PASSWORD is left at a placeholder"):
        runtime.check_settings(get_settings(mqtt_username="louyu", mqtt_password="changeme"))
    runtime.check_settings(get_settings(environment="development"))  # anonymous: fine in development


# ------------------------------------------------------------------ the demo


def test_demo_defaults_lose_to_the_environment_and_touch_no_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    before = dict(os.environ)
    settings = runtime.start("up", service=False, defaults=demo_defaults())
    assert settings.environment == "development"
    assert settings.state_dir == Path("var/demo").resolve()
    assert settings.collector.spool_path == Path("var/demo/spool.db").resolve()
    assert dict(os.environ) == before
    monkeypatch.setenv("LOUYU_ENVIRONMENT", "production")
    monkeypatch.setenv("LOUYU_STATE_DIR", "/srv/louyu")
    settings = runtime.start("up", service=False, defaults=demo_defaults())
    assert (settings.environment, settings.state_dir) == ("production", Path("/srv/louyu"))


def test_the_demo_runs_simulated_time_and_production_the_real_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    assert runtime.start("api", service=False).demo.clock is None
    assert runtime.start("up", service=False, defaults=demo_defaults()).demo.clock == "07:30x60"
    monkeypatch.setenv("LOUYU_DEMO_CLOCK", "10:00x30")
    assert runtime.start("up", service=False, defaults=demo_defaults()).demo.clock == "10:00x30"
    monkeypatch.setenv("LOUYU_DEMO_CLOCK", "noon, fast")
    with pytest.raises(SystemExit, match="LOUYU_DEMO_CLOCK"):
        runtime.start("api", service=False)


def test_a_bad_value_is_named_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUYU_API_RATE_BURST", "lots")
    with pytest.raises(SystemExit, match="LOUYU_API_RATE_BURST"):
        runtime.start("api")
    monkeypatch.delenv("LOUYU_API_RATE_BURST")
    monkeypatch.setenv("LOUYU_MQTT_URL", "http://x")
    with pytest.raises(SystemExit, match=r"LOUYU_MQTT_URL: .*mqtt://"):
        runtime.start("collector")
