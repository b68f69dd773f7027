"""gzip on the real app over real HTTP (uvicorn): the API's JSON and the pages compressed when the
client accepts it; the live event stream never compressed nor held back; the static files
compressed once, with their validators; /metrics and the report downloads."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable

import httpx
import paho.mqtt.publish as mqtt_publish

from api.config import ApiConfig
from api.roles import Role
from api.web.routes import STATIC_DIR
from collector.broker import BrokerTarget
from louyu.testing.services import Mosquitto
from rules.publisher import event_payload
from tests.api.conftest import Api
from tests.api.sse import take

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


def _raw(client: httpx.Client, path: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    """The answer and its body as it came over the wire (not decoded by httpx)."""
    with client.stream("GET", path, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def test_a_large_alert_list_comes_gzipped_and_decodes_to_the_same_json(api: Api) -> None:
    for n in range(200):
        api.raise_alert(device=f"aed-{n:03d}")
    path = "/api/v1/alerts?severity=critical&limit=200"
    with api.client(Role.VIEWER) as client:
        zipped, wire = _raw(client, path, GZIP)
        plain, body = _raw(client, path, IDENTITY)
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) == len(wire)
    assert "accept-encoding" in zipped.headers["vary"].lower()
    assert "content-encoding" not in plain.headers
    assert "accept-encoding" in plain.headers["vary"].lower()
    assert gzip.decompress(wire) == body
    assert len(body) > 50_000, "the list is the large answer the dashboard loads"
    assert len(wire) < len(body) / 4
    # The API's own headers are still on the compressed answer.
    assert zipped.headers["cache-control"] == "no-store"
    assert zipped.headers["x-content-type-options"] == "nosniff"


def test_a_small_answer_is_left_alone(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=10) as client:
        response, body = _raw(client, "/healthz", GZIP)
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert body.startswith(b"{")


def test_the_pages_come_gzipped(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=10) as client:
        response, wire = _raw(client, "/dashboard", GZIP)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-encoding"] == "gzip"
    assert b"<html" in gzip.decompress(wire)


def test_the_event_stream_is_not_compressed_and_an_event_arrives_at_once(
    start_api: Callable[..., Api], mosquitto: Mosquitto
) -> None:
    """With `Accept-Encoding: gzip`, as every browser sends it: the stream goes out as written. A
    compressor holding it back would hold the event until its buffer filled, past the read timeout."""
    api = start_api(
        ApiConfig(mqtt=BrokerTarget("127.0.0.1", mosquitto.port), mqtt_client_id="api-gzip", sse_poll_s=30)
    )
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=api.url) as plain:
        while plain.get("/readyz").json()["checks"]["broker"]["ok"] is not True:
            assert time.monotonic() < deadline, "the API never connected to the broker"
            time.sleep(0.05)
    headers = {"Authorization": f"Bearer {api.token[Role.VIEWER]}", **GZIP}
    with (
        httpx.Client(base_url=api.url, headers=headers, timeout=httpx.Timeout(10, read=2)) as client,
        client.stream("GET", "/api/v1/events") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers
        time.sleep(0.3)  # the stream is parked waiting for news
        event = api.raise_alert(device="aed-gzip")
        started = time.monotonic()
        mqtt_publish.single(
            event.topic, event_payload(event), qos=1, hostname="127.0.0.1", port=mosquitto.port
        )
        (got,) = take(response, 1)
        waited = time.monotonic() - started
    assert got.id == event.id
    assert waited < 1, f"the event took {waited:.2f} s"


def test_static_files_are_compressed_once_and_keep_their_validators(api: Api) -> None:
    path = "/static/web/dashboard.js"
    plain = (STATIC_DIR / "dashboard.js").read_bytes()
    with httpx.Client(base_url=api.url, timeout=10) as client:
        response, wire = _raw(client, path, GZIP)
        assert response.headers["content-encoding"] == "gzip"
        assert gzip.decompress(wire) == plain  # one layer of gzip, not two
        etag = response.headers["etag"]
        again = client.get(path, headers={**GZIP, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert "content-encoding" not in again.headers
        identity, body = _raw(client, path, IDENTITY)
        assert body == plain
        assert identity.headers["etag"] == etag


def test_metrics_negotiation_survives_compression(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=10) as client:
        text, wire = _raw(client, "/metrics", GZIP)
        openmetrics = client.get(
            "/metrics", headers={**GZIP, "Accept": "application/openmetrics-text; version=1.0.0"}
        )
    assert text.headers["content-type"].startswith("text/plain")
    assert text.headers["content-encoding"] == "gzip"
    assert {"accept", "accept-encoding"} <= {v.strip().lower() for v in text.headers["vary"].split(",")}
    assert b"# TYPE" in gzip.decompress(wire)
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")
