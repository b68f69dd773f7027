"""Structured logging (structlog), configured once by the command that starts a process."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from collector.redaction import redact_urls
from louyu.terminal import printable


class _StderrLogger:
    """Writes each line to whatever `sys.stderr` is at the time of writing.

    structlog's PrintLogger binds the stream when the logger is made; a stream replaced later
    (a test harness capturing output, a daemon redirecting stderr) would then be written to
    after it was closed.
    """

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stderr_logger_factory(*args: Any) -> _StderrLogger:
    return _StderrLogger()


def _redacting(escape: bool) -> structlog.types.Processor:
    """Every string of a log event (a URL, an error message, a traceback) with the secrets of
    its URLs masked; on a console also with control characters escaped, for a sensor's topic or
    payload excerpt must not drive the operator's terminal (JSON escapes them by itself)."""

    def process(_logger: Any, _name: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
        for key, value in event.items():
            if not isinstance(value, str):
                continue
            text = redact_urls(value)
            if escape:
                # A traceback keeps its lines; each line is escaped.
                text = "\n".join(map(printable, text.split("\n"))) if key == "exception" else printable(text)
            event[key] = text
        return event

    return process


class _RedactingFilter(logging.Filter):
    """The same for the standard library's records (uvicorn, paho, SQLAlchemy, httpx)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_urls(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _RedactingFilter) for f in handler.filters):
            handler.addFilter(_RedactingFilter())
    # Every InfluxDB write would otherwise log a line; Alembic, a few at every start (the schema
    # upgrade logs its own line when it changes anything).
    for noisy in ("httpx", "httpcore", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _redacting(escape=fmt != "json"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_stderr_logger_factory,
        cache_logger_on_first_use=True,
    )
