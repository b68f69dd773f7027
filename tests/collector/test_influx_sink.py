"""How the sinks classify InfluxDB's answers, against a real HTTP server on loopback that answers
as a struggling InfluxDB would; and that the pipeline honours Retry-After."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from collector.dead_letters import DeadLetters
from collector.errors import RejectedWriteError, RetryableWriteError
from collector.influx_sink import V1Sink, V2Sink, parse_retry_after
from collector.pipeline import Pipeline
from collector.quarantine import Quarantine
from collector.registry import Registry
from collector.spool import Spool
from louyu.testing.services import free_port


class FakeInflux(ThreadingHTTPServer):
    """Answers each write with the next scripted (status, headers, body), then 204."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.writes: list[tuple[float, bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: FakeInflux

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.startswith("/query"):
            status, headers, answer = 200, {}, b'{"results":[{}]}'
        else:
            self.server.writes.append((time.monotonic(), body))
            status, headers, answer = self.server.script.pop(0) if self.server.script else (204, {}, b"")
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[FakeInflux]:
    server = FakeInflux()
    thread = threading.Thread(target=server.serve_forever, name="fake-influx")
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


LINE = b"parking_space,building=a,device=b occupied=true 1795000000000\n"


def test_v1_answers_are_classified(fake: FakeInflux) -> None:
    sink = V1Sink(fake.url, "louyu")
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    fake.script = [
        (429, {"Retry-After": "7"}, b'{"error":"too many requests"}'),
        (503, {"Retry-After": later}, b'{"error":"overloaded"}'),
        (500, {}, b'{"error":"timeout"}'),
        (404, {}, b'{"error":"database not found: \\"louyu\\""}'),
        (401, {}, b'{"error":"authorization failed"}'),
        (400, {}, b'{"error":"partial write: field type conflict"}'),
        (204, {}, b""),
    ]
    with pytest.raises(RetryableWriteError) as too_many:
        sink.write(LINE)
    assert too_many.value.retry_after == 7.0
    with pytest.raises(RetryableWriteError) as overloaded:
        sink.write(LINE)
    assert overloaded.value.retry_after is not None and 25 < overloaded.value.retry_after <= 30
    for _ in range(3):  # 500, 404 and 401 keep the data for later
        with pytest.raises(RetryableWriteError):
            sink.write(LINE)
    with pytest.raises(RejectedWriteError, match="field type conflict"):
        sink.write(LINE)
    sink.write(LINE)
    assert len(fake.writes) == 7
    sink.close()


def test_v2_answers_are_classified(fake: FakeInflux) -> None:
    sink = V2Sink(fake.url, "louyu", "org", "token", create_bucket=False)
    fake.script = [
        (429, {"Retry-After": "3"}, b'{"code":"too many requests"}'),
        (400, {}, b'{"code":"invalid","message":"unable to parse"}'),
    ]
    with pytest.raises(RetryableWriteError) as too_many:
        sink.write(LINE)
    assert too_many.value.retry_after == 3.0
    with pytest.raises(RejectedWriteError):
        sink.write(LINE)
    sink.write(LINE)
    sink.close()


def test_refused_connection_is_retryable() -> None:
    sink = V1Sink(f"http://127.0.0.1:{free_port()}", "louyu", timeout=2)
    with pytest.raises(RetryableWriteError):
        sink.write(LINE)
    sink.close()


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(email.utils.formatdate(1000.0 + 60, usegmt=True), now=1000.0) == 60.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_pipeline_waits_as_long_as_retry_after_says(fake: FakeInflux, tmp_path: Path) -> None:
    fake.script = [(429, {"Retry-After": "2"}, b"{}")]
    acks: list[int] = []
    pipeline = Pipeline(
        sink=V1Sink(fake.url, "louyu"),
        spool=Spool(tmp_path / "s.db"),
        dead_letters=DeadLetters(tmp_path / "d.db"),
        quarantine=Quarantine(tmp_path / "d.db"),
        registry=Registry.load(),
        acker=lambda mids, qos: acks.extend(mids),
        batch_interval_s=0.05,
    )
    pipeline.start()
    try:
        pipeline.handle("louyu/darong-a/parking_space/b1-001", b'{"occupied": true}', mid=1, qos=1)
        assert pipeline.flush()
        assert acks == [1], "acknowledged once spooled"
        deadline = time.monotonic() + 10
        while pipeline.spool.points and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pipeline.spool.points == 0
        (refused_at, _), (drained_at, body) = fake.writes
        assert drained_at - refused_at >= 2.0, "not retried before Retry-After"
        assert body.startswith(
            b"parking_space,building=darong-a,device=b1-001,floor=B1,zone=garage occupied=true"
        )
    finally:
        pipeline.stop()
        pipeline.spool.close()
        pipeline.dead_letters.close()
    assert pipeline.quarantine is not None
    pipeline.quarantine.close()
