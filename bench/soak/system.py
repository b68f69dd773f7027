"""The system under test: mosquitto and influxd, and each louyu part as a process of its own (as in
the compose layout), so that each can be killed and restarted alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from louyu.testing.services import Influxd, Mosquitto, free_port

PARTS = ("collector", "rules", "notifier", "api")


class Part:
    """`louyu PART` as a child process, with its log, its metrics port and its memory samples."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.name, self.workdir = name, workdir
        self.port = free_port()
        bind = f"127.0.0.1:{self.port}"
        self.env = dict(env, **({"LOUYU_API_BIND": bind} if name == "api" else {"LOUYU_METRICS_BIND": bind}))
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "louyu", self.name],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"louyu {self.name} exited with {self.proc.returncode}; see {self.log_path}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"louyu {self.name} did not answer in {timeout} s; see {self.log_path}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            return httpx.get(self.metrics_url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def rss_mb(self) -> float | None:
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            with open(f"/proc/{self.proc.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid


class System:
    def __init__(self, workdir: Path, registry_file: Path, notify_file: Path, spool_dir: Path) -> None:
        self.workdir = workdir
        # $SYS every second: the broker's stored-message count says when its queues are empty.
        self.broker = Mosquitto(workdir / "mosquitto", extra={"sys_interval": "1"})
        self.influxd = Influxd(workdir / "influxd")
        self.spool_dir = spool_dir
        self.env = dict(
            os.environ,
            LOUYU_ENVIRONMENT="development",
            LOUYU_MQTT_URL=self.broker.url,
            LOUYU_INFLUX_URL=self.influxd.url,
            LOUYU_DATABASE_URL=f"sqlite:///{workdir / 'louyu.db'}",
            LOUYU_REGISTRY_FILE=str(registry_file),
            LOUYU_NOTIFY_FILE=str(notify_file),
            LOUYU_SPOOL_PATH=str(spool_dir / "spool.db"),
            LOUYU_DEAD_LETTER_PATH=str(workdir / "dead-letters.db"),
            LOUYU_STATE_DIR=str(workdir / "state"),
            LOUYU_LOG_FORMAT="json",
            LOUYU_LOG_LEVEL="WARNING",
        )
        self.parts = {name: Part(name, self.env, workdir) for name in PARTS}

    def start(self) -> None:
        self.broker.start()
        self.influxd.start()
        for part in self.parts.values():
            part.start()

    def stop(self) -> None:
        for part in reversed(self.parts.values()):
            part.stop()
        self.influxd.stop()
        self.broker.stop()

    def token(self, role: str = "viewer") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "louyu", "token", "create", "--role", role, "--name", f"soak-{role}"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            cwd=self.workdir,
        )
        return done.stdout.strip()
