"""A city NGSI-LD context broker: batch upsert (ETSI GS CIM 009, `POST
/ngsi-ld/v1/entityOperations/upsert`), the @context in a `Link` header or inline, the tenant in
`NGSILD-Tenant`, an optional bearer token.

Answers: 201 (some created) and 204 (all updated) deliver the batch. 207 (some entities refused)
delivers it too: the refused entities are forgotten by the push's hashes, so the next round sends
them again, and logged. Retryable like a webhook: connection errors, timeouts, 408, 425, 429, 5xx.
Requests are spaced at least 1/`rate` seconds apart (a receiver's deliveries go one at a time, so
this is the receiver's request rate).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import structlog

from rules.notify.channels import Outgoing
from rules.notify.channels.webhook import RETRYABLE_STATUS
from rules.notify.config import NgsiLdChannel as NgsiLdSpec
from rules.notify.errors import DeliveryError, SecretMissingError
from rules.notify.ngsi_push import EntityHashes, entity_ids

log = structlog.get_logger("louyu.notify")

JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
TENANT_HEADER = "NGSILD-Tenant"


def load_token(receiver: str, spec: NgsiLdSpec) -> Callable[[], str | None]:
    """The bearer token, if any: from the environment (read once) or a file (read on every request,
    so that a token rotated on disk is picked up). Missing at start-up stops the start."""
    if spec.token_env is not None:
        token = os.environ.get(spec.token_env, "").strip()
        if not token:
            raise SecretMissingError(receiver, f"environment variable {spec.token_env}")
        return lambda: token
    if spec.token_file is not None:
        path = Path(spec.token_file)

        def read() -> str | None:
            try:
                return path.read_text("utf-8").strip() or None
            except OSError:
                return None

        if read() is None:
            raise SecretMissingError(receiver, f"file {path}")
        return read
    return lambda: None


class NgsiLdChannel:
    def __init__(
        self,
        client: httpx.Client,
        spec: NgsiLdSpec,
        hashes: EntityHashes,
        token: Callable[[], str | None],
        timeout_s: float = 10.0,
    ) -> None:
        self.client = client
        self.spec = spec
        self.hashes = hashes
        self.token = token
        self.timeout_s = timeout_s
        self._interval = 1.0 / spec.rate
        self._next_slot = 0.0
        self._slot_lock = threading.Lock()

    def headers(self) -> dict[str, str]:
        headers = {"user-agent": "louyu-notifier", "accept": "application/json"}
        if self.spec.inline_context:
            headers["content-type"] = "application/ld+json"
        else:
            headers["content-type"] = "application/json"
            headers["link"] = f'<{self.spec.context}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'
        if self.spec.tenant is not None:
            headers[TENANT_HEADER] = self.spec.tenant
        token = self.token()
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return headers

    def _wait_for_slot(self) -> None:
        with self._slot_lock:
            now = time.monotonic()
            start = max(now, self._next_slot)
            self._next_slot = start + self._interval
        if start > now:
            time.sleep(start - now)

    def send(self, message: Outgoing, now: dt.datetime) -> None:
        self._wait_for_slot()
        try:
            response = self.client.post(
                self.spec.upsert_url,
                content=message.payload.encode("utf-8"),
                headers=self.headers(),
                timeout=self.timeout_s,
            )
        except httpx.TimeoutException as error:
            raise DeliveryError(f"timed out after {self.timeout_s:.0f} s", retryable=True) from error
        except httpx.HTTPError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}", retryable=True) from error
        status = response.status_code
        if status == 207:
            self._partial(message, response)
            return
        if 200 <= status < 300:
            return
        retryable = status >= 500 or status in RETRYABLE_STATUS
        raise DeliveryError(f"HTTP {status}: {response.text[:200]}", retryable=retryable, status=status)

    def _partial(self, message: Outgoing, response: httpx.Response) -> None:
        """207: the BatchOperationResult's `errors` name the entities the broker refused."""
        try:
            result: Any = orjson.loads(response.content)
            refused = [str(e["entityId"]) for e in result.get("errors", [])]
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
            refused = []
        if not refused:  # a 207 we cannot read: send the whole batch again next round
            refused = entity_ids(message.payload)
        self.hashes.forget(refused)
        log.warning(
            "context broker refused some entities; they go again next round",
            delivery=message.id,
            refused=len(refused),
            first=refused[0][:200],
        )

    def close(self) -> None:
        """The HTTP client belongs to the service."""
