"""gzip for every answer a client accepts it for: the API's JSON, the pages, the static files.

One middleware around the whole app (api/app.py), Starlette's, which in the installed version:
- never touches `text/event-stream`: the live stream is passed through as it is written, so an
  AED alert reaches the dashboard as fast as without compression (an excluded type's headers and
  bodies go straight through; nothing is buffered);
- never compresses an answer that already has a `Content-Encoding`, nor a 206 range answer;
- leaves answers under `MIN_BYTES` alone, and adds `Vary: Accept-Encoding` to every other one.

Besides Starlette's own list (zip, gzip, images, fonts, audio, video, the event stream), PDF is
not compressed: the reports' PDFs are deflate-compressed inside already, so gzip would cost CPU
for a few per cent.

Level 6 rather than Starlette's 9: the answers are built per request (the critical list with
limit=200 is about 100 KB of JSON), and 9 costs several times the CPU of 6 for about 1 % less.
Bodies of 128 KiB or more are compressed in a worker thread by Starlette, off the event loop.
"""

from __future__ import annotations

from typing import Final

from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp

# Smaller than this, gzip's header and the CPU cost more than they save.
MIN_BYTES: Final = 512
LEVEL: Final = 6
NOT_COMPRESSED: Final = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/pdf")


class CompressionMiddleware(GZipMiddleware):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            app, minimum_size=MIN_BYTES, compresslevel=LEVEL, exclude_content_types=NOT_COMPRESSED
        )
