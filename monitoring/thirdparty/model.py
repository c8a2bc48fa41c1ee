"""The `trading-monitoring:components` stack config as validated plain data.

Every bad value raises `validation.InvalidValue` (key relative to `components`, e.g.
`postgres[0].address`): one line naming the key, the value and what is allowed.
Passwords are never here: only the name of the flat secret key that holds each one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from validation import InvalidValue, check_host_port, check_unique, check_url

CONFIG_KEY = "components"
KINDS = ("postgres", "redis", "nginx")
Kind = Literal["postgres", "redis", "nginx"]
# lib/pq (postgres_exporter's driver) knows only these; "prefer" and "allow" make it fail.
SSL_MODES = ("disable", "require", "verify-ca", "verify-full")

# A name becomes a label value, a container/Deployment name suffix and a Grafana variable value.
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
_DATABASE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,62}$")
# A flat secret key of the stack config (camelCase, like every other key): `cachePassword`.
SECRET_KEY = re.compile(r"^[a-z][A-Za-z0-9]{0,63}$")


def _check_secret_key(key: str, value: str) -> None:
    if not SECRET_KEY.match(value):
        raise InvalidValue(
            key, value, 'the name of a flat secret config key, e.g. "tradingDbPassword"'
        )


class _Model(BaseModel):
    """camelCase keys; unknown keys are errors (a typo must not be silently ignored); no
    coercion ("yes" is not true)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, strict=True
    )


class PostgresInstance(_Model):
    name: str
    address: str  # host:port
    database: str
    user: str
    password_secret: str
    sslmode: str = "require"  # lib/pq's default
    replication_lag_queries: bool = False  # ship our extend-queries file (replica lag, seconds)
    # This is the database the bundled exporter reads: its collector alerts are muted while
    # this database is down.
    exporter_database: bool = False

    def check(self, key: str) -> None:
        check_host_port(f"{key}.address", self.address, 'host:port, e.g. "db.internal:5432"')
        if not _DATABASE.match(self.database):
            raise InvalidValue(f"{key}.database", self.database, "a PostgreSQL database name")
        if not _USER.match(self.user):
            raise InvalidValue(f"{key}.user", self.user, "a PostgreSQL role name")
        _check_secret_key(f"{key}.passwordSecret", self.password_secret)
        if self.sslmode not in SSL_MODES:
            raise InvalidValue(f"{key}.sslmode", self.sslmode, f"one of {SSL_MODES}")


class RedisInstance(_Model):
    name: str
    address: str  # redis://host:port or rediss://host:port
    password_secret: str | None = None  # unset: Redis without AUTH

    def check(self, key: str) -> None:
        parsed = urlparse(self.address)
        allowed = 'redis://host:port or rediss://host:port, e.g. "redis://cache.internal:6379"'
        try:
            port = parsed.port
        except ValueError:
            port = None
        if (
            parsed.scheme not in ("redis", "rediss")
            or not parsed.hostname
            or not port  # None or 0 (65536+ raise above)
            or parsed.username
            or parsed.password
            or parsed.path not in ("", "/")
            or parsed.query
        ):
            raise InvalidValue(f"{key}.address", self.address, allowed)
        if self.password_secret is not None:
            _check_secret_key(f"{key}.passwordSecret", self.password_secret)


class NginxInstance(_Model):
    name: str
    status_url: str  # the stub_status page

    def check(self, key: str) -> None:
        check_url(f"{key}.statusUrl", self.status_url)


Instance = PostgresInstance | RedisInstance | NginxInstance


class Components(_Model):
    postgres: tuple[PostgresInstance, ...] = ()
    redis: tuple[RedisInstance, ...] = ()
    nginx: tuple[NginxInstance, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Components:
        for kind in KINDS:
            for index, instance in enumerate(self.of(kind)):
                key = f"{kind}[{index}]"
                if not _NAME.match(instance.name):
                    raise InvalidValue(
                        f"{key}.name",
                        instance.name,
                        "1-40 of a-z, 0-9 and -, starting and ending with a letter or digit",
                    )
                instance.check(key)
            check_unique(f"{kind}[].name", (i.name for i in self.of(kind)), f"{kind} names")
        marked = [p.name for p in self.postgres if p.exporter_database]
        if len(marked) > 1:
            raise InvalidValue("postgres[].exporterDatabase", marked, "true on one entry at most")
        return self

    def of(self, kind: Kind | str) -> Sequence[Instance]:
        instances: Sequence[Instance] = getattr(self, kind)
        return instances

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """The component types with at least one instance, in KINDS order."""
        present: tuple[Kind, ...] = ("postgres", "redis", "nginx")
        return tuple(k for k in present if self.of(k))

    def password_secrets(self) -> dict[str, str]:
        """secret key -> the setting that names it (for the "is it set, as a secret?" check)."""
        needed: dict[str, str] = {}
        for kind in ("postgres", "redis"):
            for index, instance in enumerate(self.of(kind)):
                secret = getattr(instance, "password_secret", None)
                if secret is not None:
                    needed.setdefault(secret, f"{CONFIG_KEY}.{kind}[{index}].passwordSecret")
        return needed


NO_COMPONENTS = Components()


def parse_components(raw: Mapping[str, Any] | None) -> Components:
    """Validate a raw `components` object outside the stack config (tests, tools); raise
    InvalidValue with the key under `components` (the stack config reports every problem)."""
    if raw is None:
        return NO_COMPONENTS
    if not isinstance(raw, Mapping):
        raise InvalidValue(CONFIG_KEY, raw, "an object with postgres, redis and nginx lists")
    try:
        return Components.model_validate_json(json.dumps(raw))  # JSON: arrays are tuples
    except ValidationError as error:
        raise _first_problem(error).at(CONFIG_KEY) from None


def _first_problem(error: ValidationError) -> InvalidValue:
    err = error.errors()[0]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidValue):
        return cause
    key = ""
    for part in err["loc"]:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    if err["type"] == "missing":
        return InvalidValue(key, None, "a value (this key is required)")
    if err["type"] == "extra_forbidden":
        return InvalidValue(key, err.get("input"), "only the documented keys")
    allowed = err["msg"].replace("Input should be ", "")
    return InvalidValue(key, err.get("input"), allowed)
