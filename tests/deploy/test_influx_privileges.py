"""InfluxDB 1.x with `auth-enabled = true` and the users of deploy/influxdb/users-v1.sh.

A real influxd 1.6 (louyu/testing/services.py, `auth_enabled=True`) gets an administrator, then the
script makes the database, a write-only user for the collector and a read-only one for the API and
Grafana. The tests show what each may do, against influxd itself, and that louyu's collector (its
InfluxDB sink as `louyu collector` builds it from LOUYU_INFLUX_USERNAME/PASSWORD) and the history
API (as `louyu api` builds its client) work with those users (docs/influxdb.md).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from api.roles import Role
from collector.influx_sink import V1Sink
from collector.line_protocol import encode, tag_set
from collector.models import Reading
from collector.parsing import parse
from collector.registry import Registry
from louyu.commands.api import influx_client
from louyu.commands.collector import influx_target
from louyu.settings import Settings
from louyu.testing.services import Influxd, ServiceError
from tests.api.conftest import Api, start_api  # noqa: F401  (start_api: a fixture used below)
from tests.deploy.shipped_broker import DEPLOY

pytestmark = pytest.mark.integration

SCRIPT = DEPLOY / "influxdb" / "users-v1.sh"
DB = "louyu"
WRITER = "louyu_collector"
READER = "louyu_reader"
# Half an hour ago, on a whole 10 minutes, so that the history's 5-minute windows hold 5 readings.
_AGO = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
NOW = _AGO.replace(minute=_AGO.minute // 10 * 10, second=0, microsecond=0)
NOW_MS = int(NOW.timestamp() * 1000)


@dataclass
class SecuredInflux:
    server: Influxd
    passwords: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def query(self, user: str | None, statement: str) -> httpx.Response:
        auth = (user, self.passwords[user]) if user else None
        return httpx.post(f"{self.url}/query", data={"q": statement, "db": DB}, auth=auth, timeout=10)

    def write(self, user: str | None, lines: str) -> httpx.Response:
        auth = (user, self.passwords[user]) if user else None
        params = {"db": DB, "precision": "ms"}
        return httpx.post(f"{self.url}/write", params=params, content=lines, auth=auth, timeout=10)

    def allowed(self, user: str | None, statement: str) -> bool:
        response = self.query(user, statement)
        body: dict[str, Any] = response.json() if response.content else {}
        if response.status_code != 200 or "error" in body:
            return False
        return not any("error" in result for result in body.get("results", []))


def run_script(url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), url],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[SecuredInflux]:
    try:
        server = Influxd(tmp_path / "influxd", auth_enabled=True)
    except ServiceError as exc:  # not installed: `make sysdeps` installs it
        pytest.skip(str(exc))
    server.start()
    try:
        # passwords with the characters an InfluxQL string must escape
        passwords = {
            "admin": secrets.token_hex(8) + "'\\\"",
            WRITER: secrets.token_hex(12) + "'q",
            READER: "r\\" + secrets.token_hex(12),
        }
        server.create_admin("admin", passwords["admin"])
        env = {
            "INFLUX_ADMIN_USER": "admin",
            "INFLUX_ADMIN_PASSWORD": passwords["admin"],
            "LOUYU_COLLECTOR_INFLUX_PASSWORD": passwords[WRITER],
            "LOUYU_READER_INFLUX_PASSWORD": passwords[READER],
        }
        result = run_script(server.url, env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [f"user {WRITER}: WRITE on {DB}", f"user {READER}: READ on {DB}"]
        # the passwords went to curl through files, and nothing printed them
        for password in passwords.values():
            assert password not in result.stdout + result.stderr
        yield SecuredInflux(server, passwords)
    finally:
        server.kill()


LINE = f"parking_lot,building=darong-a,device=garage occupied=401i,capacity=600i {NOW_MS}\n"


def test_nobody_without_an_account(secured: SecuredInflux) -> None:
    assert secured.write(None, LINE).status_code == 401
    assert secured.query(None, "SHOW MEASUREMENTS").status_code == 401


def test_the_collectors_user_writes_and_cannot_read_or_drop(secured: SecuredInflux) -> None:
    assert secured.write(WRITER, LINE).status_code == 204
    assert secured.allowed("admin", 'SELECT * FROM "parking_lot"')
    for statement in (
        'SELECT * FROM "parking_lot"',
        "SHOW MEASUREMENTS",
        'DROP MEASUREMENT "parking_lot"',
        f'DROP DATABASE "{DB}"',
        'CREATE DATABASE "other"',
        "SHOW USERS",
    ):
        assert not secured.allowed(WRITER, statement), statement


def test_the_readers_user_reads_and_cannot_write_drop_or_delete(secured: SecuredInflux) -> None:
    assert secured.write("admin", LINE).status_code == 204
    assert secured.allowed(READER, 'SELECT * FROM "parking_lot"')
    assert secured.allowed(READER, "SHOW MEASUREMENTS")
    assert secured.write(READER, LINE.replace("401i", "0i")).status_code == 403
    for statement in (
        'DROP MEASUREMENT "parking_lot"',
        'DELETE FROM "parking_lot"',
        'DROP SERIES FROM "parking_lot"',
        f'DROP DATABASE "{DB}"',
        f'CREATE RETENTION POLICY "short" ON "{DB}" DURATION 1h REPLICATION 1',
        "CREATE USER \"mallory\" WITH PASSWORD 'x' WITH ALL PRIVILEGES",
        f'GRANT ALL ON "{DB}" TO "{READER}"',
        f'SELECT * INTO "{DB}".."copy" FROM "parking_lot"',
    ):
        assert not secured.allowed(READER, statement), statement
    # and all of that changed nothing
    body = secured.query("admin", 'SELECT "occupied" FROM "parking_lot"').json()
    assert body["results"][0]["series"][0]["values"] == [[NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), 401]]
    assert not secured.allowed("admin", 'SELECT * FROM "copy"') or not secured.query(
        "admin", 'SELECT * FROM "copy"'
    ).json()["results"][0].get("series")


def test_running_the_script_again_changes_the_passwords(secured: SecuredInflux) -> None:
    new = {WRITER: secrets.token_hex(12), READER: secrets.token_hex(12)}
    result = run_script(
        secured.url,
        {
            "INFLUX_ADMIN_USER": "admin",
            "INFLUX_ADMIN_PASSWORD": secured.passwords["admin"],
            "LOUYU_COLLECTOR_INFLUX_PASSWORD": new[WRITER],
            "LOUYU_READER_INFLUX_PASSWORD": new[READER],
        },
    )
    assert result.returncode == 0, result.stderr
    assert secured.write(WRITER, LINE).status_code == 401
    secured.passwords.update(new)
    assert secured.write(WRITER, LINE).status_code == 204
    assert secured.allowed(READER, 'SELECT * FROM "parking_lot"')
    assert not secured.allowed(WRITER, 'SELECT * FROM "parking_lot"')


def test_the_script_refuses_a_wrong_administrator(secured: SecuredInflux) -> None:
    result = run_script(
        secured.url,
        {
            "INFLUX_ADMIN_USER": "admin",
            "INFLUX_ADMIN_PASSWORD": "wrong",
            "LOUYU_COLLECTOR_INFLUX_PASSWORD": "a",
            "LOUYU_READER_INFLUX_PASSWORD": "b",
        },
    )
    assert result.returncode != 0


def settings_for(secured: SecuredInflux, user: str) -> Settings:
    return Settings(
        influx_url=secured.url,
        influx_api="v1",
        influx_db=DB,
        influx_username=user,
        influx_password=secured.passwords[user],
    )


def test_louyu_collector_and_history_api_work_with_their_users(
    secured: SecuredInflux,
    start_api: Callable[..., Api],  # noqa: F811  (the fixture imported above)
    registry: Registry,
) -> None:
    # The collector's sink, as `louyu collector` builds it, writes readings as the collector does.
    sink = influx_target(settings_for(secured, WRITER)).make_sink()
    body = b""
    for minute in range(10):
        topic = "louyu/darong-a/parking_lot/garage"
        payload = f'{{"occupied": {400 + minute}, "capacity": 600, "ts": {NOW_MS + minute * 60_000}}}'
        reading = parse(topic, payload.encode(), NOW_MS + 10 * 60_000)
        assert isinstance(reading, Reading), reading
        body += encode(
            reading,
            tag_set(
                reading.building,
                reading.device,
                registry.tags(reading.building, reading.kind, reading.device),
            ),
        )
    try:
        sink.write(body)
    finally:
        sink.close()
    # The history API, with the client `louyu api` builds, reads them back as the reader.
    api = start_api(history=influx_client(settings_for(secured, READER)))
    url = "/api/v1/devices/darong-a/parking_lot/garage/history"
    params = {
        "field": "occupied",
        "start": NOW.isoformat(),
        "end": (NOW + dt.timedelta(minutes=10)).isoformat(),
        "every": "5m",
        "agg": "max",
    }
    with api.client(Role.VIEWER) as client:
        response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    assert [p["v"] for p in response.json()["points"]] == [404, 409]


def test_the_collectors_user_is_refused_create_database_once_then_only_writes(secured: SecuredInflux) -> None:
    # The write-only user may not create the database (the script made it). The sink asks once,
    # takes the refusal, and from then on sends only its writes.
    sink = influx_target(settings_for(secured, WRITER)).make_sink()
    assert isinstance(sink, V1Sink)
    requests: list[str] = []
    sink._client.event_hooks["request"].append(lambda request: requests.append(request.url.path))
    try:
        with capture_logs() as logs:
            for minute in range(3):
                sink.write(
                    f"parking_lot,building=darong-a,device=garage occupied={400 + minute}i "
                    f"{NOW_MS + minute * 60_000}\n".encode()
                )
    finally:
        sink.close()
    assert requests == ["/query", "/write", "/write", "/write"]
    refusals = [e for e in logs if "may not create databases" in e["event"]]
    assert len(refusals) == 1 and refusals[0]["status"] == 403
    response = secured.query("admin", 'SELECT COUNT("occupied") FROM "parking_lot"')
    assert response.json()["results"][0]["series"][0]["values"][0][1] == 3
