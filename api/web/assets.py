"""The pages' static files: compressed, and cached for a year under a versioned URL.

Every file is served under `/static/web/v/<version>/...`, where the version is a hash of the whole
`static/` tree. One version for the tree rather than one per file, because the scripts are ES modules
that import each other by relative path (`./api.js`): a module loaded from a versioned directory
imports its siblings from the same versioned directory, so every URL changes when anything does.
Under the current version the answer says `immutable` for a year; a page cached from before a
deployment still gets the files (under an old version), but with `no-cache`, since they may have
changed. The plain `/static/web/...` paths stay, with their validators only (ETag, Last-Modified).

Compression is the app's, for every answer (api/compression.py): a static file is compressed once
there, and keeps its ETag and Last-Modified.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Final

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

IMMUTABLE: Final = "public, max-age=31536000, immutable"


def tree_version(directory: Path) -> str:
    """A short hash of every file's relative path and content under `directory`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


class VersionedStatic(StaticFiles):
    """`<version>/<path>` -> the file at `<path>`, immutable when `<version>` is the current one."""

    def __init__(self, directory: Path, version: str) -> None:
        super().__init__(directory=directory)
        self.version = version

    async def get_response(self, path: str, scope: Scope) -> Response:
        version, _, rest = path.partition(os.sep)
        response = await super().get_response(rest or ".", scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = IMMUTABLE if version == self.version else "no-cache"
        return response
