"""`louyu token create | list | revoke`: API tokens (shown once, stored as SHA-256 hashes)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from api.roles import Role
from api.tokens import DEFAULT_LIFETIME_DAYS, TokenError, TokenStore
from louyu.logs import configure_logging
from louyu.settings import get_settings
from louyu.terminal import printable
from rules.database import make_engine
from rules.database.migrate import upgrade

app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)


def _store() -> TokenStore:
    settings = get_settings()
    # Logs (a schema upgrade, say) go to standard error: standard output carries only the token.
    configure_logging(settings.log_level, settings.log_format)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return TokenStore(engine)


def _iso(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@app.command("create")
def create(
    role: Annotated[Role, typer.Option(help="viewer, patrol, operator, admin or integration")],
    name: Annotated[str, typer.Option(help="who or what uses it; recorded as the actor of acks")],
    expires_days: Annotated[
        int | None, typer.Option(min=1, help=f"expire after N days (default {DEFAULT_LIFETIME_DAYS})")
    ] = None,
    never_expires: Annotated[
        bool, typer.Option("--never-expires", help="a token that never expires (explicit opt-in; warned)")
    ] = False,
) -> None:
    """Print a new token once on standard output; only its hash is stored. It expires after 90
    days unless --expires-days says otherwise, or --never-expires."""
    if never_expires and expires_days is not None:
        typer.echo("louyu token: --never-expires and --expires-days contradict each other", err=True)
        raise typer.Exit(2)
    lifetime = None if never_expires else (expires_days or DEFAULT_LIFETIME_DAYS)
    store = _store()
    try:
        info, token = store.create(name, role, dt.datetime.now(dt.UTC), lifetime)
    except TokenError as error:
        typer.echo(f"louyu token: {printable(error)}", err=True)
        raise typer.Exit(1) from error
    finally:
        store.engine.dispose()
    typer.echo(token)
    expiry = f", expires {_iso(info.expires_at)}" if info.expires_at else ", never expires"
    typer.echo(
        f"token {info.id} {printable(repr(info.name))} ({info.role.value}{expiry}): "
        "store it now, it is not shown again",
        err=True,
    )
    if info.expires_at is None:
        typer.echo(
            f"WARNING: token {info.id} never expires. Whoever holds it keeps access until it is revoked "
            f"(louyu token revoke --id {info.id}); prefer --expires-days.",
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
        expires = _iso(info.expires_at) if info.expires_at else "never"
        typer.echo(
            f"{info.id:>4}  {printable(info.name)[:24]:<24} {info.role.value:<12} {info.prefix + '…':<14} "
            f"{_iso(info.created_at):<21} {expires:<21} {status}"
        )


@app.command("revoke")
def revoke(
    name_or_id: Annotated[
        str | None,
        typer.Argument(
            help="a token's name or id; refused when it could mean either (then use --id or --name)"
        ),
    ] = None,
    token_id: Annotated[int | None, typer.Option("--id", min=1, help="the token of this id")] = None,
    name: Annotated[str | None, typer.Option("--name", help="every valid token of this name")] = None,
) -> None:
    """Revoke at once: the next request with that token gets 401. Say which by --id N or
    --name NAME (a name may be made of digits)."""
    if sum(given is not None for given in (name_or_id, token_id, name)) != 1:
        typer.echo("louyu token revoke: give one of --id N, --name NAME (or a name or id)", err=True)
        raise typer.Exit(2)
    store = _store()
    now = dt.datetime.now(dt.UTC)
    try:
        if name_or_id is not None:
            token_id, name = _which(store, name_or_id)
        if token_id is not None:
            one = store.revoke_id(token_id, now)
            revoked = [one] if one else []
            asked = f"id {token_id}"
        else:
            assert name is not None
            revoked = store.revoke_name(name, now)
            asked = f"named {printable(repr(name))}"
    finally:
        store.engine.dispose()
    if not revoked:
        typer.echo(f"louyu token: no valid token {asked}", err=True)
        raise typer.Exit(1)
    for info in revoked:
        typer.echo(f"revoked token {info.id} {printable(repr(info.name))} ({info.role.value})")


def _which(store: TokenStore, word: str) -> tuple[int | None, str | None]:
    """(id, None) or (None, name) for a word given without --id or --name; exits when the word
    names one token and is the id of another."""
    matches = store.find(word)
    by_name = [t for t in matches if t.name == word]
    by_id = [t for t in matches if str(t.id) == word and t.name != word]
    if by_name and by_id:
        typer.echo(
            f"louyu token revoke: {printable(repr(word))} is the name of token "
            f"{', '.join(str(t.id) for t in by_name)} and the id of token {by_id[0].id} "
            f"({printable(repr(by_id[0].name))}): say --name {printable(word)} or --id {printable(word)}",
            err=True,
        )
        raise typer.Exit(2)
    if by_id:
        return by_id[0].id, None
    return None, word
