"""`louyu collector`'s start-up: from the process's start to its first point stored in InfluxDB.

A reading waits in the collector's persistent session on the broker; `louyu collector` is started
(`python -m louyu collector`, as `louyu collector` runs it) against a fresh influxd, and the time
is taken from the start of the process until the point is visible in InfluxDB (polled every
10 ms). The baseline, in the same run, on the same broker: a bare Python process that imports
paho, connects to a persistent session of its own and receives the same waiting reading
(`python -m bench.collector_startup bare PORT CLIENT_ID`). Medians of rounds.

Target (issue 15): under 1 s to the first stored point.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_STARTUP_ROUNDS", "5"))
TOPIC = "louyu/darong-a/parking_space/b1-001"
TARGET_S = 1.0


def bare(port: int, client_id: str) -> None:
    """The baseline process: import paho, resume the session, print at the first message."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = lambda *args: print("received", flush=True)
    client.connect("127.0.0.1", port, clean_start=False)
    client.loop_start()
    time.sleep(30)  # killed by the benchmark once it has read the line


def prepare_session(port: int, client_id: str) -> None:
    """Create the persistent session (subscribed as the collector subscribes) and leave."""
    subprocess.run(
        [sys.executable, "-m", "bench.consumers", "bare", str(port), "prepare", client_id],
        check=True,
        capture_output=True,
        timeout=60,
    )


def queue_reading(port: int) -> None:
    from louyu.testing.clients import publish_all

    payload = f'{{"occupied": true, "ts": {int(time.time() * 1000)}}}'.encode()
    publish_all(port, [(TOPIC, payload)])


def time_bare(port: int, n: int) -> float:
    client_id = f"startup-bare-{n}"
    prepare_session(port, client_id)
    queue_reading(port)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.collector_startup", "bare", str(port), client_id],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        elapsed = time.perf_counter() - started
        if line.strip() != "received":
            raise RuntimeError("the bare subscriber received nothing")
        return elapsed
    finally:
        process.kill()
        process.wait(10)


def time_collector(root: Path, port: int, n: int) -> float:
    from louyu.testing.clients import influx_count
    from louyu.testing.services import Influxd

    client_id = f"startup-collector-{n}"
    workdir = root / f"collector-{n}"
    workdir.mkdir()
    influxd = Influxd(root / f"influxd-{n}")
    influxd.start()
    try:
        prepare_session(port, client_id)
        queue_reading(port)
        env = {
            **os.environ,
            "LOUYU_MQTT_URL": f"mqtt://127.0.0.1:{port}",
            "LOUYU_MQTT_CLIENT_ID": client_id,
            "LOUYU_INFLUX_URL": influxd.url,
            "LOUYU_SPOOL_PATH": str(workdir / "spool.db"),
            "LOUYU_DEAD_LETTER_PATH": str(workdir / "dead.db"),
            "LOUYU_LOG_FORMAT": "json",
            # An anonymous loopback broker, as in the tests: production would ask for an account.
            "LOUYU_ENVIRONMENT": "development",
        }
        with (workdir / "collector.log").open("wb") as log:
            started = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, "-m", "louyu", "collector"],
                env=env,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                while influx_count(influxd.url, "parking_space", "occupied") == 0:
                    if process.poll() is not None:
                        raise RuntimeError((workdir / "collector.log").read_text()[-2000:])
                    if time.perf_counter() - started > 60:
                        raise TimeoutError("no point stored within 60 s")
                    time.sleep(0.01)
                return time.perf_counter() - started
            finally:
                process.terminate()
                process.wait(30)
    finally:
        influxd.kill()


def main() -> None:
    from louyu.testing.services import Mosquitto

    bare_s: list[float] = []
    collector_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="louyu-bench-startup-") as tmp:
        root = Path(tmp)
        broker = Mosquitto(root / "mosquitto")
        broker.start()
        try:
            for n in range(ROUNDS):
                bare_s.append(time_bare(broker.port, n))
                collector_s.append(time_collector(root, broker.port, n))
        finally:
            broker.kill()
    print(f"\ncollector start-up: process start to the first reading, {ROUNDS} rounds")
    print(f"{'round':>5} {'bare paho (received) s':>23} {'louyu collector (stored) s':>27}")
    for n, (b, c) in enumerate(zip(bare_s, collector_s, strict=True)):
        print(f"{n:>5} {b:>23.3f} {c:>27.3f}")
    bare_median, collector_median = statistics.median(bare_s), statistics.median(collector_s)
    print(f"median: bare {bare_median:.3f} s, collector {collector_median:.3f} s (target < {TARGET_S:g} s)")
    print(
        f"collector/bare (median of rounds): {statistics.median(c / b for c, b in zip(collector_s, bare_s, strict=True)):.2f}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "bare":
        bare(int(sys.argv[2]), sys.argv[3])
    else:
        main()
