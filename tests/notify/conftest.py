from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from collector.registry import Registry
from rules.store import AlertStore
from tests.notify.helpers import SECRET, HttpReceiver


@pytest.fixture
def store(engine: Engine) -> AlertStore:
    return AlertStore(engine)


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.load()


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LOUYU_TEST_HOOK_SECRET", SECRET)
    return "LOUYU_TEST_HOOK_SECRET"
