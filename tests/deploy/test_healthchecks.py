"""The healthcheck commands of deploy/docker-compose.yml, run for real against real servers."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from louyu.testing.services import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
HEALTHCHECK = DEPLOY / "healthcheck.py"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = {"/healthz": 200, "/metrics": 200, "/down": 503}.get(self.path, 404)
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(5)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_healthy_endpoint(http_server: int) -> None:
    assert run(f"http://127.0.0.1:{http_server}/healthz").returncode == 0
    assert run(f"http://127.0.0.1:{http_server}/metrics", "1").returncode == 0


def test_unhealthy_endpoint(http_server: int) -> None:
    result = run(f"http://127.0.0.1:{http_server}/down")
    assert result.returncode == 1
    assert "503" in result.stderr
    assert run(f"http://127.0.0.1:{http_server}/missing").returncode == 1


def test_nothing_listening() -> None:
    assert run(f"http://127.0.0.1:{free_port()}/healthz", "1").returncode == 1


def test_usage_and_non_loopback() -> None:
    assert run().returncode == 2
    assert run("http://192.0.2.1/healthz", "0.2").returncode == 1  # refused before any traffic


def test_compose_healthchecks_use_this_script() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name in ("collector", "rules", "api", "notifier"):
        test = compose["services"][name]["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "/opt/louyu/healthcheck.py"], name
        port = test[3].split(":")[2].split("/")[0]
        env = compose["services"][name]["environment"]
        bind = env.get("LOUYU_METRICS_BIND") or env.get("LOUYU_API_BIND")
        assert bind.endswith(f":{port}"), f"{name}: healthcheck port {port} but the service binds {bind}"
    assert "COPY deploy/healthcheck.py /opt/louyu/healthcheck.py" in (DEPLOY / "Dockerfile").read_text()
