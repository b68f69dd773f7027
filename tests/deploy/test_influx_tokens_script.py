"""deploy/influxdb/tokens.sh, the compose file's `influxdb-tokens` step, run against a stand-in
`influx` CLI.

No InfluxDB 2.x runs in the test suite (docs/influxdb.md), so these tests cannot show InfluxDB
enforcing a token's permissions. They show what the script asks for and what it leaves behind: a
write-only token for the collector and a read-only one for the readers, each asked for the bucket
the compose file names, written once to the file louyu reads (`louyu_influx_token`), readable by
the services, kept on the next run, and never printed. The stand-in answers as `influx` 2.7 does:
`bucket list --hide-headers` a tab-separated table with the id first, `auth create --json` an
indented JSON object with the token.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.deploy.shipped_broker import DEPLOY

SCRIPT = DEPLOY / "influxdb" / "tokens.sh"
BUCKET_ID = "0a1b2c3d4e5f6789"
ADMIN_TOKEN = "operator-token-never-printed"

FAKE_INFLUX = """
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_INFLUX_LOG"], "a") as log:
    log.write(json.dumps({"args": args, "token": os.environ.get("INFLUX_TOKEN")}) + "\\n")
if args[:2] == ["bucket", "list"]:
    name = args[args.index("--name") + 1]
    if name == "louyu":
        print("%s\\tlouyu\\t9600h0m0s\\t168h0m0s\\t7a8b9c0d1e2f3a4b\\timplicit" % os.environ["FAKE_BUCKET_ID"])
    sys.exit(0)
if args[:2] == ["auth", "create"]:
    n = sum(1 for _ in open(os.environ["FAKE_INFLUX_LOG"]))
    print(json.dumps({"id": "0%015d" % n, "description": args[args.index("--description") + 1],
                      "token": "tok-%d-AbC+/x==" % n, "status": "active", "userName": "admin",
                      "permissions": ["..."]}, indent=2))
    sys.exit(0)
sys.exit(1)
"""


def run(tmp_path: Path, bucket: str = "louyu") -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "influx"
    fake.write_text(f"#!{sys.executable}\n{FAKE_INFLUX}")
    fake.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "FAKE_INFLUX_LOG": str(tmp_path / "calls.log"),
        "FAKE_BUCKET_ID": BUCKET_ID,
        "INFLUX_HOST": "http://influxdb:8086",
        "INFLUX_TOKEN": ADMIN_TOKEN,
        "INFLUX_ORG": "louyu",
        "LOUYU_INFLUX_DB": bucket,
        "OUT_DIR": str(tmp_path / "tokens"),
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def calls(tmp_path: Path) -> list[list[str]]:
    lines = (tmp_path / "calls.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert all(e["token"] == ADMIN_TOKEN for e in entries), "the script talks to InfluxDB as the operator"
    return [e["args"] for e in entries if e["args"][:2] == ["auth", "create"]]


def test_one_write_only_and_one_read_only_token_on_the_bucket(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result.returncode == 0, result.stderr
    created = calls(tmp_path)
    assert len(created) == 2
    collector, reader = created
    # exactly one permission each, on the bucket's id
    assert [a for a in collector if a.startswith("--") and a.endswith("-bucket")] == ["--write-bucket"]
    assert collector[collector.index("--write-bucket") + 1] == BUCKET_ID
    assert [a for a in reader if a.startswith("--") and a.endswith("-bucket")] == ["--read-bucket"]
    assert reader[reader.index("--read-bucket") + 1] == BUCKET_ID
    for args in created:
        assert not {"--all-access", "--operator"} & set(args)
    files = {name: tmp_path / "tokens" / name / "louyu_influx_token" for name in ("collector", "reader")}
    assert files["collector"].read_text() == "tok-2-AbC+/x=="
    assert files["reader"].read_text() == "tok-3-AbC+/x=="
    for file in files.values():
        mode = stat.S_IMODE(file.stat().st_mode)
        assert mode == 0o444, oct(mode)  # the services run as other users; only they mount it
    # neither the tokens nor the operator token are printed
    for secret in (ADMIN_TOKEN, "tok-2", "tok-3"):
        assert secret not in result.stdout + result.stderr


def test_a_second_run_keeps_the_tokens(tmp_path: Path) -> None:
    assert run(tmp_path).returncode == 0
    first = {p.parent.name: p.read_text() for p in (tmp_path / "tokens").glob("*/louyu_influx_token")}
    result = run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(calls(tmp_path)) == 2, "a token was made again"
    again = {p.parent.name: p.read_text() for p in (tmp_path / "tokens").glob("*/louyu_influx_token")}
    assert again == first
    assert result.stdout.count("kept") == 2


def test_no_bucket_no_tokens(tmp_path: Path) -> None:
    result = run(tmp_path, bucket="elsewhere")
    assert result.returncode == 2
    assert "no bucket elsewhere" in result.stderr
    assert not (tmp_path / "tokens").exists() or not any((tmp_path / "tokens").rglob("louyu_influx_token"))
