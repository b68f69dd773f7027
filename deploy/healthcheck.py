"""Container healthcheck: exit 0 when the URL answers 2xx in time, 1 otherwise.

Standard library only, so it runs in the image without anything else installed:
    python /opt/louyu/healthcheck.py http://127.0.0.1:8000/healthz
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

USAGE = "usage: healthcheck.py URL [TIMEOUT_S]"


def check(url: str, timeout: float) -> tuple[bool, str]:
    if not url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        return False, f"refusing a non-loopback URL: {url}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
            status = int(response.status)
    except urllib.error.HTTPError as error:
        return False, f"{url}: HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return False, f"{url}: {error}"
    return 200 <= status < 300, f"{url}: HTTP {status}"


def main(argv: list[str]) -> int:
    if not 2 <= len(argv) <= 3:
        print(USAGE, file=sys.stderr)
        return 2
    timeout = float(argv[2]) if len(argv) == 3 else 3.0
    ok, detail = check(argv[1], timeout)
    print(detail, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
