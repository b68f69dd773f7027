"""deploy/docker-compose.yml, its Dockerfile and its Grafana files, checked without a Docker engine.

The compose file is validated against the Compose Specification's JSON schema (vendored in
tests/deploy/schema/, see its README), then held to the rules of deploy/: every service has a
healthcheck, every secret is a required `${VAR:?...}`, every LOUYU_* name is a real setting, every
broker account exists in the shipped ACL, every file it mounts exists; and the least-privilege
promises of docs/security.md: plain MQTT on loopback only, one broker account per service instance,
InfluxDB's admin token kept from every louyu service, a write-only token for the collector and a
read-only one for the API and Grafana.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from typer.testing import CliRunner

from louyu.cli import app as louyu_cli
from louyu.settings import Settings
from tests.deploy.shipped_broker import SERVICES as BROKER_SERVICE_ACCOUNTS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
SCHEMA_FILE = Path(__file__).parent / "schema" / "compose-spec.json"
LOUYU_SERVICES = ("collector", "collector-2", "rules", "api", "notifier")
# Services that run once and exit (`restart: "no"`): no healthcheck, the others wait for their exit.
ONE_SHOT = ("influxdb-tokens",)
# Who may use InfluxDB, and with which token folder (deploy/influxdb/tokens.sh writes them).
INFLUX_TOKEN_USERS = {
    "collector": "influx-token-collector",
    "collector-2": "influx-token-collector",
    "api": "influx-token-reader",
    "grafana": "influx-token-reader",
}
SECRETS_DIR = "/run/louyu/influx"
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET", re.I)
VAR_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
# Read by the commands themselves, not by Settings (louyu/commands/notifier.py), or by Settings'
# own configuration (LOUYU_SECRETS_DIR: the folder of files holding settings, louyu/settings.py).
EXTRA_LOUYU_NAMES = {"LOUYU_NOTIFY_FILE", "LOUYU_SECRETS_DIR"}
# Names that look like secrets and are not: the folder the secrets are read from.
NOT_SECRETS = {"LOUYU_SECRETS_DIR"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping, so anchors can merge it"
    return {str(k): str(v) for k, v in env.items()}


def test_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_catches_a_broken_file(compose: dict[str, Any]) -> None:
    """The validator is not a formality: a misspelt key or a wrong type fails it."""
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    broken = json.loads(json.dumps(compose))
    broken["services"]["api"]["helthcheck"] = broken["services"]["api"].pop("healthcheck")
    assert list(validator.iter_errors(broken))
    broken = json.loads(json.dumps(compose))
    broken["services"]["mosquitto"]["ports"] = "1883:1883"
    assert list(validator.iter_errors(broken))


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        if name in ONE_SHOT:
            assert service["restart"] == "no", name
            continue
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable"), name
        test = check["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) >= 2, name
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name}: healthcheck without {key}"


def test_louyu_services_run_the_louyu_image_and_commands(compose: dict[str, Any]) -> None:
    runner = CliRunner()
    expected = {name: name.removesuffix("-2") for name in LOUYU_SERVICES}
    for name in LOUYU_SERVICES:
        service = services(compose)[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name
        assert service["image"].startswith("louyu:"), name
        assert service["command"] == [expected[name]], name
        assert service["restart"] == "unless-stopped", name
        result = runner.invoke(louyu_cli, [expected[name], "--help"])
        assert result.exit_code == 0, f"`louyu {expected[name]}` is not a command: {result.output}"
        deps = service["depends_on"]
        assert deps["mosquitto"]["condition"] == "service_healthy"
        if name in INFLUX_TOKEN_USERS:
            assert deps["influxdb"]["condition"] == "service_healthy"
            assert deps["influxdb-tokens"]["condition"] == "service_completed_successfully"
        else:
            # the alert path (rules engine, notifier) starts and runs without InfluxDB
            assert set(deps) == {"mosquitto"}, name


def test_secrets_are_required_variables(compose: dict[str, Any]) -> None:
    """No secret has a value or a default in the file: each is `${VAR:?message}`."""
    checked = 0
    for name, service in services(compose).items():
        for key, value in env_of(service).items():
            if not SECRET_NAME.search(key) or key in NOT_SECRETS:
                continue
            checked += 1
            match = VAR_REF.fullmatch(value)
            assert match, f"{name}.{key} = {value!r}: a secret must come from a variable"
            assert match.group(2) == ":?", f"{name}.{key}: use ${{VAR:?set me}}, not {value!r}"
    assert checked >= 9  # 5 broker passwords, InfluxDB admin password and token (x2), Grafana
    for var, op, _ in VAR_REF.findall(COMPOSE_FILE.read_text()):
        if SECRET_NAME.search(var):
            assert op == ":?", f"${{{var}}} is a secret: it must be required (:?)"


def test_required_variables_are_listed_in_the_example_env(compose: dict[str, Any]) -> None:
    example = (DEPLOY / ".env.example").read_text()
    listed = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", example, flags=re.M))
    required = {var for var, op, _ in VAR_REF.findall(COMPOSE_FILE.read_text()) if op == ":?"}
    assert required <= listed, f"not in deploy/.env.example: {sorted(required - listed)}"
    # and the example itself holds no secret
    for line in example.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            if SECRET_NAME.search(key):
                assert value == "", f"{key} has a value in .env.example"


def test_louyu_variables_are_real_settings(compose: dict[str, Any]) -> None:
    known = {f"LOUYU_{name.upper()}" for name in Settings.model_fields} | EXTRA_LOUYU_NAMES
    for name in LOUYU_SERVICES:
        for key in env_of(services(compose)[name]):
            if key.startswith("LOUYU_"):
                assert key in known, f"{name}: {key} is not a setting of louyu/settings.py"
    dockerfile_env = re.findall(r"\b(LOUYU_[A-Z_]+)=", (DEPLOY / "Dockerfile").read_text())
    assert dockerfile_env
    for key in dockerfile_env:
        assert key in known, f"Dockerfile: {key} is not a setting"


def test_values_parse_as_settings(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Each service's environment, secrets filled in, is accepted by Settings as it stands."""
    for name in LOUYU_SERVICES:
        env = env_of(services(compose)[name])
        for key in Settings.model_fields:
            monkeypatch.delenv(f"LOUYU_{key.upper()}", raising=False)
        for key, value in env.items():
            if key.startswith("LOUYU_"):
                monkeypatch.setenv(key, VAR_REF.sub(default_or_filler, value))
        settings = Settings()
        assert settings.influx_api == "v2"
        assert settings.mqtt.host == "mosquitto"
        assert settings.mqtt.username == env["LOUYU_MQTT_USERNAME"]
        assert settings.check_secrets() == []


