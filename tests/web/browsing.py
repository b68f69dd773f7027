"""Helpers of the browser tests: a sensor publishing on the real broker, signing in, waiting for
the API to see a reading, accessibility checks (axe-core and our own), screenshots."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import Any

import httpx
from playwright.sync_api import Page, ViewportSize, expect

from api.roles import Role
from louyu.testing.services import Mosquitto
from tests.web.a11y import axe_violations, low_contrast, unlabelled_inputs
from tests.web.conftest import ARTIFACTS, WebApi

WALL: ViewportSize = {"width": 1920, "height": 1080}
DESKTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
SIZES: dict[str, ViewportSize] = {"wall": WALL, "desktop": DESKTOP, "phone": PHONE}
SCREENS = ARTIFACTS / "screens"


def publish(broker: Mosquitto, topic: str, payload: dict[str, Any]) -> None:
    """A real MQTT client, as a sensor gateway would be."""
    binary = shutil.which("mosquitto_pub")
    assert binary, "mosquitto-clients is not installed"
    subprocess.run(
        [
            binary,
            "-h",
            "127.0.0.1",
            "-p",
            str(broker.port),
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            json.dumps(payload),
        ],
        check=True,
        timeout=10,
    )


def sign_in(page: Page, web: WebApi, role: Role, lang: str = "zh", path: str = "") -> None:
    page.goto(f"{web.url}/dashboard?lang={lang}{path}")
    page.locator("#token").fill(web.token[role])
    page.locator("#signin-form button[type=submit]").click()
    expect(page.locator("#live")).to_have_attribute("data-state", "connected", timeout=10_000)


def wait_for_device(web: WebApi, building: str, kind: str, device: str, timeout: float = 10.0) -> None:
    """The API's MQTT feed has taken the reading in."""
    deadline = time.monotonic() + timeout
    with httpx.Client(
        base_url=web.url, headers={"Authorization": f"Bearer {web.token[Role.VIEWER]}"}
    ) as client:
        while time.monotonic() < deadline:
            body = client.get(f"/api/v1/devices/{building}/{kind}/{device}").json()
            if body.get("reading"):
                return
            time.sleep(0.1)
    raise AssertionError(f"{building}/{kind}/{device} never reached the API")


def check_accessibility(page: Page, where: str) -> None:
    assert unlabelled_inputs(page) == [], f"{where}: inputs without a label"
    assert low_contrast(page) == [], f"{where}: text below WCAG AA contrast"
    assert axe_violations(page) == [], f"{where}: axe-core (WCAG 2.1 AA) violations above minor"


def screenshot(page: Page, name: str, full_page: bool = False) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=full_page)
