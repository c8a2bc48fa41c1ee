"""The one validation vocabulary of the product (standard library only).

The stack config (infra/settings), the content (monitoring/) and the exporter's own config
(exporter/config.py) all refuse a bad value with `InvalidValue`, whose message is always
"`key = value` is invalid: allowed ...", and parse durations, URLs, image references, lists
of unique values, objects' keys, booleans, strings, lists and a market's local times with the
functions below. The exporter image
copies this package too.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Collection, Iterable, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlparse


class InvalidValue(ValueError):
    """A bad value: the message names the key, the value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(invalid_message(key, value, allowed))

    def at(self, prefix: str) -> InvalidValue:
        """The same error with `prefix.` in front of its key."""
        key = ".".join(part for part in (prefix, self.key) if part)
        return InvalidValue(key, self.value, self.allowed)


def invalid_message(key: str, value: object, allowed: str) -> str:
    return f"{key} = {value!r} is invalid: allowed {allowed}"


# --- durations (Prometheus / Alertmanager syntax: units in decreasing order) ----------------

DURATION_ALLOWED = 'a Prometheus duration such as "15s", "1m", "15d"'
_DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
_UNIT_SECONDS = {"y": 31536000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def is_duration(value: object) -> bool:
    return isinstance(value, str) and bool(value) and bool(_DURATION.match(value))


# Prometheus, Alertmanager and Loki parse durations into Go's time.Duration (int64
# nanoseconds): longer ones are refused ("duration out of range") or overflow.
MAX_DURATION_SECONDS = (2**63 - 1) // 10**9  # about 292 years


def duration_seconds(key: str, value: object, positive: bool = False) -> float:
    """Seconds of a Prometheus duration ("1h30m" -> 5400.0); refuses anything else, durations
    beyond Go's time.Duration, and with `positive` zero."""
    if not isinstance(value, str) or not is_duration(value):
        raise InvalidValue(key, value, DURATION_ALLOWED)
    seconds = sum(
        int(number) * _UNIT_SECONDS[unit]
        for number, unit in re.findall(r"(\d+)(ms|y|w|d|h|m|s)", value)
    )
    if seconds > MAX_DURATION_SECONDS:
        raise InvalidValue(key, value, f"{DURATION_ALLOWED}, at most 292y (Go's time.Duration)")
    if positive and seconds <= 0:
        raise InvalidValue(key, value, f"{DURATION_ALLOWED}, greater than 0")
    return seconds


def check_duration(key: str, value: object, positive: bool = False) -> str:
    duration_seconds(key, value, positive)
    assert isinstance(value, str)
    return value


# --- numbers ------------------------------------------------------------------------------


def check_number(
    key: str, value: object, low: float, high: float, integer: bool = False, open_low: bool = True
) -> float:
    """A finite number (not a bool, not a string) in (low, high] (`open_low`) or [low, high];
    with `integer`, a whole number (1800.9 is not silently truncated)."""
    kind = "a whole number" if integer else "a number"
    bounds = f"{'>' if open_low else '>='} {_plain(low)} and <= {_plain(high)}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(key, value, f"{kind} {bounds}")
    if not math.isfinite(value) or (integer and value != int(value)):
        raise InvalidValue(key, value, f"{kind} {bounds}")
    if value < low or (open_low and value == low) or value > high:
        raise InvalidValue(key, value, f"{kind} {bounds}")
    return value


def _plain(number: float) -> str:
    """1e18 -> "1000000000000000000", 0.5 -> "0.5" (no exponent in messages)."""
    return str(int(number)) if float(number).is_integer() else repr(number)


# --- host:port, URLs, image references, uniqueness -------------------------------------


# "host:port" (host name or IPv4 address); the groups name both parts.
HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):(?P<port>\d{1,5})$")
PORT_ALLOWED = "ports 1-65535"


def check_port(key: str, value: object, low: int = 1) -> int:
    """A TCP/UDP port number (an integer, not a bool or a string) from `low` to 65535."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 65535:
        raise InvalidValue(key, value, f"a port from {low} to 65535" if low > 1 else PORT_ALLOWED)
    return value


def check_host_port(key: str, value: object, allowed: str = "host:port") -> str:
    """ "host:port" with a port from 1 to 65535."""
    match = HOST_PORT.match(value) if isinstance(value, str) else None
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise InvalidValue(key, value, f"{allowed} (port 1-65535)")
    assert isinstance(value, str)
    return value


HOST_PATH_ALLOWED = "an absolute host path other than /, without '..', ':' or whitespace"


def check_host_path(key: str, value: object, what: str = HOST_PATH_ALLOWED) -> str:
    """A path on the host that a container mounts: absolute, not the root itself, no `..`
    (it would leave the directory it names), no ':' (Docker's bind syntax) or whitespace."""
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or value.rstrip("/") == ""
        or ".." in value.split("/")
        or ":" in value
        or any(ch.isspace() for ch in value)
        or "\0" in value
    ):
        raise InvalidValue(key, value, what)
    return value


# Go template (Alertmanager, Prometheus annotations, Grafana) and Jinja delimiters.
_TEMPLATE = re.compile(r"\{\{|\}\}|\{%|%\}")


def check_template_text(key: str, value: str) -> str:
    """Text meant as a Go template (an alert's summary or description): every `{{` closed by
    `}}` before the next one opens, no stray `}}`, no empty action. What Prometheus would
    refuse when it loads the rules (promtool check rules) is refused here, with the key."""
    allowed = "text whose {{ ... }} actions are closed and not empty (a Go template)"
    inside = False
    for delimiter in re.findall(r"\{\{|\}\}", value):
        if (delimiter == "{{") == inside:
            raise InvalidValue(key, value, allowed)
        inside = not inside
    if inside or re.search(r"\{\{-?\s*-?\}\}", value):
        raise InvalidValue(key, value, allowed)
    return value


