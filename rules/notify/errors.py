"""Errors of the notifier.

NotifyError
├── RoutingFileError     a routing file that cannot be used (every problem, with its line)
├── SecretMissingError        a receiver's secret is not in the environment or its file
└── DeliveryError        one attempt to deliver failed; `retryable` says whether to try again
"""

from __future__ import annotations

from collections.abc import Sequence


class NotifyError(Exception):
    """Base of every error raised by `rules/notify/`."""


class RoutingFileError(NotifyError):
    """A routing file with problems; `problems` holds one line of text per mistake, line number first."""

    def __init__(self, where: str, problems: Sequence[str]) -> None:
        self.where = where
        self.problems = list(problems)
        listed = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"routing file {where}: {len(self.problems)} problem(s)\n{listed}")


class SecretMissingError(NotifyError):
    def __init__(self, receiver: str, source: str) -> None:
        self.receiver = receiver
        super().__init__(f"receiver {receiver!r}: secret not found in {source}")


class DeliveryError(NotifyError):
    """An attempt failed. Retryable failures (timeouts, 5xx, broker away) are tried again with backoff;
    the others (4xx, a malformed URL) fail the delivery at once, since repeating cannot help."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        self.retryable = retryable
        self.status = status
        super().__init__(message)
