"""Sending a kept report to the receivers its schedule names, over the routing file's channels:
apprise (e-mail and the rest) with the PDF attached, or a webhook with a signed JSON message
holding the links. Receivers' secrets come from where the routing file says (env or file), as
for alerts; a failure is recorded with the report, never retried (the report stays downloadable)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import apprise
import httpx

from api.reports.archive import KeptReport
from rules.notify.channels.apprise import load_urls
from rules.notify.config import Receiver
from rules.notify.signing import Signer, load_secret

TIMEOUT_S = 20.0


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
) -> dict[str, Any]:
    """Send to one receiver; `{"receiver", "ok", "error"}` for the record."""
    outcome: dict[str, Any] = {"receiver": receiver.name, "ok": False, "error": None}
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
                    raise RuntimeError("apprise: the notification failed")
        elif receiver.webhook is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers = {"content-type": "application/json", **receiver.webhook.headers}
            headers |= Signer(load_secret(receiver.name, receiver.webhook)).headers(
                f"report-{report.id}-{uuid.uuid4().hex[:8]}", data, now
            )
            response = httpx.post(receiver.webhook.url, content=data, headers=headers, timeout=TIMEOUT_S)
            if response.status_code >= 300:
                raise RuntimeError(f"webhook answered {response.status_code}")
        else:
            raise ValueError(f"receiver {receiver.name} is neither apprise nor webhook")
        outcome["ok"] = True
    except Exception as error:  # noqa: BLE001 (recorded with the report; the next receiver is still sent to)
        outcome["error"] = f"{type(error).__name__}: {str(error)[:200]}"
    return outcome
