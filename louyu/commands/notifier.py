"""`louyu notifier`: not built yet."""

from __future__ import annotations

import typer


def notifier() -> None:
    """Not built yet."""
    typer.echo("louyu notifier: not built yet", err=True)
    raise typer.Exit(2)
