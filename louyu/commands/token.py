"""`louyu token create | list | revoke`: API tokens (shown once, stored as SHA-256 hashes)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from api.roles import Role
from api.tokens import TokenError, TokenStore  # also registers the api_tokens table
from louyu import runtime
from rules.db import create_all, make_engine

app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)


def _store() -> TokenStore:
    engine = make_engine(runtime.start("token", service=False).database.url)
    create_all(engine)
    return TokenStore(engine)


def _iso(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@app.command("create")
def create(
    role: Annotated[Role, typer.Option(help="viewer, patrol, operator, admin or integration")],
    name: Annotated[str, typer.Option(help="who or what uses it; recorded as the actor of acks")],
    expires_days: Annotated[int | None, typer.Option(min=1, help="expire after N days")] = None,
) -> None:
    """Print a new token once on standard output; only its hash is stored."""
    store = _store()
    try:
        info, token = store.create(name, role, dt.datetime.now(dt.UTC), expires_days)
    except TokenError as error:
        typer.echo(f"louyu token: {error}", err=True)
        raise typer.Exit(1) from error
    finally:
        store.engine.dispose()
    typer.echo(token)
    expiry = f", expires {_iso(info.expires_at)}" if info.expires_at else ""
    typer.echo(
        f"token {info.id} {info.name!r} ({info.role.value}{expiry}): store it now, it is not shown again",
        err=True,
    )


@app.command("list")
def list_tokens() -> None:
    """Every token: id, name, role, first characters, dates. Never the secret."""
    store = _store()
    try:
        rows = store.all()
    finally:
        store.engine.dispose()
    now = dt.datetime.now(dt.UTC)
    typer.echo(f"{'id':>4}  {'name':<24} {'role':<12} {'prefix':<14} {'created':<21} {'expires':<21} status")
    for info in rows:
        status = "revoked" if info.revoked_at else ("expired" if not info.valid_at(now) else "valid")
        typer.echo(
            f"{info.id:>4}  {info.name[:24]:<24} {info.role.value:<12} {info.prefix + '…':<14} "
            f"{_iso(info.created_at):<21} {_iso(info.expires_at):<21} {status}"
        )


@app.command("revoke")
def revoke(
    name_or_id: Annotated[str, typer.Argument(help="token id, or name (all its valid tokens)")],
) -> None:
    """Revoke at once: the next request with that token gets 401."""
    store = _store()
    try:
        revoked = store.revoke(name_or_id, dt.datetime.now(dt.UTC))
    finally:
        store.engine.dispose()
    if not revoked:
        typer.echo(f"louyu token: no valid token {name_or_id!r}", err=True)
        raise typer.Exit(1)
    for info in revoked:
        typer.echo(f"revoked token {info.id} {info.name!r} ({info.role.value})")
