"""Measure, on this machine, the two figures docs/scaling.md builds on.

1. Mosquitto's own throughput with the shipped broker settings (persistence on, QoS 1, the
   collector's in-flight and queue settings), driven by the C clients `mosquitto_pub -l` and
   `mosquitto_sub` so that the client library is not what is measured.
2. InfluxDB 1.x (Debian's influxd) ingest rate with a simple batched line-protocol writer:
   5,000-point batches over HTTP /write, millisecond precision, series shaped like louyu's
   (measurement per kind, tags building/device/floor/zone), and the bytes per point on disk once
   influxd has compacted them.
3. How a shared subscription splits a stream between collectors (`$share/collectors/...`).
4. Mosquitto's resident memory per idle client connection.

    .venv/bin/python deploy/capacity/measure.py [--messages N] [--points N] [--writers N]

Everything runs on loopback, bounded in count and time, and stops by itself.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from louyu.testing.services import Influxd, Mosquitto

KINDS = ("parking_space", "parking_lot", "aed", "canteen")


def telemetry_line(i: int) -> str:
    occupied = "true" if i % 2 else "false"
    return f'{{"occupied": {occupied}, "battery_pct": {50 + i % 50}}}'


def measure_mosquitto(workdir: Path, messages: int, publishers: int, qos: int) -> dict[str, float]:
    """Messages per second through the broker, publish to delivery, `publishers` connections."""
    broker = Mosquitto(workdir / f"mosquitto-q{qos}")
    broker.start()
    try:
        per_pub = messages // publishers
        total = per_pub * publishers
        payload_file = workdir / "payloads.txt"
        payload_file.write_text("".join(telemetry_line(i) + "\n" for i in range(per_pub)))
        sub = subprocess.Popen(
            ["mosquitto_sub", "-p", str(broker.port), "-q", str(qos), "-t", "louyu/+/+/+", "-C", str(total)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)  # let the subscription settle
        start = time.perf_counter()
        pubs = []
        for p in range(publishers):
            topic = f"louyu/b{p:03d}/parking_space/d{p:05d}"
            with payload_file.open("rb") as stdin:
                pubs.append(
                    subprocess.Popen(
                        ["mosquitto_pub", "-p", str(broker.port), "-q", str(qos), "-t", topic, "-l"],
                        stdin=stdin,
                        stderr=subprocess.DEVNULL,
                    )
                )
        for proc in pubs:
            proc.wait(timeout=600)
        published = time.perf_counter() - start
        _, err = sub.communicate(timeout=600)
        delivered = time.perf_counter() - start
        if sub.returncode != 0:
            raise RuntimeError(f"mosquitto_sub failed: {err!r}")
        return {
            "messages": total,
            "publishers": publishers,
            "qos": qos,
            "publish_s": published,
            "deliver_s": delivered,
            "msg_per_s": total / delivered,
        }
    finally:
        broker.kill()


def measure_shared_split(workdir: Path, messages: int, subscribers: int) -> dict[str, object]:
    """Each of `messages` goes to exactly one of `subscribers` on one shared subscription."""
    broker = Mosquitto(workdir / "mosquitto-share")
    broker.start()
    try:
        outputs = [workdir / f"collector-{i + 1}.out" for i in range(subscribers)]
        subs = []
        for i, path in enumerate(outputs):
            with path.open("w") as out:  # a file, not a pipe: a full pipe would stall the subscriber
                subs.append(
                    subprocess.Popen(
                        ["mosquitto_sub", "-p", str(broker.port), "-q", "1", "-i", f"louyu-collector-{i + 1}",
                         "-t", "$share/collectors/louyu/+/+/+", "-F", "%t %p"],
                        stdout=out,
                        stderr=subprocess.DEVNULL,
                    )
                )  # fmt: skip
        time.sleep(0.5)
        payload_file = workdir / "numbered.txt"
        payload_file.write_text("".join(f'{{"occupied": true, "n": {i}}}\n' for i in range(messages)))
        with payload_file.open("rb") as stdin:
            subprocess.run(
                [
                    "mosquitto_pub",
                    "-p",
                    str(broker.port),
                    "-q",
                    "1",
                    "-t",
                    "louyu/b000/parking_space/d0",
                    "-l",
                ],
                stdin=stdin,
                check=True,
                timeout=300,
            )
        time.sleep(2.0)  # let the last deliveries land, then stop the subscribers
        counts: list[int] = []
        seen: list[str] = []
        for sub, path in zip(subs, outputs, strict=True):
            sub.send_signal(signal.SIGINT)  # a clean exit flushes what it printed
            sub.wait(timeout=30)
            lines = [line for line in path.read_text().splitlines() if line.strip()]
            counts.append(len(lines))
            seen += lines
        return {
            "published": messages,
            "per_subscriber": counts,
            "delivered": len(seen),
            "distinct": len(set(seen)),
        }
    finally:
        broker.kill()


def mqtt_connect_packet(client_id: str, keepalive: int = 600) -> bytes:
    cid = client_id.encode()
    variable = b"\x00\x04MQTT\x04\x02" + keepalive.to_bytes(2, "big")
    payload = len(cid).to_bytes(2, "big") + cid
    remaining = len(variable) + len(payload)
    assert remaining < 128
    return bytes([0x10, remaining]) + variable + payload


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def measure_connections(workdir: Path, connections: int) -> dict[str, float]:
    """Resident memory of mosquitto with `connections` idle MQTT 3.1.1 clients."""
    import socket

    broker = Mosquitto(workdir / "mosquitto-conn", extra_lines=["max_connections -1"])
    broker.start()
    socks: list[socket.socket] = []
    try:
        assert broker.proc is not None
        time.sleep(0.5)
        before = rss_kib(broker.proc.pid)
        for i in range(connections):
            sock = socket.create_connection(("127.0.0.1", broker.port), timeout=10)
            sock.sendall(mqtt_connect_packet(f"gw-{i:06d}"))
            socks.append(sock)
        for sock in socks:
            connack = sock.recv(4)
            if connack[:1] != b"\x20" or connack[3:4] != b"\x00":
                raise RuntimeError(f"CONNACK {connack!r}")
        time.sleep(1.0)
        after = rss_kib(broker.proc.pid)
        return {
            "connections": connections,
            "rss_before_kib": before,
            "rss_after_kib": after,
            "kib_per_connection": (after - before) / connections,
        }
    finally:
        for sock in socks:
            sock.close()
        broker.kill()


def make_lines(n: int, devices: int, start_ms: int, rng: random.Random) -> list[str]:
    lines = []
    for i in range(n):
        d = rng.randrange(devices)
        building = f"b{d % 140:03d}"
        kind = KINDS[d % 4]
        tags = f"building={building},device=d{d:06d},floor=F{d % 30},zone=z{d % 7}"
        ts = start_ms + i
        if kind == "parking_space":
            fields = (
                f"occupied={'true' if rng.random() < 0.6 else 'false'},battery_pct={rng.uniform(20, 100):.1f}"
            )
        elif kind == "parking_lot":
            fields = f"occupied={rng.randrange(600)}i,capacity=600i"
        elif kind == "aed":
            fields = f'state="ready",cabinet_open=false,battery_pct={rng.uniform(20, 100):.1f}'
        else:
            fields = f"occupancy={rng.randrange(420)}i,capacity=420i,queue_length={rng.randrange(40)}i"
        lines.append(f"{kind},{tags} {fields} {ts}")
    return lines


def post(url: str, body: bytes) -> None:
    req = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (loopback)
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
        if resp.status not in (200, 204):
            raise RuntimeError(f"{url} answered {resp.status}")


class CompactingInfluxd(Influxd):
    """influxd 1.x that turns its write cache into compacted TSM files within seconds, so that the
    bytes per point on disk can be read right after a write instead of after hours."""

    def command(self) -> list[str]:
        argv = super().command()
        conf = self.workdir / "influxdb.conf"
        text = conf.read_text().replace(
            "  query-log-enabled = false",
            "  query-log-enabled = false\n"
            '  cache-snapshot-write-cold-duration = "1s"\n'
            '  compact-full-write-cold-duration = "2s"\n'
            '  index-version = "tsi1"',
        )
        conf.write_text(text)
        return argv


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def wait_compacted(workdir: Path, timeout: float = 120.0) -> tuple[int, int]:
    """(TSM bytes, WAL bytes) once the WAL has been snapshotted and the TSM size is stable."""
    deadline = time.monotonic() + timeout
    last = -1
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        tsm = sum(f.stat().st_size for f in (workdir / "data").rglob("*.tsm"))
        wal = dir_bytes(workdir / "wal")
        if tsm != last:
            last, stable_since = tsm, time.monotonic()
        elif tsm > 0 and wal < 1_000_000 and time.monotonic() - stable_since > 10:
            return tsm, wal
        time.sleep(1.0)
    return last, dir_bytes(workdir / "wal")


def measure_influxd(workdir: Path, points: int, devices: int, writers: int, batch: int) -> dict[str, float]:
    server = CompactingInfluxd(workdir / "influxd")
    server.start()
    try:
        query = urllib.parse.urlencode({"q": "CREATE DATABASE louyu"})
        post(f"{server.url}/query?{query}", b"")
        rng = random.Random(7)
        start_ms = int(time.time() * 1000) - points  # recent, unique timestamps per series
        lines = make_lines(points, devices, start_ms, rng)
        bodies = ["\n".join(lines[i : i + batch]).encode() for i in range(0, len(lines), batch)]
        url = f"{server.url}/write?db=louyu&precision=ms"
        chunks = [bodies[w::writers] for w in range(writers)]
        errors: list[Exception] = []

        def run(chunk: list[bytes]) -> None:
            try:
                for body in chunk:
                    post(url, body)
            except Exception as exc:  # noqa: BLE001 - reported after join
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(c,), name=f"writer-{i}") for i, c in enumerate(chunks)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        if errors:
            raise errors[0]
        size = sum(len(b) for b in bodies)
        values = sum(line.split(" ")[1].count(",") + 1 for line in lines)
        tsm, wal = wait_compacted(workdir / "influxd")
        return {
            "points": points,
            "series": devices,
            "writers": writers,
            "batch": batch,
            "elapsed_s": elapsed,
            "points_per_s": points / elapsed,
            "line_protocol_bytes_per_point": size / points,
            "field_values": values,
            "tsm_bytes_compacted": tsm,
            "tsm_bytes_per_point": tsm / points,
            "tsm_bytes_per_value": tsm / values,
            "wal_bytes_left": wal,
        }
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--shared-messages", type=int, default=30_000)
    parser.add_argument("--collectors", type=int, default=3)
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--only", choices=["mosquitto", "share", "connections", "influxd"], action="append")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="louyu-capacity-") as tmp:
        work = Path(tmp)
        only = set(args.only or ["mosquitto", "share", "connections", "influxd"])
        if "mosquitto" in only:
            for qos in (1, 0):
                print("mosquitto", measure_mosquitto(work, args.messages, args.publishers, qos), flush=True)
        if "share" in only:
            print(
                "shared subscription",
                measure_shared_split(work, args.shared_messages, args.collectors),
                flush=True,
            )
        if "connections" in only:
            print("connections", measure_connections(work, args.connections), flush=True)
        if "influxd" in only:
            result = measure_influxd(work, args.points, args.series, args.writers, args.batch)
            print("influxd", result, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
