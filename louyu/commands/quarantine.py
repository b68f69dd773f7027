"""`louyu quarantine`: the devices the registry does not know, held apart by the collector.

`list` shows them, `promote` prints the registry entry that makes one known, `clear` forgets them.
Everything shown came from a sensor: control characters are escaped before they reach a terminal.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path
from typing import Annotated

import typer
import yaml

from collector.models import KINDS, NAME_RE, RESERVED_BUILDINGS, DeviceKey
from collector.quarantine import Quarantine, QuarantinedDevice
from collector.registry import Registry, RegistryError
from louyu.settings import Settings, get_settings

app = typer.Typer(
    help="Devices missing from the registry, held apart by the collector (list, promote, clear).",
    no_args_is_help=True,
)

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def printable(text: str) -> str:
    """`text` with control and invisible format characters (ESC, BEL, bidi overrides...) escaped."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if unicodedata.category(char) in _ESCAPED_CATEGORIES:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


def _open(settings: Settings) -> Quarantine:
    return Quarantine(settings.dead_letter_path, settings.quarantine_max)


def parse_key(text: str) -> DeviceKey:
    """`BUILDING/KIND/DEVICE`, each part as the topic allows it."""
    parts = text.split("/")
    if len(parts) != 3:
        raise typer.BadParameter(f"{printable(text)!r} is not BUILDING/KIND/DEVICE")
    building, kind, device = parts
    if not NAME_RE.fullmatch(building) or building in RESERVED_BUILDINGS:
        raise typer.BadParameter(f"{printable(building)!r} is not a building id")
    if kind not in KINDS:
        raise typer.BadParameter(f"{printable(kind)!r} is not a kind ({', '.join(KINDS)})")
    if not NAME_RE.fullmatch(device):
        raise typer.BadParameter(f"{printable(device)!r} is not a device id")
    return DeviceKey(building, kind, device)


@app.command("list")
def list_(
    limit: int = typer.Option(50, min=1, max=100_000, help="How many devices to show, newest first."),
    building: str | None = typer.Option(None, help="Only this building."),
) -> None:
    """Unknown devices, heard most recently first, with their message counts and last payload."""
    settings = get_settings()
    store = _open(settings)
    try:
        rows = store.latest(limit, building)
        typer.echo(
            f"{store.count(building)} unknown devices held in {settings.dead_letter_path}"
            f" (at most {settings.quarantine_max}; {store.evicted()} evicted since the last clear;"
            f" LOUYU_UNKNOWN_DEVICES={settings.unknown_devices})"
        )
        for row in rows:
            typer.echo(
                f"{_when(row.last_seen_ms)}  {printable(str(row.key))}  {row.messages} messages"
                f" since {_when(row.first_seen_ms)}\n    {printable(row.excerpt[:120])}"
            )
    finally:
        store.close()


def registry_snippet(devices: list[QuarantinedDevice], registry: Registry) -> str:
    """The YAML to paste into the registry: a `devices:` entry per device, under its building.

    Only the existing device-entry keys (`kind`, `id`); floor, zone, location and the rest are the
    operator's to add. A building the registry lacks gets a building entry of its own.
    """
    by_building: dict[str, list[dict[str, str]]] = {}
    for device in devices:
        by_building.setdefault(device.building, []).append({"kind": device.kind, "id": device.device})
    parts = []
    for building, entries in by_building.items():
        if building in registry.buildings:
            parts.append(f"# under `buildings:` -> `- id: {building}` -> `devices:`\n")
            parts.append(
                yaml.safe_dump(entries, default_flow_style=None, sort_keys=False, allow_unicode=True)
            )
        else:
            parts.append("# a new building, under `buildings:` (give it its real name)\n")
            entry = {"id": building, "name": building, "devices": entries}
            parts.append(
                yaml.safe_dump([entry], default_flow_style=None, sort_keys=False, allow_unicode=True)
            )
    return "".join(parts)


@app.command("promote")
def promote(
    devices: Annotated[
        list[str], typer.Argument(metavar="BUILDING/KIND/DEVICE...", help="Quarantined devices.")
    ],
    keep: bool = typer.Option(False, help="Leave them listed in the quarantine."),
) -> None:
    """Print the registry entries that make these devices known, and take them out of the quarantine.

    Paste the entries into LOUYU_REGISTRY_FILE and restart the collector and the rules engine: until
    then their readings stay quarantined (and come back to the list).
    """
    settings = get_settings()
    keys = [parse_key(text) for text in devices]
    try:
        registry = Registry.load(settings.registry_file)  # None: the shipped example, as the collector
    except RegistryError as error:
        raise SystemExit(f"louyu: {error}") from error
    store = _open(settings)
    try:
        held, problems = [], []
        for key in keys:
            row = store.get(key)
            if registry.get(key.building, key.kind, key.device) is not None:
                problems.append(f"{key} is already in the registry")
            elif row is None:
                problems.append(f"{key} is not in the quarantine (louyu quarantine list)")
            else:
                held.append(row)
        if problems:
            raise SystemExit("louyu: " + "; ".join(problems))
        where = settings.registry_file or "LOUYU_REGISTRY_FILE (unset: the shipped example is in use)"
        typer.echo(f"# Add to {where}, then restart the collector and the rules engine.")
        typer.echo(registry_snippet(held, registry), nl=False)
        if not keep:
            store.remove(keys)
    finally:
        store.close()


@app.command("clear")
def clear(
    building: str | None = typer.Option(None, help="Only this building's devices."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Forget the quarantined devices (all, or one building's). Devices still reporting come back."""
    settings = get_settings()
    path: Path = settings.dead_letter_path
    what = f"building {building}'s quarantined devices" if building else "every quarantined device"
    if not yes:
        typer.confirm(f"Forget {printable(what)} in {path}?", abort=True)
    store = _open(settings)
    try:
        removed = store.clear(building)
    finally:
        store.close()
    typer.echo(f"{removed} quarantined devices forgotten")
