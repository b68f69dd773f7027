"""A private RabbitMQ node with its MQTT plugin (MQTT 3.1.1 only in 3.10), for the tests.

Debian's `rabbitmq-server` run straight from its own scripts (not the system service): its own
node name, Mnesia and log directories, config file and enabled-plugins file under the work
directory, a private epmd, every listener on a free loopback port, AMQP and management off.
Its HOME is the work directory too, so the Erlang cookie it creates lands there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from louyu.local_services import Service, free_port, port_open, require_binary

SCRIPTS = Path("/usr/lib/rabbitmq/bin")


class RabbitMq(Service):
    name = "rabbitmq"

    def __init__(self, workdir: Path, port: int | None = None, extra: dict[str, str] | None = None) -> None:
        """`extra`: more rabbitmq.conf settings, e.g. {"mqtt.prefetch": "5000"} (the default 10 is
        the broker's in-flight limit per MQTT 3.1.1 consumer; docs/operations.md)."""
        super().__init__(workdir)
        self.port = port or free_port()
        self.extra = extra or {}
        self.dist_port = free_port()
        self.epmd_port = free_port()
        # The plain script, not /usr/sbin/rabbitmq-server, which switches to the system's node.
        self.binary = require_binary(str(SCRIPTS / "rabbitmq-server"))
        self.node = f"louyu-test-{self.port}@localhost"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        conf = self.workdir / "rabbitmq.conf"
        conf.write_text(
            "\n".join(
                [
                    "listeners.tcp = none",  # no AMQP: the MQTT listener is all the tests need
                    f"mqtt.listeners.tcp.default = 127.0.0.1:{self.port}",
                    "mqtt.allow_anonymous = true",
                    "log.console = true",
                    "log.console.level = warning",
                    "log.file = false",
                    *(f"{key} = {value}" for key, value in self.extra.items()),
                ]
            )
            + "\n"
        )
        plugins = self.workdir / "enabled_plugins"
        plugins.write_text("[rabbitmq_mqtt].\n")  # the management plugin stays off
        return {
            **os.environ,
            "HOME": str(self.workdir),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(free_port()),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.workdir / "plugins-expand"),
            "RABBITMQ_PID_FILE": str(self.workdir / "rabbitmq.pid"),
        }

    def command(self) -> list[str]:
        return [self.binary]

    readiness = "to open its MQTT listener"

    def start(self, timeout: float = 60.0) -> None:
        # Erlang's start is slow: 17-33 s seen on a loaded 2-core machine.
        super().start(timeout)

    def ready(self) -> bool:
        return port_open("127.0.0.1", self.port)

    def stop(self, timeout: float = 30.0) -> None:
        self._signal_group(signal.SIGTERM, timeout)

    def kill(self) -> None:
        self._signal_group(signal.SIGKILL, 10.0)

    def _signal_group(self, sig: int, timeout: float) -> None:
        """The script runs the Erlang VM as its child: signal the whole group, or the VM lives on."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._stop_epmd()

    def _stop_epmd(self) -> None:
        """The node started an epmd of its own on `epmd_port`; it outlives the node otherwise.

        epmd refuses `-kill` while it still counts a node, which it does for a moment after
        the node died: ask again for a few seconds."""
        epmd = require_binary("epmd", "/usr/lib/erlang/bin/epmd")
        env = {**os.environ, "ERL_EPMD_PORT": str(self.epmd_port)}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                done = subprocess.run(
                    [epmd, "-port", str(self.epmd_port), "-kill"],
                    env=env,
                    capture_output=True,
                    timeout=5,
                    check=False,
                )
            except (OSError, subprocess.SubprocessError):
                return
            output = done.stdout + done.stderr
            if (
                b"Killed" in output
                or b"cannot connect" in output.lower()
                or not port_open("127.0.0.1", self.epmd_port)
            ):
                return
            time.sleep(0.2)
