"""The apprise channel against a real local endpoint (apprise's `json://` notification)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rules.notify.channels import Outgoing
from rules.notify.channels.apprise import AppriseChannel, load_urls
from rules.notify.config import parse_routing
from rules.notify.errors import DeliveryError, SecretMissingError
from tests.notify.helpers import HttpReceiver

NOW = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)
MESSAGE = Outgoing("evt-5-duty-chat", "duty-chat", "[紧急告警] 大荣中心 B 座", "立即前往 AED 柜", 1)


def endpoint(receiver: HttpReceiver) -> str:
    return receiver.url.replace("http://", "json://")


def test_sends_title_and_body(http_receiver: HttpReceiver) -> None:
    channel = AppriseChannel([endpoint(http_receiver)])
    try:
        channel.send(MESSAGE, NOW)
    finally:
        channel.close()
    (request,) = http_receiver.requests
    body = json.loads(request.body)
    assert body["title"] == MESSAGE.title and body["message"] == MESSAGE.payload


def test_a_failing_endpoint_is_retryable() -> None:
    receiver = HttpReceiver(respond=lambda n: 502)
    channel = AppriseChannel([endpoint(receiver)])
    try:
        with pytest.raises(DeliveryError) as caught:
            channel.send(MESSAGE, NOW)
        assert caught.value.retryable
    finally:
        channel.close()
        receiver.close()


def test_urls_come_from_the_environment_never_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_routing("receivers: [{name: duty-chat, apprise: {urls_env: LOUYU_TEST_APPRISE}}]")
    spec = config.receivers[0].apprise
    assert spec is not None
    with pytest.raises(SecretMissingError):
        load_urls("duty-chat", spec)
    monkeypatch.setenv("LOUYU_TEST_APPRISE", "json://127.0.0.1:9/a, json://127.0.0.1:9/b")
    assert load_urls("duty-chat", spec) == ["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"]
