"""Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one secret per endpoint.

The secret is the standard's `whsec_<base64>` form. It comes from the environment or a file named in
the routing file, never from the routing file itself.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from rules.notify.config import SecretRef
from rules.notify.errors import SecretMissingError

SECRET_PREFIX = "whsec_"  # noqa: S105 (the standard's prefix, not a secret)


def check_secret(secret: str) -> str:
    """Refuse a secret that is not base64 of at least 16 bytes (the standard's recommendation is 24-64)."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("a webhook secret is `whsec_` followed by base64") from error
    if len(key) < 16:
        raise ValueError("a webhook secret must hold at least 16 bytes")
    return secret


def load_secret(receiver: str, ref: SecretRef) -> str:
    """Read a receiver's signing secret from the environment variable or file the routing file names."""
    if ref.secret_env is not None:
        value = os.environ.get(ref.secret_env, "").strip()
        source = f"environment variable {ref.secret_env}"
    else:
        assert ref.secret_file is not None
        source = f"file {ref.secret_file}"
        try:
            value = Path(ref.secret_file).read_text("utf-8").strip()
        except OSError:
            value = ""
    if not value:
        raise SecretMissingError(receiver, source)
    try:
        return check_secret(value)
    except ValueError as error:
        raise SecretMissingError(receiver, f"{source} ({error})") from error


class Signer:
    """Signs request bodies for one endpoint."""

    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(check_secret(secret))

    def headers(self, msg_id: str, body: bytes, now: dt.datetime) -> dict[str, str]:
        stamp = now.astimezone(dt.UTC)
        signature: str = self._webhook.sign(msg_id, stamp, body.decode("utf-8"))
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(stamp.timestamp())),
            "webhook-signature": signature,
        }
