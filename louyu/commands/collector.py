"""`louyu collector`: not built yet."""

from __future__ import annotations

import typer


def collector() -> None:
    """Not built yet."""
    typer.echo("louyu collector: not built yet", err=True)
    raise typer.Exit(2)
