"""Serve an app with uvicorn in a thread of this process: `louyu up`, `louyu api`, tests, bench.

`start()` returns once the socket accepts connections; `stop()` ends the event streams first
(they would otherwise hold the graceful shutdown open), then the server, and joins the thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from api.config import ApiConfig
from api.http_deadline import header_deadline_protocol
from api.state import ApiState


class ServerError(RuntimeError):
    pass


class ApiServer:
    def __init__(
        self, app: FastAPI, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "warning"
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        state = getattr(app.state, "louyu", None)
        api_config = state.config if isinstance(state, ApiState) else ApiConfig()
        self.config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=5,
            server_header=False,
            # h11 with a header deadline: uvicorn alone never closes a connection that is slow
            # to send its request (api/http_deadline.py).
            http=header_deadline_protocol(api_config.header_timeout_s),
            timeout_keep_alive=max(1, round(api_config.keep_alive_s)),
        )
        self.server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as error:
            sock.close()
            raise ServerError(f"cannot listen on {self.host}:{self.port}: {error.strerror}") from error
        sock.listen(2048)
        self.port = sock.getsockname()[1]  # port 0: the one the system chose
        self._socket = sock
        self._thread = threading.Thread(target=self._run, name="louyu-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive():
                self._close_socket()
                raise ServerError("the API server stopped during start-up (see the log above)")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"the API server did not start within {timeout} s")
            time.sleep(0.01)

    def _run(self) -> None:
        assert self._socket is not None
        # uvicorn leaves by SystemExit when the lifespan fails to start; start() reports it.
        with contextlib.suppress(SystemExit):
            self.server.run(sockets=[self._socket])

    def stop(self, timeout: float = 15.0) -> None:
        state = getattr(self.app.state, "louyu", None)
        if isinstance(state, ApiState):
            state.wakeup.close()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self.server.force_exit = True
                self._thread.join(5)
            self._thread = None
        self._close_socket()

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
