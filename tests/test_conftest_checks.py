"""The suite's own safety nets fail when they should."""

from __future__ import annotations

import pytest
import structlog

pytest_plugins = ["pytester"]


def test_a_logged_exception_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((__import__("pathlib").Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(
        """
        import pytest
        import structlog

        def test_logs() -> None:
            try:
                raise ValueError("boom")
            except ValueError:
                structlog.get_logger("t").exception("caught it")

        @pytest.mark.allow_logged_exceptions
        def test_logs_and_says_so() -> None:
            try:
                raise ValueError("boom")
            except ValueError:
                structlog.get_logger("t").exception("caught it")
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-o", "markers=allow_logged_exceptions: x"
    )
    # The check runs at teardown: the offending test's call passes, then its teardown errors.
    result.assert_outcomes(passed=2, errors=1)
    assert "exceptions were logged: ['caught it']" in result.stdout.str()


def test_structlog_still_logs_normally() -> None:
    structlog.get_logger("t").info("fine")
