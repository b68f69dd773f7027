"""docs/security.md names a test for each claim: every file and test it names exists, so a
renamed or removed test cannot leave a claim pointing at nothing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "security.md"


def named_tests(text: str) -> list[tuple[str, str | None]]:
    """(file, test) for every backticked reference, in order of the page; a bare `test_x` belongs
    to the file named last before it (as the page writes `a.py::test_one`, `test_two`)."""
    found: list[tuple[str, str | None]] = []
    current: str | None = None
    for token in re.findall(r"`([^`]+)`", text):
        match = re.fullmatch(r"(tests/[\w/]+\.py)(?:::(test_\w+))?", token)
        if match:
            current = match.group(1)
            found.append((current, match.group(2)))
        elif re.fullmatch(r"test_\w+", token):
            assert current is not None, f"{token} is named before any test file"
            found.append((current, token))
    return found


def test_every_test_the_security_page_names_exists() -> None:
    text = PAGE.read_text()
    assert "to be named" not in text
    references = named_tests(text)
    assert len(references) > 50
    missing = []
    for file, test in references:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
        elif test is not None and not re.search(rf"^(async )?def {test}\(", path.read_text(), re.M):
            missing.append(f"{file}::{test}")
    assert missing == []
