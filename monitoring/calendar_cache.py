"""A small on-disk cache of what `exchange_calendars` returns.

Loading a calendar needs pandas (a third of a second to import) and some calendars take
seconds to build (XKRX computes its lunar holidays 1970-2200 whatever range is asked), so synth
keeps the library's answers under `$XDG_CACHE_HOME/trading-monitoring/` (default
`~/.cache/trading-monitoring/`). Entries hold the library's own answer, never a value derived
from it, so changing our code needs no invalidation; the directory is keyed by the versions of
the packages the answer depends on, so an upgrade starts a new cache. An unreadable entry is
recomputed; an unwritable directory only costs time.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

# What the calendars' sessions depend on (tzdata: the time zone rules they were computed with).
PACKAGES = ("exchange_calendars", "pandas", "korean_lunar_calendar", "tzdata")
FORMAT = 1  # raise when what an entry holds changes


@functools.cache
def version_key() -> str:
    """e.g. "v1_exchange_calendars-4.13.2_pandas-3.1.1_...": a directory per combination."""
    versions = (f"{package}-{metadata.version(package)}" for package in PACKAGES)
    return "_".join((f"v{FORMAT}", *versions))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "trading-monitoring" / version_key()


def _path(key: str) -> Path:
    return cache_dir() / f"{quote(key, safe='')}.json"


def load(key: str) -> Any | None:
    """The stored JSON value, or None when missing or unreadable."""
    try:
        return json.loads(_path(key).read_text())
    except (OSError, ValueError):
        return None


def store(key: str, value: Any) -> None:
    """Write atomically (a concurrent reader sees the old entry or the new one)."""
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    except OSError:
        return
    try:
        with os.fdopen(descriptor, "w") as handle:
            json.dump(value, handle)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
