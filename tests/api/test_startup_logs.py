"""No secret of a configured URL reaches the logs: `louyu up` (collector, rules engine,
notifier and API in one process) started against real mosquitto, influxd and PostgreSQL with a
password in each URL, its whole output captured from start-up to SIGTERM."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import structlog

from collector.redaction import redact_url, redact_urls
from louyu.logs import configure_logging
from louyu.runtime import check_settings
from louyu.settings import Settings
from louyu.testing.postgres import Postgres
from louyu.testing.services import Influxd, Mosquitto, free_port

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://reader:s3cret@influx:8086", "http://reader:***@influx:8086"),
        ("mqtts://gw-7:p%40ss@broker:8883", "mqtts://gw-7:***@broker:8883"),
        (
            "postgresql://louyu:pw@db:5432/louyu?sslmode=require",
            "postgresql://louyu:***@db:5432/louyu?sslmode=require",
        ),
        ("http://influx:8086/query?u=api&p=s3cret&db=louyu", "http://influx:8086/query?u=api&p=***&db=louyu"),
        ("sqlite:///var/louyu.db", "sqlite:///var/louyu.db"),
        ("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1883"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_urls(f"connecting to {url}, then") == f"connecting to {shown}, then"


def test_start_up_logs_no_url_secret(tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd) -> None:
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv is missing (util-linux)")
    postgres = Postgres(tmp_path / "postgres")
    postgres.start()
    influx_secret, mqtt_secret = "influx-Pw-4417", "mqtt-Pw-9921"
    port = free_port()
    env = {
        **os.environ,
        "LOUYU_DATABASE_URL": postgres.url,
        "LOUYU_MQTT_URL": f"mqtt://louyu-svc:{mqtt_secret}@127.0.0.1:{mosquitto.port}",
        "LOUYU_INFLUX_URL": f"http://louyu-api:{influx_secret}@127.0.0.1:{influxd.port}",
        "LOUYU_API_BIND": f"127.0.0.1:{port}",
        "LOUYU_SPOOL_PATH": str(tmp_path / "spool.db"),
        "LOUYU_DEAD_LETTER_PATH": str(tmp_path / "dead.db"),
        "LOUYU_LOG_LEVEL": "DEBUG",
        "LOUYU_LOG_FORMAT": "console",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", "from louyu.cli import main; main()", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                proc.stdout.read() if proc.stdout else ""
            )
            time.sleep(0.2)
        time.sleep(1.0)  # the parts log their start-up as they connect
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
        postgres.kill()
    assert "collector started" in output, output[-3000:]
    for secret in (influx_secret, mqtt_secret, postgres.password):
        assert secret not in output, f"{secret!r} logged:\n{output[-3000:]}"
    # The URLs are still there for an operator to read, without their passwords.
    assert f"http://louyu-api:***@127.0.0.1:{influxd.port}" in output, output[-3000:]


def test_console_logs_escape_device_text_and_mask_urls(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("INFO", "console")
    log = structlog.get_logger("louyu.test")
    log.warning("message rejected", topic="louyu/a/aed/\x1b]0;owned\x07", excerpt="\x1b[2J\u202eok")
    logging.getLogger("louyu.test.stdlib").warning("cannot reach %s", "http://u:Pw-551@influx:8086/x")
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err and "\x07" not in err, repr(err)
    assert "\\x1b]0;owned\\x07" in err and "\\u202e" in err
    # The standard library's records (uvicorn, paho, SQLAlchemy) go through the same mask.
    assert "Pw-551" not in caplog.text and "http://u:***@influx:8086/x" in caplog.text


def test_production_refuses_a_secret_left_at_a_placeholder() -> None:
    with pytest.raises(SystemExit, match="LOUYU_MQTT_PASSWORD is left at a placeholder"):
        check_settings(Settings(environment="production", mqtt_password="ChangeMe"))
    with pytest.raises(SystemExit, match="LOUYU_INFLUX_TOKEN is left at a placeholder"):
        check_settings(Settings(environment="production", influx_token="secret"))
    # Allowed while developing, and a real secret is fine in production.
    check_settings(Settings(environment="development", mqtt_password="changeme"))
    check_settings(
        Settings(environment="production", mqtt_username="louyu-rules", mqtt_password="k7-Qe2-real")
    )
