"""The one validation vocabulary of the product (standard library only).

The stack config (infra/settings), the content (monitoring/) and the exporter's own config
(exporter/config.py) all refuse a bad value with `InvalidValue`, whose message is always
"`key = value` is invalid: allowed ...", and parse durations, URLs, image references and lists
of unique values with the functions below. The exporter image copies this package too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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


def duration_seconds(key: str, value: object) -> float:
    """Seconds of a Prometheus duration ("1h30m" -> 5400.0); refuses anything else."""
    if not isinstance(value, str) or not is_duration(value):
        raise InvalidValue(key, value, DURATION_ALLOWED)
    return sum(
        int(number) * _UNIT_SECONDS[unit]
        for number, unit in re.findall(r"(\d+)(ms|y|w|d|h|m|s)", value)
    )


def check_duration(key: str, value: object) -> str:
    duration_seconds(key, value)
    assert isinstance(value, str)
    return value


# --- host:port, URLs, image references, uniqueness -------------------------------------


# "host:port" (host name or IPv4 address); the groups name both parts.
HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):(?P<port>\d{1,5})$")


def check_url(key: str, value: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.hostname:
        shown = " or ".join(f"{scheme}://" for scheme in schemes)
        raise InvalidValue(key, value, f"an {shown} URL with a host")
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


def check_unique(key: str, values: Iterable[object], what: str = "values") -> None:
    """Refuse the first value that appears twice."""
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise InvalidValue(key, value, f"unique {what} (this one appears twice)")
        seen.add(value)
