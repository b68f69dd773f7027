"""Writing line protocol to InfluxDB: the v1 API (`/write`, InfluxDB 1.x) and the v2 API
(`/api/v2/write` through influxdb-client, InfluxDB 2.x and 3.x).

A sink raises `RetryableWriteError` for what may work later (connection refused, timeouts, 429,
5xx, honouring Retry-After) and `RejectedWriteError` for what never will (400-class); the
pipeline decides what to do with each.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, Protocol

import httpx
import structlog

from collector.errors import RejectedWriteError, RetryableWriteError

log = structlog.get_logger("louyu.collector")


class Sink(Protocol):
    def write(self, body: bytes) -> None:
        """Write newline-separated lines with millisecond timestamps."""

    def ping(self) -> bool:
        """True when the database answers."""

    def close(self) -> None: ...


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After in seconds, from delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _classify(status: int, body: str, retry_after: str | None) -> None:
    if 200 <= status < 300:
        return
    if status == 429 or status >= 500:
        raise RetryableWriteError(f"HTTP {status}: {body[:200]}", parse_retry_after(retry_after))
    if status in (401, 403):
        # Credentials can be fixed without losing data: keep it spooled.
        raise RetryableWriteError(f"HTTP {status}: not authorised: {body[:200]}")
    if status == 404:
        # database or bucket missing: the pipeline may create it, then retry.
        raise RetryableWriteError(f"HTTP 404: {body[:200]}")
    raise RejectedWriteError(status, body)


class V1Sink:
    """InfluxDB 1.x HTTP API. Creates the database when it is missing."""

    def __init__(
        self,
        url: str,
        database: str,
        username: str | None = None,
        password: str | None = None,
        retention_policy: str | None = None,
        timeout: float = 10.0,
        create_database: bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        auth = (username, password or "") if username else None
        self._client = httpx.Client(base_url=self.url, timeout=timeout, auth=auth)
        self._create_database = create_database
        self._database_ready = False

    def _ensure_database(self) -> None:
        if self._database_ready or not self._create_database:
            return
        name = self.database.replace("\\", "\\\\").replace('"', '\\"')
        try:
            response = self._client.post("/query", data={"q": f'CREATE DATABASE "{name}"'})
        except httpx.HTTPError as error:
            raise RetryableWriteError(f"{type(error).__name__}: {error}") from error
        if response.status_code in (401, 403):
            # A write-only user (docs/influxdb.md) may not create databases; its administrator
            # made this one. Asking again before every batch would only repeat the refusal.
            self._create_database = False
            log.info(
                "InfluxDB user may not create databases; writing to the existing one",
                database=self.database,
                status=response.status_code,
            )
            return
        if response.status_code == 200:
            self._database_ready = True
        # Otherwise the write below reports what is wrong, and the next batch asks again.

    def write(self, body: bytes) -> None:
        self._ensure_database()
        params = {"db": self.database, "precision": "ms"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        try:
            response = self._client.post("/write", params=params, content=body)
        except httpx.HTTPError as error:
            raise RetryableWriteError(f"{type(error).__name__}: {error}") from error
        if response.status_code == 404:
            self._database_ready = False
        _classify(response.status_code, response.text, response.headers.get("Retry-After"))

    def ping(self) -> bool:
        try:
            return self._client.get("/ping", timeout=2.0).status_code in (200, 204)
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._client.close()


class V2Sink:
    """InfluxDB 2.x / 3.x through influxdb-client's synchronous write API.

    Synchronous, not the client's batching mode: the pipeline batches itself and must know that a
    batch is stored before it acknowledges the messages (the client's `flush()` does not drain).
    """

    def __init__(
        self,
        url: str,
        bucket: str,
        org: str | None,
        token: str | None,
        timeout: float = 10.0,
        create_bucket: bool = True,
    ) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.url = url.rstrip("/")
        self.bucket = bucket
        self.org = org or "-"
        self._client = InfluxDBClient(
            url=self.url, token=token or "", org=self.org, timeout=int(timeout * 1000), retries=0
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._create_bucket = create_bucket
        self._bucket_checked = False

    def _ensure_bucket(self) -> None:
        """Create the bucket when missing, where the server has the buckets API (2.x)."""
        if self._bucket_checked or not self._create_bucket:
            return
        self._bucket_checked = True
        try:
            api = self._client.buckets_api()
            if api.find_bucket_by_name(self.bucket) is None:  # type: ignore[no-untyped-call]
                api.create_bucket(bucket_name=self.bucket, org=self.org)
        except Exception:  # noqa: BLE001 - 3.x and compatible servers have no buckets API; writing tells.
            return

    def write(self, body: bytes) -> None:
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        self._ensure_bucket()
        try:
            precision: Any = WritePrecision.MS
            self._write_api.write(bucket=self.bucket, org=self.org, record=body, write_precision=precision)
        except ApiException as error:
            headers: Any = error.headers or {}
            _classify(int(error.status or 0), str(error.body or error.reason), headers.get("Retry-After"))
            raise RetryableWriteError(f"HTTP {error.status}") from error
        except (Urllib3Error, OSError) as error:
            raise RetryableWriteError(f"{type(error).__name__}: {error}") from error

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except Exception:  # noqa: BLE001 - any failure means "not answering"
            return False

    def close(self) -> None:
        self._write_api.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]
