"""`louyu up`: not built yet."""

from __future__ import annotations

import typer


def up() -> None:
    """Not built yet."""
    typer.echo("louyu up: not built yet", err=True)
    raise typer.Exit(2)
