"""The two consumers the collector benchmark compares, each run as its own process.

    python -m bench.consumers bare      PORT COUNT|live CLIENT_ID
    python -m bench.consumers collector PORT COUNT|live CLIENT_ID INFLUX_URL WORKDIR

`bare`: a paho subscriber that does nothing with a message (paho acknowledges it on return).
`collector`: louyu's collector, built as `louyu collector` builds it. Both use MQTT 5 with a
persistent session, so a backlog queued while they were away is delivered when they connect.
`prepare` as COUNT only creates the session and leaves. Each prints one JSON line: message
timings, and CPU seconds and peak RSS from the process's own accounting, CPU counted from the
moment the consumer was ready (imports and set-up excluded).
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """VmHWM: this process's own peak (getrusage's ru_maxrss survives execve and would report the
    parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


IDLE_END_S = 3.0  # live mode: the stream is over after this long without a message


def bare(port: int, count: str, client_id: str) -> dict[str, Any]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    received = 0
    first = last = 0.0
    subscribed = threading.Event()
    done = threading.Event()
    target = None if count in ("live", "prepare") else int(count)

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        nonlocal received, first, last
        received += 1
        last = time.perf_counter()
        if received == 1:
            first = last
        if received == target:
            done.set()

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if flags.session_present:
            subscribed.set()
        else:
            client.subscribe([("louyu/+/+/+", 1), ("louyu/+/+/+/availability", 1)])

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_connect = on_connect
    client.on_subscribe = lambda *args: subscribed.set()
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    properties.ReceiveMaximum = 20_000
    cpu_ready = cpu_s()
    client.connect("127.0.0.1", port, clean_start=False, properties=properties)
    client.loop_start()
    subscribed.wait(30)
    if count == "prepare":
        client.disconnect()
        client.loop_stop()
        return {"prepared": True}
    if target is not None:
        done.wait(600)
    else:
        while received == 0 or time.perf_counter() - last < IDLE_END_S:
            time.sleep(0.05)
    cpu_used = cpu_s() - cpu_ready
    client.disconnect()
    client.loop_stop()
    return {
        "received": received,
        "stored": received,
        "seconds": last - first,
        "cpu_s": cpu_used,
        "peak_rss_mb": peak_rss_mb(),
    }


def collector(port: int, count: str, client_id: str, influx_url: str, workdir: str) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry

    from collector.broker import BrokerTarget
    from collector.registry import Registry
    from collector.service import Collector, CollectorConfig, InfluxTarget

    root = Path(workdir)
    config = CollectorConfig(
        broker=BrokerTarget("127.0.0.1", port),
        influx=InfluxTarget(influx_url),
        spool_path=root / "spool.db",
        dead_letter_path=root / "dead.db",
        client_id=client_id,
    )
    part = Collector(config, Registry.load(), CollectorRegistry())
    stats = part.stats
    cpu_ready = cpu_s()
    part.start(wait_s=30)
    if count == "prepare":
        part.stop()
        return {"prepared": True}
    target = None if count == "live" else int(count)
    first = last = 0.0
    seen = 0
    # Poll the counters: the collector has no per-message hook, and adding one would cost time.
    while True:
        now = time.perf_counter()
        if stats.received and not first:
            first = now
        if stats.written != seen:
            seen, last = stats.written, now
        if target is not None and stats.written + sum(stats.rejected.values()) >= target:
            break
        if (
            target is None
            and first
            and now - max(last, first) >= IDLE_END_S
            and stats.received == stats.acked
        ):
            break
        time.sleep(0.002)
    cpu_used = cpu_s() - cpu_ready
    result = {
        "received": stats.received,
        "stored": stats.written,
        "rejected": dict(stats.rejected),
        "spooled": stats.spooled,
        "seconds": last - first,
        "cpu_s": cpu_used,
        "peak_rss_mb": peak_rss_mb(),
    }
    part.stop()
    return result


def main() -> None:
    kind, port, count, client_id, *rest = sys.argv[1:]
    result = (
        bare(int(port), count, client_id) if kind == "bare" else collector(int(port), count, client_id, *rest)
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
