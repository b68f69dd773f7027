"""The `louyu` command (contract section 5). Each sub-command lives in `louyu/commands/`."""

from __future__ import annotations

import typer

from louyu.commands import api as api_cmd
from louyu.commands import collector as collector_cmd
from louyu.commands import db as db_cmd
from louyu.commands import notifier as notifier_cmd
from louyu.commands import quarantine as quarantine_cmd
from louyu.commands import registry as registry_cmd
from louyu.commands import rules as rules_cmd
from louyu.commands import simulate as simulate_cmd
from louyu.commands import token as token_cmd
from louyu.commands import up as up_cmd

app = typer.Typer(
    name="louyu",
    help="louyu: event-driven monitor for smart office buildings (parking, AED cabinets, canteen).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("up")(up_cmd.up)
app.command("collector")(collector_cmd.collector)
app.command("rejections")(collector_cmd.rejections)
app.command("simulate")(simulate_cmd.simulate)
app.command("api")(api_cmd.api)
app.command("notifier")(notifier_cmd.notifier)
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(token_cmd.app, name="token")
app.add_typer(quarantine_cmd.app, name="quarantine")
app.add_typer(db_cmd.app, name="db")
app.add_typer(registry_cmd.app, name="registry")


def main() -> None:
    app()
