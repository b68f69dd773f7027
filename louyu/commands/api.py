"""`louyu api`: not built yet."""

from __future__ import annotations

import typer


def api() -> None:
    """Not built yet."""
    typer.echo("louyu api: not built yet", err=True)
    raise typer.Exit(2)
