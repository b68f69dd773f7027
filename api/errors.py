"""Errors of the alert store, answered as HTTP: one place, for every route (and every router
added later) that lets them through."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rules.errors import AlertNotFound, InvalidCursor, InvalidSilence, InvalidTransition, SilenceNotFound

STATUS: dict[type[Exception], int] = {
    AlertNotFound: 404,
    SilenceNotFound: 404,
    InvalidTransition: 409,
    InvalidSilence: 400,
    InvalidCursor: 400,
}


async def _answer(_request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=STATUS.get(type(error), 400))


def install(app: FastAPI) -> None:
    for error_type in STATUS:
        app.add_exception_handler(error_type, _answer)
