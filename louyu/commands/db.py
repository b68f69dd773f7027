"""`louyu db upgrade | status`: the database's schema revision. Every service (and `louyu token`)
upgrades at start-up; these commands do it by hand, e.g. before starting a new version."""

from __future__ import annotations

import typer
from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError

from louyu.logs import configure_logging
from louyu.settings import Settings, get_settings
from rules.database import make_engine
from rules.database.migrate import current, differences, head, upgrade

app = typer.Typer(
    help="The database (LOUYU_DATABASE_URL): schema revision and upgrade.", no_args_is_help=True
)


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)  # logs on stderr, results on stdout
    return settings


@app.command("upgrade")
def upgrade_command() -> None:
    """Bring the database to this version's schema (creates it when empty). Safe to repeat."""
    engine = make_engine(_settings().database_url)
    try:
        result = upgrade(engine)
    except (SQLAlchemyError, CommandError) as error:  # neither message carries the URL's password
        typer.echo(f"louyu db: upgrade failed: {getattr(error, 'orig', None) or error}", err=True)
        raise typer.Exit(1) from error
    finally:
        engine.dispose()
    if result.changed:
        typer.echo(f"database upgraded from {result.before or 'no revision'} to {result.after}")
    else:
        typer.echo(f"database already at {result.after}: nothing to do")


@app.command("status")
def status() -> None:
    """The database's revision and the one this version expects, and whether its tables are the
    ones this version defines; exit 1 if not."""
    expected = head()
    engine = make_engine(_settings().database_url)
    try:
        found = current(engine)
        drift = differences(engine) if found == expected else []
    except SQLAlchemyError as error:
        typer.echo(f"louyu db: cannot read the database: {getattr(error, 'orig', None) or error}", err=True)
        raise typer.Exit(1) from error
    finally:
        engine.dispose()
    typer.echo(f"database revision: {found or 'none'}; this version: {expected}")
    if found != expected:
        typer.echo("run `louyu db upgrade` (services also upgrade when they start)", err=True)
        raise typer.Exit(1)
    # At the right revision yet different: changed by hand, or a revision is missing.
    for difference in drift:
        typer.echo(f"differs from this version's tables: {difference}", err=True)
    if drift:
        raise typer.Exit(1)
