"""Signed webhooks (Standard Webhooks), also the transport of the city platform's CloudEvents.

Retryable: connection errors, timeouts, 408, 425, 429 and 5xx. Any other 4xx means the receiver
refuses this message (bad signature, unknown path), and sending it again would not change that.
"""

from __future__ import annotations

import datetime as dt

import httpx

from rules.notify.channels import Outgoing
from rules.notify.errors import DeliveryError
from rules.notify.signing import Signer

RETRYABLE_STATUS = frozenset({408, 425, 429})


class WebhookChannel:
    def __init__(
        self,
        client: httpx.Client,
        url: str,
        signer: Signer,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.client = client
        self.url = url
        self.signer = signer
        self.content_type = content_type
        self.extra_headers = dict(headers or {})
        self.timeout_s = timeout_s

    def send(self, message: Outgoing, now: dt.datetime) -> None:
        body = message.payload.encode("utf-8")
        headers = {
            **self.extra_headers,
            "content-type": self.content_type,
            "user-agent": "louyu-notifier",
            **self.signer.headers(message.id, body, now),
        }
        try:
            response = self.client.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
        except httpx.TimeoutException as error:
            raise DeliveryError(f"timed out after {self.timeout_s:.0f} s", retryable=True) from error
        except httpx.HTTPError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}", retryable=True) from error
        status = response.status_code
        if 200 <= status < 300:
            return
        retryable = status >= 500 or status in RETRYABLE_STATUS
        raise DeliveryError(f"HTTP {status}: {response.text[:200]}", retryable=retryable, status=status)

    def close(self) -> None:
        """The HTTP client belongs to the service."""
