"""Errors of the rules package.

RulesError
├── AlertNotFound        no alert with that id
├── InvalidTransition    the alert's state does not allow the change (e.g. ack a resolved alert)
├── SilenceNotFound      no silence with that id
├── InvalidSilence       a silence that matches nothing, or ends before it starts
├── InvalidCursor        a paging cursor that this store did not hand out
└── RulesFileError       a rules file that cannot be used (every problem, with its line)
"""

from __future__ import annotations

from collections.abc import Sequence


class RulesError(Exception):
    """Base of every error raised by `rules/`."""


class AlertNotFound(RulesError):  # noqa: N818 (names the API relies on)
    def __init__(self, alert_id: int) -> None:
        self.alert_id = alert_id
        super().__init__(f"alert {alert_id} does not exist")


class InvalidTransition(RulesError):  # noqa: N818 (names the API relies on)
    def __init__(self, alert_id: int, state: str, action: str) -> None:
        self.alert_id, self.state, self.action = alert_id, state, action
        super().__init__(f"alert {alert_id} is {state}: it cannot be {action}")


class SilenceNotFound(RulesError):  # noqa: N818 (names the API relies on)
    def __init__(self, silence_id: int) -> None:
        self.silence_id = silence_id
        super().__init__(f"silence {silence_id} does not exist")


class InvalidSilence(RulesError):  # noqa: N818 (names the API relies on)
    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"invalid silence: {problem}")


class SilenceEnded(InvalidSilence):
    """A silence that is over cannot be changed: a new one is made instead."""

    def __init__(self, silence_id: int) -> None:
        super().__init__(f"silence {silence_id} has ended: create a new one")


class InvalidCursor(RulesError):  # noqa: N818 (names the API relies on)
    def __init__(self, cursor: str) -> None:
        super().__init__(f"invalid paging cursor {cursor[:40]!r}")


class RulesFileError(RulesError):
    """A rules file with problems; `problems` holds one line of text per mistake, line number first."""

    def __init__(self, where: str, problems: Sequence[str]) -> None:
        self.where = where
        self.problems = list(problems)
        listed = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"rules file {where}: {len(self.problems)} problem(s)\n{listed}")
