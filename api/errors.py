"""Errors of the alert store, answered as HTTP: one place, for every route (and every router
added later) that lets them through."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rules.errors import (
    AlertNotFound,
    InvalidCursor,
    InvalidSilence,
    InvalidTransition,
    SilenceEnded,
    SilenceNotFound,
)

STATUS: dict[type[Exception], int] = {
    AlertNotFound: 404,
    SilenceNotFound: 404,
    InvalidTransition: 409,
    SilenceEnded: 409,
    # A rule between the fields of a silence or relative to now: refused like any body error.
    InvalidSilence: 422,
    InvalidCursor: 400,
}


async def _answer(_request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=STATUS.get(type(error), 400))


def install(app: FastAPI) -> None:
    for error_type in STATUS:
        app.add_exception_handler(error_type, _answer)
