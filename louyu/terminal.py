"""Text from devices and users, made safe to print on a terminal.

A sensor's payload, a topic, a token name or a rules file can hold terminal escape sequences
(ESC [ ... to move the cursor, rewrite earlier lines, set the window title, or worse on some
terminals) and bidirectional overrides that make a line read differently from what it holds.
Every command that prints such text passes it through `printable` first: control and format
characters come out as visible escapes (`\\x1b`, `\\n`, `\\u202e`); everything else, Chinese
text included, as it is.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# Controls (C0, C1, DEL), format characters (bidirectional overrides, zero-width ones), line and
# paragraph separators, surrogates, private use and unassigned code points. Spaces stay.
UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(value: object) -> str:
    """`str(value)` with every control or format character written as a visible escape."""
    text = str(value)
    if text.isprintable():  # the usual case, in C
        return text
    return "".join(_escape(c) if unicodedata.category(c) in UNSAFE_CATEGORIES else c for c in text)
