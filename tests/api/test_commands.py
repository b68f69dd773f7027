"""`louyu token` and `louyu api`'s `build()` (what `louyu up` composes)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.roles import Role
from api.tokens import TokenStore
from collector.registry import Registry
from louyu.cli import app
from louyu.commands.api import build, create_demo_token
from louyu.settings import Settings
from louyu.testing.services import Influxd, Mosquitto, free_port
from rules.database import make_engine
from tests.api.conftest import new_alert
from tests.api.sse import take


def test_token_create_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'louyu.db'}"
    monkeypatch.setenv("LOUYU_DATABASE_URL", url)
    runner = CliRunner()
    created = runner.invoke(
        app, ["token", "create", "--role", "patrol", "--name", "wang", "--expires-days", "30"]
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("louyu_") and "\n" not in token
    assert "not shown again" in created.stderr
    clash = runner.invoke(app, ["token", "create", "--role", "viewer", "--name", "wang"])
    assert clash.exit_code == 1 and "revoke it first" in clash.stderr
    assert runner.invoke(app, ["token", "create", "--role", "boss", "--name", "x"]).exit_code == 2
    listed = runner.invoke(app, ["token", "list"])
    assert listed.exit_code == 0
    assert "wang" in listed.stdout and "patrol" in listed.stdout and "valid" in listed.stdout
    assert token not in listed.stdout and token[:12] in listed.stdout
    engine = make_engine(url)
    store = TokenStore(engine)
    info = store.authenticate(token, dt.datetime.now(dt.UTC))
    assert info is not None and info.role is Role.PATROL and info.name == "wang"
    assert info.expires_at is not None and info.expires_at - info.created_at == dt.timedelta(days=30)
    revoked = runner.invoke(app, ["token", "revoke", "wang"])
    assert revoked.exit_code == 0 and "revoked token" in revoked.stdout
    assert store.authenticate(token, dt.datetime.now(dt.UTC)) is None
    assert runner.invoke(app, ["token", "revoke", "wang"]).exit_code == 1
    assert "revoked" in runner.invoke(app, ["token", "list"]).stdout
    engine.dispose()


@pytest.mark.integration
def test_build_start_serve_stop(tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'louyu.db'}",
        mqtt_url=mosquitto.url,
        influx_url=influxd.url,
        api_bind=f"127.0.0.1:{free_port()}",
    )
    token = create_demo_token(settings)
    assert token != create_demo_token(settings)  # a new one each time; the old one is revoked
    token = create_demo_token(settings)
    runtime = build(settings, Registry.load())
    runtime.start()
    try:
        assert any(t.name == "louyu-api" for t in threading.enumerate())
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=runtime.url, headers=headers, timeout=10) as client:
            deadline = time.monotonic() + 10
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, client.get("/readyz").text
                time.sleep(0.05)
            assert client.get("/docs").status_code == 200
            assert client.get("/api/v1/silences").status_code == 200  # operator
            # A stream left open must not hold the shutdown.
            with client.stream("GET", "/api/v1/events", params={"after": 0}) as stream:
                runtime.store.raise_alert(new_alert(), dt.datetime.now(dt.UTC))
                assert len(take(stream, 1)) == 1
                started = time.monotonic()
                runtime.stop()
                stopped_in = time.monotonic() - started
    finally:
        runtime.stop()
    assert stopped_in < 5
    assert not any(t.name == "louyu-api" for t in threading.enumerate())


@pytest.mark.integration
def test_louyu_api_serves_until_sigterm(tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LOUYU_DATABASE_URL": f"sqlite:///{tmp_path / 'louyu.db'}",
        "LOUYU_MQTT_URL": mosquitto.url,
        "LOUYU_INFLUX_URL": influxd.url,
        "LOUYU_LOG_FORMAT": "json",
    }
    token = subprocess.run(
        [
            sys.executable,
            "-c",
            "from louyu.cli import main; main()",
            "token",
            "create",
            "--role",
            "viewer",
            "--name",
            "cli",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from louyu.cli import main; main()", "api", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                proc.stdout.read() if proc.stdout else ""
            )
            time.sleep(0.1)
        listed = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/alerts", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert listed.status_code == 200
        assert listed.json()["items"] == [] and listed.json()["next_cursor"] is None
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=15)[0]
    assert proc.returncode == 0, output
    assert token not in output  # never logged
