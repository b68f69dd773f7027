"""`louyu registry check [FILE]`: validate a registry file and show what contains what."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.registry import Registry, RegistryError
from collector.site import layout

app = typer.Typer(help="The registry: known devices and what contains what (docs/registry.md).")


@app.command("check")
def check(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="the registry file (YAML); default LOUYU_REGISTRY_FILE, else the shipped example"
        ),
    ] = None,
) -> None:
    """Print every inconsistency with its line and exit 1, or print the sites, levels and spaces."""
    if file is None:
        from louyu.settings import get_settings

        file = get_settings().registry.file
    try:
        registry = Registry.load(file)
    except RegistryError as error:
        where = file or "darong.yaml (shipped)"
        for problem in error.problems:
            typer.echo(f"{where}: {problem}", err=True)
        typer.echo(f"{where}: {len(error.problems)} problem(s)", err=True)
        raise typer.Exit(1) from error
    for place in layout(registry):
        parts = [f"{len(place.aeds)} AED", f"{len(place.canteens)} canteen"]
        typer.echo(f"{place.building.id}: " + ", ".join(parts))
        for site in place.sites:
            typer.echo(f"  site {site.lot.device} (capacity {site.lot.capacity}): {len(site.spaces)} spaces")
            for level in site.levels:
                typer.echo(
                    f"    level {level.lot.device} (capacity {level.lot.capacity}): {len(level.spaces)} spaces"
                )
        if place.spaces:
            typer.echo(f"  {len(place.spaces)} spaces in no lot (the building's own site)")
    drawn = sum(1 for b in registry.buildings.values() if b.outline is not None)
    placed = sum(1 for d in registry if d.position is not None or d.outline is not None)
    typer.echo(f"site plan: {drawn} of {len(registry.buildings)} buildings drawn, {placed} devices placed")
    typer.echo(f"{len(registry)} devices in {len(registry.buildings)} buildings: ok")