def default_or_filler(match: re.Match[str]) -> str:
    var, op, arg = match.groups()
    if op in (":-", "-"):
        return str(arg)
    return f"filled-{var.lower()}"


def test_broker_accounts_exist_in_the_acl(compose: dict[str, Any]) -> None:
    """Each service's account has an ACL block, and its password is the variable from which
    `accounts.sh services` makes that account (tests/deploy/shipped_broker.py runs it)."""
    acl_users = set(re.findall(r"^user (\S+)$", (DEPLOY / "mosquitto" / "acl").read_text(), flags=re.M))
    for name in LOUYU_SERVICES:
        env = env_of(services(compose)[name])
        user = env["LOUYU_MQTT_USERNAME"]
        assert user in acl_users, f"{name}: account {user} has no ACL block"
        variable = BROKER_SERVICE_ACCOUNTS[user]
        assert env["LOUYU_MQTT_PASSWORD"].startswith(f"${{{variable}:?"), name


def test_each_service_instance_has_its_own_broker_account(compose: dict[str, Any]) -> None:
    """The broker takes the account name as client id (use_username_as_clientid): two services on
    one account would throw each other off. A client id the compose file sets is the account name,
    so that what the file says is what the broker does."""
    users = [env_of(services(compose)[name])["LOUYU_MQTT_USERNAME"] for name in LOUYU_SERVICES]
    assert len(set(users)) == len(users), users
    # a setting of each listener in mosquitto 2.0: every listener of the shipped files has it
    # (tests/deploy/test_mosquitto_acl.py::test_tls_listener_serves_the_same_accounts tries 8883)
    for name in ("mosquitto.conf", "tls.conf"):
        conf = (DEPLOY / "mosquitto" / name).read_text()
        sections = re.split(r"^listener ", conf, flags=re.M)[1:]
        assert sections, name
        for section in sections:
            assert re.search(r"^use_username_as_clientid true$", section, flags=re.M), name
    for name in LOUYU_SERVICES:
        env = env_of(services(compose)[name])
        for key in ("LOUYU_MQTT_CLIENT_ID", "LOUYU_MQTT_RULES_CLIENT_ID"):
            if key in env:
                assert env[key] == env["LOUYU_MQTT_USERNAME"], f"{name}: {key} is not its account name"


