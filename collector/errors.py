"""Collector errors.

CollectorError
├── WriteError               a write to InfluxDB failed
│   ├── RetryableWriteError  429, 5xx, timeouts, refused connections: try again later
│   └── RejectedWriteError   400-class: these lines will never be accepted as they are
└── SpoolError               the on-disk spool cannot be used
"""

from __future__ import annotations


class CollectorError(Exception):
    pass


class WriteError(CollectorError):
    pass


class RetryableWriteError(WriteError):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        self.reason = reason
        self.retry_after = retry_after
        suffix = f" (retry after {retry_after:g} s)" if retry_after is not None else ""
        super().__init__(f"InfluxDB write failed, will retry: {reason}{suffix}")


class RejectedWriteError(WriteError):
    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"InfluxDB refused the write ({status}): {body[:300]}")


class SpoolError(CollectorError):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"spool {path}: {problem}")
