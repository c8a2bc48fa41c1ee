"""Mask passwords in connection strings before they reach a log line or an error message.

Covers every DSN form the exporter accepts or a driver may echo: URL user info
(`postgresql://user:secret@host/db`), URL query parameters (`?password=secret`) and libpq
key=value strings (`host=db password=secret`, `password='se cret'`). Any key ending in
`password`, `passwd` or `pwd` (`sslpassword`, `db_password`) is masked.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://user:password@host — greedy up to the last "@" of the authority (an unencoded "@"
# in the password stays masked), never past "/", "?", "#" or whitespace.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/?#@\s]*):[^/?#\s]*@")
# key=value in a query string or a libpq conninfo; a quoted libpq value may hold spaces and
# backslash escapes.
_KEY_VALUE = re.compile(r"(?i)(\b\w*(?:password|passwd|pwd)\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&;#]*)")


def mask_passwords(text: str) -> str:
    """`text` with every password of a DSN replaced by ***."""
    text = _USERINFO.sub(rf"\1:{MASK}@", text)
    return _KEY_VALUE.sub(rf"\g<1>{MASK}", text)