def test_plain_mqtt_is_published_on_loopback_only(compose: dict[str, Any]) -> None:
    """Port 1883 carries passwords in clear: the host publishes it on 127.0.0.1 (unless the
    operator says otherwise); the TLS port 8883 is the gateways' way in."""
    ports = services(compose)["mosquitto"]["ports"]
    published: dict[str, str] = {}
    for spec in ports:
        expanded = VAR_REF.sub(default_or_filler, str(spec))
        host, _, container = expanded.rpartition(":")
        published[container] = host
    assert published["1883"] == "127.0.0.1:1883"
    assert published["8883"] == "8883"
    tls = (DEPLOY / "mosquitto" / "tls.conf").read_text()
    assert re.search(r"^listener 8883$", tls, flags=re.M) and re.search(r"^certfile ", tls, flags=re.M)
    # and nothing else of the stack is published beyond loopback by default
    for name, service in services(compose).items():
        for spec in service.get("ports", []):
            expanded = VAR_REF.sub(default_or_filler, str(spec))
            if expanded.endswith(":8883") and name == "mosquitto":
                continue
            assert expanded.startswith("127.0.0.1:"), f"{name} publishes {spec} beyond loopback"
    # the example .env does not undo it
    example = (DEPLOY / ".env.example").read_text()
    assert not re.search(r"^MQTT_PUBLISH=", example, flags=re.M)


def test_collectors_share_a_subscription_with_distinct_client_ids(compose: dict[str, Any]) -> None:
    envs = [env_of(services(compose)[name]) for name in ("collector", "collector-2")]
    assert envs[0]["LOUYU_MQTT_SHARED_GROUP"] == envs[1]["LOUYU_MQTT_SHARED_GROUP"]
    assert envs[0]["LOUYU_MQTT_CLIENT_ID"] != envs[1]["LOUYU_MQTT_CLIENT_ID"]
    vols = [services(compose)[name]["volumes"] for name in ("collector", "collector-2")]
    assert vols[0] != vols[1], "each collector needs its own spool"


