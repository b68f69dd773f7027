"""`louyu simulate`: not built yet."""

from __future__ import annotations

import typer


def simulate() -> None:
    """Not built yet."""
    typer.echo("louyu simulate: not built yet", err=True)
    raise typer.Exit(2)
