"""E-mail, DingTalk, WeCom, Feishu and the rest through apprise URLs. Apprise reports only success or
failure, so every failure is treated as retryable."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import warnings
from pathlib import Path
from typing import Any

import apprise

# apprise's PGP support imports the standard library's `imghdr` (deprecated since 3.11) on first use,
# which would warn from inside the first notification; import it here once, quietly.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
    import imghdr  # noqa: F401

from rules.notify.channels import Outgoing
from rules.notify.config import AppriseChannel as AppriseSpec
from rules.notify.errors import DeliveryError, SecretMissingError


def load_urls(receiver: str, spec: AppriseSpec) -> list[str]:
    """The receiver's apprise URLs (they hold tokens), one per line, from the environment or a file."""
    if spec.urls_env is not None:
        text, source = os.environ.get(spec.urls_env, ""), f"environment variable {spec.urls_env}"
    else:
        assert spec.urls_file is not None
        source = f"file {spec.urls_file}"
        try:
            text = Path(spec.urls_file).read_text("utf-8")
        except OSError:
            text = ""
    urls = [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]
    if not urls:
        raise SecretMissingError(receiver, source)
    return urls


class AppriseChannel:
    def __init__(self, urls: list[str]) -> None:
        # One plugin per URL, called in the notifier's own send thread: apprise's `Apprise.notify`
        # would hand the work to a process-wide pool of its own, out of our control at stop().
        self.services: list[Any] = []
        for url in urls:
            service = apprise.Apprise.instantiate(url, asset=apprise.AppriseAsset(async_mode=False))
            if service is None:
                # Never echo the URL: it carries the token.
                raise ValueError("an apprise URL was not understood")
            self.services.append(service)

    def send(self, message: Outgoing, now: dt.datetime) -> None:
        # Every URL is tried; one failure fails the delivery, and the retry sends to all again
        # (the receivers see a repeat, never a gap).
        results = [
            bool(service.notify(body=message.payload, title=message.title)) for service in self.services
        ]
        if not all(results):
            failed = results.count(False)
            raise DeliveryError(f"apprise: {failed} of {len(results)} notifications failed", retryable=True)

    def close(self) -> None:
        self.services.clear()