def test_rules_engine_has_a_client_id_of_its_own(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rules engine's persistent session hangs on LOUYU_MQTT_RULES_CLIENT_ID, which the engine
    `louyu rules` builds from it connects with; LOUYU_MQTT_CLIENT_ID is the collector's."""
    from louyu.commands.rules import mqtt_settings

    env = env_of(services(compose)["rules"])
    assert "LOUYU_MQTT_CLIENT_ID" not in env, "the rules engine does not read LOUYU_MQTT_CLIENT_ID"
    client_id = env["LOUYU_MQTT_RULES_CLIENT_ID"]
    for key in Settings.model_fields:
        monkeypatch.delenv(f"LOUYU_{key.upper()}", raising=False)
    monkeypatch.setenv("LOUYU_MQTT_RULES_CLIENT_ID", client_id)
    assert mqtt_settings(Settings()).client_id == client_id
    others = {env_of(services(compose)[name]).get("LOUYU_MQTT_CLIENT_ID") for name in LOUYU_SERVICES}
    assert client_id not in others


def test_influxdb_is_initialised(compose: dict[str, Any]) -> None:
    influx = services(compose)["influxdb"]
    assert influx["image"].startswith("influxdb:2.7")
    env = env_of(influx)
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    for key in ("USERNAME", "PASSWORD", "ORG", "BUCKET", "ADMIN_TOKEN"):
        assert env[f"DOCKER_INFLUXDB_INIT_{key}"], key
    # louyu writes to the bucket the setup creates, with a token made for that bucket
    louyu_env = env_of(services(compose)["collector"])
    assert env["DOCKER_INFLUXDB_INIT_BUCKET"] == louyu_env["LOUYU_INFLUX_DB"]
    assert env["DOCKER_INFLUXDB_INIT_ORG"] == louyu_env["LOUYU_INFLUX_ORG"]
    tokens_env = env_of(services(compose)["influxdb-tokens"])
    assert tokens_env["LOUYU_INFLUX_DB"] == louyu_env["LOUYU_INFLUX_DB"]
    assert tokens_env["INFLUX_ORG"] == louyu_env["LOUYU_INFLUX_ORG"]
    assert tokens_env["INFLUX_TOKEN"] == env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]


def test_influxdb_admin_token_reaches_no_louyu_service(compose: dict[str, Any]) -> None:
    admin = VAR_REF.fullmatch(env_of(services(compose)["influxdb"])["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"])
    assert admin is not None
    holders = {
        name
        for name, service in services(compose).items()
        if any(admin.group(1) in value for value in env_of(service).values())
    }
    assert holders == {"influxdb", "influxdb-tokens"}
    for name, service in services(compose).items():
        assert "LOUYU_INFLUX_TOKEN" not in env_of(service), f"{name} is given a token in its environment"


def token_volumes(service: dict[str, Any]) -> dict[str, str]:
    """The token folders a service mounts: volume -> mount point."""
    found: dict[str, str] = {}
    for volume in service.get("volumes", []):
        source, target, *_ = str(volume).split(":")
        if source.startswith("influx-token-"):
            found[source] = target
    return found


def test_each_influxdb_user_gets_only_its_scoped_token(compose: dict[str, Any]) -> None:
    """The collector mounts the write-only token's folder, the API and Grafana the read-only one's,
    read-only, where they read it; the rules engine and the notifier mount none."""
    for name, service in services(compose).items():
        mounts = token_volumes(service)
        if name == "influxdb-tokens":
            assert set(mounts) == set(INFLUX_TOKEN_USERS.values())
            continue
        if name not in INFLUX_TOKEN_USERS:
            assert mounts == {}, f"{name} mounts {mounts}"
            assert "LOUYU_SECRETS_DIR" not in env_of(service), name
            continue
        assert mounts == {INFLUX_TOKEN_USERS[name]: SECRETS_DIR}, name
        assert f"{INFLUX_TOKEN_USERS[name]}:{SECRETS_DIR}:ro" in service["volumes"], f"{name}: mount it :ro"
        if name in LOUYU_SERVICES:
            assert env_of(service)["LOUYU_SECRETS_DIR"] == SECRETS_DIR, name
    # the folders are the script's: collector with a write permission only, reader with read only
    script = (DEPLOY / "influxdb" / "tokens.sh").read_text()
    assert re.findall(r"^make_token (\S+) (\S+)$", script, flags=re.M) == [
        ("collector", "--write-bucket"),
        ("reader", "--read-bucket"),
    ]
    tokens = services(compose)["influxdb-tokens"]
    for volume, folder in token_volumes(tokens).items():
        assert folder == f"{env_of(tokens)['OUT_DIR']}/{volume.removeprefix('influx-token-')}"


