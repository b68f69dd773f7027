"""The `louyu` command (contract section 5). Each sub-command lives in `louyu/commands/`.

The sub-command modules are imported when they are needed: `louyu collector` has no use for
FastAPI, SQLAlchemy or Alembic, and importing every command's packages first doubled the
collector's time to its first stored point. `main()` builds the app with just the sub-command
named on the command line (all of them for `--help` or a name it does not know); `app`, the
whole command, is built on first access.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import Any

import typer

HELP = "louyu: event-driven monitor for smart office buildings (parking, AED cabinets, canteen)."

# Sub-command name -> (module in louyu.commands, attribute, whether it is a group of commands).
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "up": ("up", "up", False),
    "collector": ("collector", "collector", False),
    "rejections": ("collector", "rejections", False),
    "simulate": ("simulate", "simulate", False),
    "api": ("api", "api", False),
    "notifier": ("notifier", "notifier", False),
    "rules": ("rules", "app", True),
    "token": ("token", "app", True),
    "quarantine": ("quarantine", "app", True),
    "db": ("db", "app", True),
    "registry": ("registry", "app", True),
    "drill": ("drill", "app", True),
}


def build(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """The `louyu` app with these sub-commands (each module imported only now)."""
    app = typer.Typer(
        name="louyu",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    names = list(names)
    if len(names) == 1:
        # With one command and no callback, Typer would run it without its name.
        app.callback()(lambda: None)
    for name in names:
        module_name, attribute, group = COMMANDS[name]
        target = getattr(importlib.import_module(f"louyu.commands.{module_name}"), attribute)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return build()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    requested = sys.argv[1] if len(sys.argv) > 1 else ""
    build([requested] if requested in COMMANDS else COMMANDS)()
