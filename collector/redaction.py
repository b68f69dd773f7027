"""Secrets out of URLs before they are logged or shown: `redact_url` for one URL, `redact_urls`
for any text that may hold some (a log line, an error message).

A URL's password (`http://reader:s3cret@influx:8086`) becomes `***`, and so does the value of
a query parameter that carries a credential (InfluxDB 1.x takes `?u=...&p=...`). The user name,
host, port and path stay: they are what an operator needs to tell which service was meant.
Here, at the bottom of the import chain, so that every package logs URLs through it.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK: Final = "***"
SECRET_PARAMS: Final = frozenset(
    {"p", "password", "pass", "pwd", "token", "access_token", "auth", "secret", "key", "api_key", "apikey"}
)
_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """The URL without its password or secret query values; unparseable: only its scheme."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, colon, _password = userinfo.partition(":")
            netloc = f"{user}:{MASK}@{hostport}" if colon else f"{userinfo}@{hostport}"
        query = parts.query
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_PARAMS for k, _ in pairs):
            query = urlencode([(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs], safe="*")
        if netloc == parts.netloc and query == parts.query:
            return url  # nothing to hide: the text as given (urlunsplit would rewrite sqlite:///)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return url.split("://", 1)[0] + "://" + MASK


def redact_urls(text: str) -> str:
    """Every URL in the text redacted; the rest as it is. Cheap when there is none."""
    if "://" not in text:
        return text
    return _URL.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    # Punctuation that ends a sentence or a repr is not part of the URL.
    url = match.group()
    core = url.rstrip(".,;:)]}")
    return redact_url(core) + url[len(core) :]