def test_a_louyu_service_reads_its_token_from_the_secrets_folder(tmp_path: Path) -> None:
    """The file the script writes (louyu_influx_token) is what Settings takes as LOUYU_INFLUX_TOKEN
    when LOUYU_SECRETS_DIR names its folder, in a fresh process as in the container."""
    (tmp_path / "louyu_influx_token").write_text("scoped-token-value")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "LOUYU_SECRETS_DIR": str(tmp_path)}
    code = (
        "from louyu.settings import Settings; t = Settings().influx_token; print(t and t.get_secret_value())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "scoped-token-value"


def test_grafana_is_optional(compose: dict[str, Any]) -> None:
    assert services(compose)["grafana"]["profiles"] == ["grafana"]
    core = {n for n, s in services(compose).items() if not s.get("profiles")}
    assert core == {"mosquitto", "influxdb", "influxdb-tokens", "collector", "rules", "api", "notifier"}


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
    assert (DEPLOY / "mosquitto" / "mosquitto.conf").exists()


def test_dockerfile_copies_what_exists() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    copies = re.findall(r"^COPY (?!--from)(.+)$", text, flags=re.M)
    assert copies
    for line in copies:
        *sources, _dest = line.split()
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    assert re.search(r'^ENTRYPOINT \["louyu"\]$', text, flags=re.M)
    assert re.search(r"^USER louyu$", text, flags=re.M), "the services must not run as root"
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text()
    for line in copies:
        for source in line.split()[:-1]:
            top = source.split("/")[0]
            assert f"!{source}" in ignore or f"!{top}/**" in ignore, (
                f"{source} is excluded by the dockerignore"
            )


# --- Grafana ---------------------------------------------------------------------------------

CONTRACT_FIELDS = {
    "parking_space": {"occupied", "battery_pct"},
    "parking_lot": {"occupied", "capacity", "entered", "exited"},
    "aed": {"state", "cabinet_open", "battery_pct", "pads_expiry", "self_test", "temp_c"},
    "canteen": {"occupancy", "capacity", "queue_length", "takeaway_pending"},
}


def test_grafana_provisioning_matches_the_compose_file(compose: dict[str, Any]) -> None:
    grafana = services(compose)["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"] if v.startswith(".")}
    datasources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/influxdb.yaml").read_text())
    (source,) = datasources["datasources"]
    assert source["url"] == "http://influxdb:8086"
    assert source["jsonData"]["version"] == "Flux"
    # every $VAR the provisioning reads is in Grafana's environment
    env = env_of(grafana)
    used = re.findall(r"\$([A-Z][A-Z_]*)", json.dumps(source))
    assert len(used) == 2
    for var in used:
        assert var in env, f"Grafana's environment lacks {var}"
    # the token comes from the read-only token's file, in the folder Grafana mounts
    token = source["secureJsonData"]["token"]
    assert token == f"$__file{{{SECRETS_DIR}/louyu_influx_token}}"
    assert token_volumes(grafana) == {"influx-token-reader": SECRETS_DIR}
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/louyu.yaml").read_text())
    (provider,) = providers["providers"]
    assert mounts[provider["options"]["path"]] == "./grafana/dashboards"


@pytest.mark.parametrize("name", ["parking", "aed", "canteen"])
def test_dashboards_query_contract_measurements(name: str) -> None:
    datasources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/influxdb.yaml").read_text())
    uid = datasources["datasources"][0]["uid"]
    board = json.loads((DEPLOY / "grafana" / "dashboards" / f"{name}.json").read_text())
    assert board["uid"] == f"louyu-{name}"
    assert board["panels"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == uid
        for target in panel["targets"]:
            query = target["query"]
            assert target["datasource"]["uid"] == uid
            measurements = set(re.findall(r'r\._measurement == "([a-z_]+)"', query))
            assert measurements, f"{panel['title']}: no measurement"
            assert measurements <= set(CONTRACT_FIELDS)
            fields = set(re.findall(r'r\._field == "([a-z_]+)"', query))
            allowed = set().union(*(CONTRACT_FIELDS[m] for m in measurements))
            assert fields and fields <= allowed, f"{panel['title']}: {fields - allowed}"
            assert query.count("(") == query.count(")"), panel["title"]
