"""deploy/systemd/: the units pass `systemd-analyze verify` and carry the promised hardening.

This machine has no systemd as PID 1, and `verify` checks that ExecStart's program exists, so the
units are verified inside a throwaway root (`--root`): the units in its /etc/systemd/system, the
host's own /usr/lib/systemd/system beside them (verify needs sysinit.target and the rest), and an
executable stand-in at /opt/louyu/bin/louyu. `verify` prints parse problems as warnings ("Unknown
key ..., ignoring") and still exits 0, so any output at all fails the test.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from louyu.cli import app as louyu_cli

UNITS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
SERVICES = ("collector", "rules", "api", "notifier")
SYSTEM_UNITS = next(
    (p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()), None
)


def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None or SYSTEM_UNITS is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd: run `make sysdeps`)")
    return found


def make_root(tmp_path: Path, units: dict[str, str]) -> Path:
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "opt/louyu/bin").mkdir(parents=True)
    assert SYSTEM_UNITS is not None
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    stand_in = root / "opt/louyu/bin/louyu"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    for name, text in units.items():
        (root / "etc/systemd/system" / name).write_text(text)
    return root


def shipped_units() -> dict[str, str]:
    names = [f"louyu-{s}.service" for s in SERVICES] + ["louyu.target"]
    return {name: (UNITS_DIR / name).read_text() for name in names}


def verify(root: Path, names: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [analyze(), "verify", f"--root={root}", "--man=no", "--generators=no", *names],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=root,
    )


def parse(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    # systemd allows repeated keys; keep the last, and read repeated ones from the text itself
    parser.read_string((UNITS_DIR / name).read_text())
    return parser


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    units = shipped_units()
    result = verify(make_root(tmp_path, units), list(units))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stdout + result.stderr


def test_verify_reports_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key and a bad value are reported."""
    units = shipped_units()
    broken = units["louyu-api.service"].replace("Restart=on-failure", "Restart=sometimes\nRestartSecs=5")
    result = verify(make_root(tmp_path, {"louyu-api.service": broken}), ["louyu-api.service"])
    output = result.stdout + result.stderr
    assert "sometimes" in output and "RestartSecs" in output


def test_verify_reports_a_missing_program(tmp_path: Path) -> None:
    units = shipped_units()
    root = make_root(tmp_path, units)
    (root / "opt/louyu/bin/louyu").unlink()
    result = verify(root, ["louyu-collector.service"])
    assert result.returncode != 0
    assert "/opt/louyu/bin/louyu" in result.stdout + result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_unit_runs_its_louyu_command_with_restart_and_hardening(service: str) -> None:
    name = f"louyu-{service}.service"
    text = (UNITS_DIR / name).read_text()
    unit = parse(name)
    s = unit["Service"]
    assert s["ExecStart"] == f"/opt/louyu/bin/louyu {service}"
    result = CliRunner().invoke(louyu_cli, [service, "--help"])
    assert result.exit_code == 0, f"`louyu {service}` is not a command"
    assert s["Restart"] == "on-failure"
    assert s.get("User") == "louyu" or s.get("DynamicUser") == "yes"
    assert s["NoNewPrivileges"] == "yes"
    assert s["ProtectSystem"] == "strict"
    assert s["ProtectHome"] == "yes"
    assert s["PrivateTmp"] == "yes"
    assert s["CapabilityBoundingSet"] == ""
    assert "louyu" in s["StateDirectory"].split()
    env_files = re.findall(r"^EnvironmentFile=(.+)$", text, flags=re.M)
    assert env_files[0] == "/etc/louyu/louyu.env"
    assert env_files[1] == f"-/etc/louyu/{service}.env"
    # every path the service writes is inside its state directory (ProtectSystem=strict)
    for value in re.findall(r"^Environment=LOUYU_[A-Z_]+=(.+)$", text, flags=re.M):
        path = value.removeprefix("sqlite:///")
        if path.startswith("/"):
            assert path.startswith("/var/lib/louyu/"), value


@pytest.mark.parametrize("service", SERVICES)
def test_security_exposure_is_low(service: str, tmp_path: Path) -> None:
    """`systemd-analyze security --offline`: the score systemd gives the unit (0 best, 10 worst)."""
    units = shipped_units()
    root = make_root(tmp_path, units)
    result = subprocess.run(
        [analyze(), "security", "--offline=yes", f"--root={root}", "--no-pager", f"louyu-{service}.service"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=root,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout


def test_target_wants_every_service() -> None:
    target = (UNITS_DIR / "louyu.target").read_text()
    for service in SERVICES:
        assert f"louyu-{service}.service" in target
