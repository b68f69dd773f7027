"""Real receivers of scheduled reports on loopback ports: an HTTP server (webhooks and apprise's
json://) and an SMTP server (apprise's mailto://), each answering from a script per path or per
message, so that a test can make a receiver fail and then recover."""

from __future__ import annotations

import http.server
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Decides the status from (path, headers, body); None answers from the script.
Check = Callable[[str, dict[str, str], bytes], int | None]


class Sink(http.server.ThreadingHTTPServer):
    """Records every POST; answers each path's scripted statuses in turn (the last one repeats),
    200 for a path without a script."""

    def __init__(self, script: dict[str, list[int]] | None = None, check: Check | None = None) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.answered: list[tuple[str, int]] = []
        self.script = {path: list(statuses) for path, statuses in (script or {}).items()}
        self.check = check
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = dict(self.headers)
                status = sink.answer(self.path, headers, body)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self._lock = threading.Lock()

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.received.append((path, headers, body))
            status = self.check(path, headers, body) if self.check is not None else None
            if status is None:
                statuses = self.script.get(path, [200])
                status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
            self.answered.append((path, status))
            return status

    def to(self, path: str) -> list[int]:
        return [status for p, status in self.answered if p == path]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class SmtpSink(socketserver.ThreadingTCPServer):
    """Just enough ESMTP (RFC 5321) for smtplib: every message's DATA is answered from the
    script in turn (e.g. 451, a temporary failure, then 250; the last one repeats). `accepted`
    holds the raw messages answered 250, `refused` those answered otherwise."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, script: list[int] | None = None) -> None:
        self.script = list(script or [250])
        self.accepted: list[bytes] = []
        self.refused: list[bytes] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode("ascii") + b"\r\n")
                self.wfile.flush()

            def handle(self) -> None:
                self.reply("220 127.0.0.1 louyu test SMTP")
                while line := self.rfile.readline():
                    verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.reply("250-127.0.0.1")
                        self.reply("250-8BITMIME")
                        self.reply("250 SIZE 33554432")
                    elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        lines: list[bytes] = []
                        while (part := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(part[1:] if part.startswith(b"..") else part)
                        self.reply(sink.deliver(b"".join(lines)))
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        super().__init__(("127.0.0.1", 0), Handler)

    def deliver(self, message: bytes) -> str:
        with self._lock:
            status = self.script.pop(0) if len(self.script) > 1 else self.script[0]
            (self.accepted if status == 250 else self.refused).append(message)
            return "250 queued" if status == 250 else f"{status} try again later"

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