def check_no_template(key: str, value: object) -> object:
    """Text that ends up inside a template (Alertmanager/Prometheus/Grafana) must not add
    template syntax of its own: it would be executed, or break the template."""
    if isinstance(value, str) and _TEMPLATE.search(value):
        raise InvalidValue(key, value, "text without template syntax ({{, }}, {%, %})")
    return value


def url_port_ok(url: str) -> bool:
    """A URL's port, if it names one, is 1-65535 ("host:0", "host:99999", "host:" are not)."""
    parsed = urlparse(url)
    try:
        port = parsed.port
    except ValueError:
        return False
    return port != 0 and not (port is None and parsed.netloc.endswith(":"))


def check_url(key: str, value: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.hostname:
        shown = " or ".join(f"{scheme}://" for scheme in schemes)
        raise InvalidValue(key, value, f"an {shown} URL with a host")
    check_no_template(key, value)
    if not url_port_ok(value):
        raise InvalidValue(key, value, "a URL with a port 1-65535 (or none)")
    if parsed.username is not None or parsed.password is not None:
        # The URL would spread into plain config, annotations and logs: never show the password.
        masked = value.replace(f":{parsed.password}@", ":***@", 1) if parsed.password else value
        raise InvalidValue(
            key,
            masked,
            "a URL without user:password@ (credentials go in secret config: see the README's"
            " Secrets section)",
        )
    return value


IMAGE_ALLOWED = 'a pinned image "repo:tag" (not latest) or "repo@sha256:<digest>"'
_IMAGE_REPO = re.compile(r"^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_IMAGE_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def check_image_tag(key: str, tag: str) -> str:
    """A Docker tag other than `latest` (any case)."""
    if not _IMAGE_TAG.match(tag) or tag.lower() == "latest":
        raise InvalidValue(key, tag, "a Docker tag other than 'latest'")
    return tag


def check_image_reference(key: str, ref: str) -> str:
    """A pinned image: "repo:tag" with a tag other than latest, or "repo@sha256:<digest>"."""
    name, _, digest = ref.partition("@")
    if digest and not _IMAGE_DIGEST.match(digest):
        raise InvalidValue(key, ref, IMAGE_ALLOWED)
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        repo, tag = name[:colon], name[colon + 1 :]
        if not _IMAGE_TAG.match(tag) or tag.lower() == "latest":
            raise InvalidValue(key, ref, IMAGE_ALLOWED)
    elif not digest:
        raise InvalidValue(key, ref, IMAGE_ALLOWED)
    else:
        repo = name
    if not _IMAGE_REPO.match(repo):
        raise InvalidValue(key, ref, IMAGE_ALLOWED)
    return ref


def check_text(key: str, value: object, pattern: re.Pattern[str] | None, allowed: str) -> str:
    """A string (matching `pattern` when given)."""
    if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
        raise InvalidValue(key, value, allowed)
    return value


def check_list(key: str, value: object) -> list[Any]:
    """A list; unset (None) is the empty list."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidValue(key, value, "a list")
    return value


def check_bool(key: str, value: object, default: bool | None = None) -> bool:
    """true or false; unset (None) is `default` where there is one."""
    if value is None and default is not None:
        return default
    if not isinstance(value, bool):
        raise InvalidValue(key, value, "true or false")
    return value


def check_keys(key: str, value: object, allowed: Collection[str]) -> Mapping[str, Any]:
    """A mapping with only `allowed` keys (a typo must not be silently ignored)."""
    if not isinstance(value, Mapping):
        raise InvalidValue(key, value, f"an object with keys {', '.join(allowed)}")
    for name in value:
        if name not in allowed:
            path = f"{key}.{name}" if key else str(name)
            raise InvalidValue(path, value[name], f"keys {', '.join(allowed)}")
    return value


def check_unique(key: str, values: Iterable[object], what: str = "values") -> None:
    """Refuse the first value that appears twice."""
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise InvalidValue(key, value, f"unique {what} (this one appears twice)")
        seen.add(value)


# --- a market's local times: time zone, sessions, dates, weekdays --------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # Monday = 0
SESSION_ALLOWED = '"HH:MM-HH:MM" with start before end, end up to 24:00'
_SESSION = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_timezone(key: str, value: object) -> str:
    """An IANA time zone name."""
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(key, value, "an IANA time zone, e.g. Asia/Seoul") from None
    return value


def _minute(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def session_minutes(key: str, value: object) -> tuple[int, int]:
    """A local session "09:00-11:30" as minutes after midnight: (540, 690); end up to 1440."""
    if not isinstance(value, str) or not _SESSION.match(value) or value[:5] >= value[6:]:
        raise InvalidValue(key, value, SESSION_ALLOWED)
    return _minute(value[:5]), _minute(value[6:])


def close_minute(key: str, value: object) -> int:
    """An early close "HH:MM" (after 00:00, up to 24:00) as minutes after midnight."""
    if isinstance(value, str):
        try:
            return session_minutes(key, f"00:00-{value}")[1]
        except InvalidValue:
            pass
    raise InvalidValue(key, value, '"HH:MM" after 00:00, up to 24:00')


def check_date(key: str, value: object) -> str:
    """A calendar date "YYYY-MM-DD"."""
    try:
        if not isinstance(value, str) or not _DATE.match(value):
            raise ValueError(value)
        date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(key, value, "a date 'YYYY-MM-DD' (quoted)") from None
    return value


def check_weekday(key: str, value: object) -> str:
    if value not in WEEKDAYS:
        raise InvalidValue(key, value, ", ".join(WEEKDAYS))
    assert isinstance(value, str)
    return value
