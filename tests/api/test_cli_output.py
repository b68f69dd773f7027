"""The CLIs print device- and user-supplied text with its terminal escape sequences escaped;
tokens expire by default and are revoked by id or by name without ambiguity."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.roles import Role
from api.tokens import DEFAULT_LIFETIME_DAYS, TokenStore
from collector.dead_letters import DeadLetters
from collector.models import Rejection
from collector.parsing import parse
from louyu.cli import app
from louyu.terminal import printable
from rules.database import make_engine
from rules.database.migrate import upgrade

# Clear the screen, set the window title, hide a line with a bidirectional override.
HOSTILE = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202e\r\nfake: all AEDs ready"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("停车场 garage-b1 50%", "停车场 garage-b1 50%"),
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("x\ny\tz\r", "x\\ny\\tz\\r"),
        ("\x9b\x7f\x00", "\\x9b\\x7f\\x00"),
        ("abc\u202edef\u2066", "abc\\u202edef\\u2066"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("wide\u3000space", "wide\u3000space"),
    ],
)
def test_printable_escapes_controls_and_keeps_text(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_rejections_print_a_sensors_escape_sequences_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "dead-letters.db"
    monkeypatch.setenv("LOUYU_DEAD_LETTER_PATH", str(path))
    now_ms = int(time.time() * 1000)
    # Through the collector's own parser, as a message from a broken or hostile sensor would go.
    refused = [
        parse("louyu/darong-a/parking_space/b1-001", HOSTILE.encode(), now_ms),
        parse("louyu/darong-a/aed/a1", f'{{"state": "{HOSTILE}"}}'.encode(), now_ms),
        parse("louyu/darong-a/\x1b[8m/x", b"{}", now_ms),
    ]
    assert all(isinstance(r, Rejection) for r in refused)
    store = DeadLetters(path)
    store.add([r for r in refused if isinstance(r, Rejection)])
    store.close()
    shown = CliRunner().invoke(app, ["rejections"])
    assert shown.exit_code == 0, shown.output
    assert "3 rejected messages" in shown.stdout
    assert not any(c in shown.stdout for c in "\x1b\x07\x9b\u202e\r"), repr(shown.stdout)
    assert "\\x1b[2J" in shown.stdout and "\\u202e" in shown.stdout
    # One line per field, as before: an embedded newline cannot forge a line of its own.
    assert not any(line.startswith("fake:") for line in shown.stdout.splitlines())


@pytest.fixture
def token_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TokenStore:
    url = f"sqlite:///{tmp_path / 'louyu.db'}"
    monkeypatch.setenv("LOUYU_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    return TokenStore(engine)


def test_tokens_expire_after_90_days_unless_never_is_asked_for(token_db: TokenStore) -> None:
    runner = CliRunner()
    default = runner.invoke(app, ["token", "create", "--role", "viewer", "--name", "lobby-screen"])
    assert default.exit_code == 0, default.output
    info = token_db.authenticate(default.stdout.strip(), dt.datetime.now(dt.UTC))
    assert info is not None and info.expires_at is not None
    assert (
        info.expires_at - info.created_at == dt.timedelta(days=DEFAULT_LIFETIME_DAYS) == dt.timedelta(days=90)
    )
    assert "WARNING" not in default.stderr
    forever = runner.invoke(
        app, ["token", "create", "--role", "integration", "--name", "city", "--never-expires"]
    )
    assert forever.exit_code == 0, forever.output
    assert "WARNING: token" in forever.stderr and "never expires" in forever.stderr
    info = token_db.authenticate(forever.stdout.strip(), dt.datetime.now(dt.UTC) + dt.timedelta(days=3650))
    assert info is not None and info.expires_at is None
    both = runner.invoke(
        app, ["token", "create", "--role", "viewer", "--name", "x", "--never-expires", "--expires-days", "5"]
    )
    assert both.exit_code == 2
    # The store's own default is the same: a caller must ask for a token that never expires.
    made, _ = token_db.create("script", Role.VIEWER, dt.datetime.now(dt.UTC))
    assert made.expires_at is not None
    token_db.engine.dispose()


def test_revoke_by_id_or_by_name_even_a_name_of_digits(token_db: TokenStore) -> None:
    now = dt.datetime.now(dt.UTC)
    first, _ = token_db.create("ops-li", Role.OPERATOR, now)
    second, _ = token_db.create("wang", Role.PATROL, now)
    # A handset named by its number; its name is the id of another token.
    digits, digits_token = token_db.create(str(first.id), Role.PATROL, now)
    runner = CliRunner()
    ambiguous = runner.invoke(app, ["token", "revoke", str(first.id)])
    assert ambiguous.exit_code == 2 and "--name" in ambiguous.stderr and "--id" in ambiguous.stderr
    assert all(t.revoked_at is None for t in token_db.all())
    by_name = runner.invoke(app, ["token", "revoke", "--name", str(first.id)])
    assert by_name.exit_code == 0, by_name.output
    assert token_db.authenticate(digits_token, now) is None
    assert {t.id for t in token_db.all() if t.revoked_at} == {digits.id}
    by_id = runner.invoke(app, ["token", "revoke", "--id", str(first.id)])
    assert by_id.exit_code == 0 and f"revoked token {first.id} 'ops-li'" in by_id.stdout
    # Unambiguous without an option: a plain name, or a number that is only an id.
    assert runner.invoke(app, ["token", "revoke", str(second.id)]).exit_code == 0
    assert runner.invoke(app, ["token", "revoke", "--id", "999"]).exit_code == 1
    assert runner.invoke(app, ["token", "revoke"]).exit_code == 2
    assert all(t.revoked_at for t in token_db.all())
    token_db.engine.dispose()


def test_token_names_are_printed_escaped(token_db: TokenStore) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["token", "create", "--role", "viewer", "--name", "evil\x1b]0;x\x07"])
    assert created.exit_code == 0 and "\x1b" not in created.stderr
    listed = runner.invoke(app, ["token", "list"])
    assert "\x1b" not in listed.stdout and "evil\\x1b]0;x\\x07" in listed.stdout
    token_db.engine.dispose()
