"""The last check before a statement leaves for InfluxDB: it must be one read-only SELECT.

On InfluxDB 1.x `/query` runs whatever it is given (`DROP`, `CREATE USER`, `SELECT ... INTO`,
several `;`-separated statements), and the API's credentials may be allowed to. Our statements
are built from checked pieces (api/history.py); this guard makes sure that stays true whatever a
future change to the builder does: it reads the statement the way InfluxQL's scanner does,
skipping string literals ('...') and quoted identifiers ("..."), and refuses a `;`, an `INTO`,
a comment, or anything that does not start with SELECT.
"""

from __future__ import annotations

import re
from typing import Final

_WORD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SELECT: Final = re.compile(r"\s*SELECT\b", re.IGNORECASE)


class StatementRefusedError(ValueError):
    """A statement that is not one read-only SELECT; never sent."""

    def __init__(self, statement: str, why: str) -> None:
        super().__init__(f"refused to send an InfluxQL statement ({why}): {statement[:80]!r}")


def bare_text(statement: str) -> str:
    """The statement with its string literals and quoted identifiers blanked out; ValueError
    when one of them is not closed."""
    out: list[str] = []
    i, n = 0, len(statement)
    while i < n:
        char = statement[i]
        if char in "'\"":
            j = i + 1
            while j < n and statement[j] != char:
                j += 2 if statement[j] == "\\" else 1
            if j >= n:
                raise ValueError("an unclosed quote")
            out.append(" ")
            i = j + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def check_select(statement: str) -> str:
    """The statement itself if it is one SELECT that writes nothing; else StatementRefusedError."""
    try:
        bare = bare_text(statement)
    except ValueError as error:
        raise StatementRefusedError(statement, str(error)) from error
    words = [word.upper() for word in _WORD.findall(bare)]
    if not _SELECT.match(bare):
        raise StatementRefusedError(statement, "not a SELECT")
    if ";" in bare:
        raise StatementRefusedError(statement, "more than one statement")
    if "INTO" in words:
        raise StatementRefusedError(statement, "SELECT INTO writes")
    if "--" in bare or "/*" in bare:
        raise StatementRefusedError(statement, "a comment")
    return statement
