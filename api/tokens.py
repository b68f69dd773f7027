"""API tokens: created once and shown once, stored as SHA-256 hashes (table `api_tokens`).

A token is `louyu_` followed by 32 random URL-safe bytes, so that it is recognisable in a
leaked file or a secret scanner. Only its hash is stored; a stolen database yields no token.
Lookups go by hash and the stored hash is compared in constant time; an unknown, revoked or
expired token is refused the same way, so a client cannot tell which it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.roles import Role
from rules.database import writer
from rules.database.tokens import TokenRow

PREFIX: Final = "louyu_"
SHOWN_CHARS: Final = len(PREFIX) + 6  # what `token list` shows to tell tokens apart
# A token expires after this many days unless its creator asks otherwise: a forgotten token
# on a retired handset or a leaked script stops working by itself. `expires_days=None` is the
# explicit opt-in to a token that never expires.
DEFAULT_LIFETIME_DAYS: Final = 90


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    role: Role
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def valid_at(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class TokenError(Exception):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        row.id, row.name, Role(row.role), row.prefix, row.created_at, row.expires_at, row.revoked_at
    )


class TokenStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write = writer(engine)

    def create(
        self, name: str, role: Role, now: dt.datetime, expires_days: int | None = DEFAULT_LIFETIME_DAYS
    ) -> tuple[TokenInfo, str]:
        """A new token: its record, and the secret itself, which is never stored nor shown again.
        It expires after `expires_days` (90 by default); None: never."""
        name = name.strip()
        if not name or len(name) > 128:
            raise TokenError("a token needs a name of 1 to 128 characters")
        if expires_days is not None and expires_days < 1:
            raise TokenError("--expires-days must be at least 1")
        with Session(self._write) as session, session.begin():
            clash = session.scalars(
                select(TokenRow).where(TokenRow.name == name, TokenRow.revoked_at.is_(None))
            ).first()
            if clash is not None and (clash.expires_at is None or clash.expires_at > now):
                raise TokenError(f"a valid token named {name!r} exists; revoke it first")
            token = new_token()
            row = TokenRow(
                name=name,
                role=role.value,
                token_hash=hash_token(token),
                prefix=token[:SHOWN_CHARS],
                created_at=now,
                expires_at=now + dt.timedelta(days=expires_days) if expires_days else None,
            )
            session.add(row)
            session.flush()
            return _info(row), token

    def authenticate(self, token: str, now: dt.datetime) -> TokenInfo | None:
        """The token's record if it is known, not revoked and not expired; else None."""
        digest = hash_token(token)
        with Session(self.engine) as session:
            row = session.scalars(select(TokenRow).where(TokenRow.token_hash == digest)).first()
            if row is None:
                return None
            info = _info(row)
            stored = row.token_hash
        if not hmac.compare_digest(stored, digest) or not info.valid_at(now):
            return None
        return info

    def still_valid(self, token_id: int, now: dt.datetime) -> bool:
        """Whether the token of that id is neither revoked nor expired (for long-lived streams)."""
        with Session(self.engine) as session:
            row = session.get(TokenRow, token_id)
            return row is not None and _info(row).valid_at(now)

    def all(self) -> list[TokenInfo]:
        with Session(self.engine) as session:
            return [_info(r) for r in session.scalars(select(TokenRow).order_by(TokenRow.id)).all()]

    def revoke_id(self, token_id: int, now: dt.datetime) -> TokenInfo | None:
        """Revoke the token of that id; it (None if there is no unrevoked token of that id)."""
        with Session(self._write) as session, session.begin():
            row = session.get(TokenRow, token_id)
            if row is None or row.revoked_at is not None:
                return None
            row.revoked_at = now
            session.flush()
            return _info(row)

    def revoke_name(self, name: str, now: dt.datetime) -> list[TokenInfo]:
        """Revoke every unrevoked token of that name (a name made of digits is a name too)."""
        with Session(self._write) as session, session.begin():
            rows = session.scalars(
                select(TokenRow).where(TokenRow.revoked_at.is_(None), TokenRow.name == name)
            ).all()
            for row in rows:
                row.revoked_at = now
            session.flush()
            return [_info(r) for r in rows]

    def find(self, name_or_id: str) -> list[TokenInfo]:
        """The unrevoked tokens a word could mean: those of that name, and the one of that id when
        it is a number. More than one distinct meaning: the caller must ask which."""
        with Session(self.engine) as session:
            query = select(TokenRow).where(TokenRow.revoked_at.is_(None))
            if name_or_id.isdigit() and len(name_or_id) <= 18:
                query = query.where((TokenRow.name == name_or_id) | (TokenRow.id == int(name_or_id)))
            else:
                query = query.where(TokenRow.name == name_or_id)
            return [_info(r) for r in session.scalars(query.order_by(TokenRow.id)).all()]
