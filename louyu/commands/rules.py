"""`louyu rules`: not built yet."""

from __future__ import annotations

import typer

app = typer.Typer(help="Not built yet.", no_args_is_help=True)


@app.command("placeholder", hidden=True)
def placeholder() -> None:
    raise typer.Exit(2)
