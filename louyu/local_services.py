"""Local mosquitto and influxd processes, for `louyu up --demo` and for the tests (louyu/testing/).

Each service keeps its data in a directory of its own, so that it can be stopped (SIGTERM),
killed (SIGKILL) and started again on the same data and port: the failure tests rely on it.
Loopback only: a service started here listens on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit


class ServiceError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 0.5) -> bool:
    if not url.startswith(("http://", "https://")):
        return False
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http(s) only, above)
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def require_binary(name: str, *candidates: str) -> str:
    for candidate in (name, *candidates):
        found = shutil.which(candidate) or (candidate if os.path.exists(candidate) else None)
        if found:
            return found
    raise ServiceError(f"{name} is not installed (Debian package: run `make sysdeps`)")


class Service:
    """One child process with a data directory, a log file and a readiness check."""

    name = "service"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The child's environment; None: this process's own."""
        return None

    # What `ready()` waits for, in the error when it never comes.
    readiness = "to become ready"

    def start(self, timeout: float = 30.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env=self.environment(),
            start_new_session=True,
        )
        log.close()
        self._wait(self.ready, timeout, self.readiness)

    def _wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServiceError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if check():
                return
            time.sleep(0.05)
        raise ServiceError(f"{self.name} did not manage {what} in {timeout} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        """Graceful stop (SIGTERM), as an orderly restart would do."""
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: the crash case."""
        self._signal(signal.SIGKILL, 10.0)

    def _signal(self, sig: int, timeout: float) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# The broker settings the collector needs, and why (see docs/operations.md):
# - acks wait until a batch is durable, so the broker must allow many unacknowledged messages in
#   flight (the default 20 caps a late-acking consumer at 20 messages per write round trip);
# - a persistent session must be able to hold a long backlog while the collector is away (the
#   default 1000 queued messages silently drops QoS 1 messages beyond it).
COLLECTOR_BROKER_SETTINGS = {
    "max_inflight_messages": "0",
    "max_queued_messages": "0",
    "max_queued_bytes": "0",
    "persistent_client_expiration": "14d",
    "set_tcp_nodelay": "true",
}


class Mosquitto(Service):
    name = "mosquitto"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        extra: dict[str, str] | None = None,
        extra_lines: list[str] | None = None,
        anonymous: bool = True,
    ) -> None:
        super().__init__(workdir)
        self.anonymous = anonymous
        self.port = port or free_port()
        self.settings = dict(COLLECTOR_BROKER_SETTINGS)
        self.settings.update(extra or {})
        self.extra_lines = extra_lines or []
        self.binary = require_binary("mosquitto", "/usr/sbin/mosquitto")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        conf = self.workdir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {'true' if self.anonymous else 'false'}",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "autosave_interval 60",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            # Started as root, mosquitto drops to the `mosquitto` user, which cannot write its
            # persistence file in our temporary directory: a restart would then lose queued messages.
            *(["user root"] if os.geteuid() == 0 else []),
            *[f"{k} {v}" for k, v in self.settings.items()],
            *self.extra_lines,
        ]
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def command(self) -> list[str]:
        return [self.binary, "-c", str(self.write_config())]

    def ready(self) -> bool:
        return port_open("127.0.0.1", self.port)


class Influxd(Service):
    """InfluxDB 1.x (Debian's influxdb), HTTP API with /write and /query.

    `auth_enabled=True` runs it as a secured site does (`auth-enabled = true`): every request needs
    a user, and the first one is the administrator made by `create_admin`.
    """

    name = "influxd"

    def __init__(self, workdir: Path, port: int | None = None, auth_enabled: bool = False) -> None:
        super().__init__(workdir)
        self.auth_enabled = auth_enabled
        self.port = port or free_port()
        self.rpc_port = free_port()
        self.binary = require_binary("influxd")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        conf = self.workdir / "influxdb.conf"
        conf.write_text(f"""
reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{self.workdir}/meta"
[data]
  dir = "{self.workdir}/data"
  wal-dir = "{self.workdir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = {"true" if self.auth_enabled else "false"}
  log-enabled = false
  pprof-enabled = false
[logging]
  level = "warn"
[continuous_queries]
  enabled = false
""")
        return [self.binary, "run", "-config", str(conf)]

    def ready(self) -> bool:
        return http_ok(f"{self.url}/ping")

    def create_admin(self, username: str, password: str) -> None:
        """The first user, with all privileges: InfluxDB 1.x takes it without credentials while
        it has no user at all, and nothing else until then."""
        name = username.replace("\\", "\\\\").replace('"', '\\"')
        secret = password.replace("\\", "\\\\").replace("'", "\\'")
        body = urllib.parse.urlencode(
            {"q": f"CREATE USER \"{name}\" WITH PASSWORD '{secret}' WITH ALL PRIVILEGES"}
        ).encode()
        url = f"{self.url}/query"  # always http://127.0.0.1:PORT (this object's own influxd)
        with urllib.request.urlopen(url, data=body, timeout=10) as response:  # noqa: S310
            answer = response.read().decode()
        if '"error"' in answer:
            raise ServiceError(f"influxd refused the administrator: {answer[:200]}")


def start_missing(
    broker: tuple[str, int], influx_url: str, workdir: Path, say: Callable[[str], None]
) -> list[Service]:
    """Start mosquitto and influxd at the configured addresses where nothing answers there
    (`louyu up --demo`); the caller stops what this returns."""
    started: list[Service] = []
    host, port = broker
    if port_open(host, port):
        say(f"broker:   using the one at {host}:{port}")
    else:
        mosquitto = Mosquitto(workdir / "mosquitto", port=port)
        mosquitto.start()
        started.append(mosquitto)
        say(f"broker:   started mosquitto on 127.0.0.1:{port} (data in {mosquitto.workdir})")
    influx = urlsplit(influx_url)
    if http_ok(f"{influx_url}/ping") or http_ok(f"{influx_url}/health"):
        # host and port only: a URL may carry credentials
        say(f"influxdb: using the one at {influx.scheme}://{influx.hostname}:{influx.port or 8086}")
    else:
        influxd = Influxd(workdir / "influxd", port=influx.port or 8086)
        try:
            influxd.start()
        except Exception:
            for service in started:
                service.stop()
            raise
        started.append(influxd)
        say(f"influxdb: started influxd 1.x on {influxd.url} (data in {influxd.workdir})")
    return started
