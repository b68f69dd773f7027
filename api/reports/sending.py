"""Sending a kept report to one receiver its schedule names, over the routing file's channels:
apprise (e-mail and the rest) with the PDF attached, or a webhook with a signed JSON message
holding the links (through the notifier's webhook channel: the same signing, the same word on
which failures are worth another try). Receivers' secrets come from where the routing file says
(env or file), as for alerts.

One call is one attempt. A failure is recorded with the report and tried again later, to that
receiver only, on the schedule entry's `retry` delays (api/reports/retries.py keeps the count,
api/reports/schedule.py runs the retries); a refusal that repeating cannot change (a webhook's
4xx other than 408, 425, 429) is given up at once. The report stays downloadable either way."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apprise
import httpx

from api.reports.archive import KeptReport
from rules.notify.channels import Outgoing
from rules.notify.channels.apprise import load_urls
from rules.notify.channels.webhook import WebhookChannel
from rules.notify.config import Receiver
from rules.notify.errors import DeliveryError
from rules.notify.signing import Signer, load_secret

TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try to send one report to one receiver."""

    receiver: str
    channel: str  # apprise or webhook (as the metrics name it)
    ok: bool
    error: str | None
    # Worth another try: False only when the receiver refused the message itself.
    retryable: bool


def links(report: KeptReport, link_base: str | None) -> dict[str, str]:
    base = (link_base or "").rstrip("/")
    return {name: f"{base}/api/v1/reports/{report.id}/{name}" for name in report.files}


def message(report: KeptReport, title: str, link_base: str | None) -> dict[str, Any]:
    return {
        "type": "louyu.report",
        "id": report.id,
        "kind": report.kind,
        "title": title,
        "period": {
            "kind": report.period_kind,
            "start": report.period_start.isoformat(),
            "end": report.period_end.isoformat(),
        },
        "building": report.building,
        "lang": report.lang,
        "files": links(report, link_base),
    }


def send(
    receiver: Receiver,
    report: KeptReport,
    title: str,
    pdf: Path | None,
    link_base: str | None,
    now: dt.datetime,
    attempt: int = 1,
) -> Attempt:
    """Send to one receiver, once; what happened, for the record (never raises)."""
    channel = "apprise" if receiver.apprise is not None else "webhook"
    try:
        body = message(report, title, link_base)
        if receiver.apprise is not None:
            text = "\n".join([title, *(f"{name}: {url}" for name, url in body["files"].items())])
            for url in load_urls(receiver.name, receiver.apprise):
                # One plugin, called on this thread (`Apprise.notify` would use a pool of its own).
                service = apprise.Apprise.instantiate(url, asset=apprise.AppriseAsset(async_mode=False))
                if service is None:
                    raise ValueError("an apprise URL was not understood")  # never echo it: it holds a token
                attach = apprise.AppriseAttachment(str(pdf)) if pdf is not None else None
                if not service.notify(body=text, title=title, attach=attach):
                    raise DeliveryError("apprise: the notification failed", retryable=True)
        elif receiver.webhook is not None:
            spec = receiver.webhook
            signer = Signer(load_secret(receiver.name, spec))
            with httpx.Client() as client:
                hook = WebhookChannel(client, spec.url, signer, headers=spec.headers, timeout_s=TIMEOUT_S)
                # The same id on every try (Standard Webhooks): a receiver may drop a repeat by it.
                hook.send(
                    Outgoing(
                        id=f"report-{report.id}-{receiver.name}", receiver=receiver.name, title=title,
                        payload=json.dumps(body, ensure_ascii=False), attempt=attempt,
                    ),
                    now,
                )  # fmt: skip
        else:
            raise ValueError(f"receiver {receiver.name} is neither apprise nor webhook")
    except DeliveryError as error:
        # "HTTP 503: " when the receiver answered no text: the words end with the status.
        return Attempt(receiver.name, channel, False, str(error)[:300].rstrip(": "), error.retryable)
    except Exception as error:  # noqa: BLE001 (recorded with the report; the next receiver is still sent to)
        # A missing secret or an unreadable file: an operator may mend it before the next try.
        return Attempt(receiver.name, channel, False, f"{type(error).__name__}: {str(error)[:200]}", True)
    return Attempt(receiver.name, channel, True, None, False)
