"""Typed, validated exporter configuration (YAML file + command-line flags).

Every bad value raises `ConfigError` naming the key, the value and what is allowed; the CLI
prints it as one line and exits with code 2 before anything else happens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from exporter.layout import COLLECTORS, SQL_METRICS
from validation import InvalidValue, check_unique

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_ENDPOINTS = ("quotes", "ohlcv", "orders", "account", "auth")
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIDES = ("buy", "sell")
OTHER_ENDPOINT = "other"
DEFAULT_LISTEN = "0.0.0.0:9188"
DEFAULT_REFRESH_INTERVAL = 15.0
DEFAULT_TIMEOUT = 10.0
# Loading exchange calendars runs pandas in a child process; give it more time.
DEFAULT_MARKET_STATUS_TIMEOUT = 60.0
MIN_INTERVAL, MAX_INTERVAL = 0.1, 86_400.0

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}$")
_CALENDAR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_]{1,15}$")
_SESSION = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# A bad exporter configuration value: the product's one error type and message form.
ConfigError = InvalidValue


@dataclass(frozen=True)
class Session:
    """One trading session in local time, minutes after midnight (end may be 1440)."""

    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class MarketConfig:
    code: str  # the `market` label value
    timezone: str
    calendar: str | None = None  # exchange_calendars code; None: use `sessions`
    sessions: tuple[Session, ...] = ()
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    holidays: tuple[str, ...] = ()  # "YYYY-MM-DD" local dates, for `sessions` markets
    early_closes: tuple[tuple[str, int], ...] = ()  # ("YYYY-MM-DD", close minute), local


@dataclass(frozen=True)
class CollectorSettings:
    interval: float
    timeout: float
    enabled: bool = True


@dataclass(frozen=True)
class CollectorOverride:
    """A collector's own entry in the file; None inherits the global value."""

    interval: float | None = None
    timeout: float | None = None
    enabled: bool = True


@dataclass(frozen=True)
class MetricOverride:
    """Replace a metric's SQL (columns: one per label plus `value`, or `le`/`count`/`sum`)."""

    sql: str | None = None
    value_column: str = "value"
    enabled: bool = True


@dataclass(frozen=True)
class ExporterConfig:
    markets: tuple[MarketConfig, ...]
    endpoints: tuple[str, ...] = DEFAULT_ENDPOINTS
    histogram_buckets: tuple[float, ...] = DEFAULT_BUCKETS
    max_strategies: int = 50
    refresh_interval: float = DEFAULT_REFRESH_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    collectors: Mapping[str, CollectorOverride] = field(default_factory=dict)
    metrics: Mapping[str, MetricOverride] = field(default_factory=dict)

    @property
    def market_codes(self) -> tuple[str, ...]:
        return tuple(m.code for m in self.markets)

    def collector(self, name: str) -> CollectorSettings:
        """Settings of one collector: its own entry, else the global interval and timeout."""
        own = self.collectors.get(name, CollectorOverride())
        timeout = self.timeout
        if name == "market_status":
            timeout = max(timeout, DEFAULT_MARKET_STATUS_TIMEOUT)
        return CollectorSettings(
            interval=own.interval if own.interval is not None else self.refresh_interval,
            timeout=own.timeout if own.timeout is not None else timeout,
            enabled=own.enabled,
        )


def _weekday_sessions(*spans: str) -> tuple[Session, ...]:
    return tuple(parse_session(s, "sessions") for s in spans)


def default_markets() -> tuple[MarketConfig, ...]:
    return (
        MarketConfig("kr", "Asia/Seoul", calendar="XKRX"),
        MarketConfig("us", "America/New_York", calendar="XNYS"),
        MarketConfig("cn", "Asia/Shanghai", calendar="XSHG"),
        MarketConfig("hk", "Asia/Hong_Kong", calendar="XHKG"),
        MarketConfig("jp", "Asia/Tokyo", calendar="XTKS"),
        MarketConfig(
            "vn", "Asia/Ho_Chi_Minh", sessions=_weekday_sessions("09:00-11:30", "13:00-14:45")
        ),
    )


def default_config() -> ExporterConfig:
    return ExporterConfig(markets=default_markets())


# --- value parsers (each raises ConfigError naming `key`) ------------------------------------


def parse_session(value: object, key: str) -> Session:
    allowed = '"HH:MM-HH:MM" local time, start before end, end at most 24:00'
    match = _SESSION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(key, value, allowed)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or start >= end:
        raise ConfigError(key, value, allowed)
    return Session(start, end)


def parse_close(value: object, key: str) -> int:
    """An early close "HH:MM" (after 00:00, up to 24:00) as minutes after midnight."""
    try:
        if not isinstance(value, str):
            raise ConfigError(key, value, "")
        return parse_session(f"00:00-{value}", key).end_minute
    except ConfigError:
        raise ConfigError(key, value, '"HH:MM" local time after 00:00, up to 24:00') from None


def parse_interval(value: object, key: str) -> float:
    allowed = f"a number of seconds from {MIN_INTERVAL} to {MAX_INTERVAL:.0f}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(key, value, allowed)
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(key, value, allowed) from None
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise ConfigError(key, value, allowed)
    return seconds


def parse_market_code(value: object, key: str) -> str:
    if not isinstance(value, str) or not _CODE.match(value):
        raise ConfigError(key, value, "a lowercase code like 'kr' (1-24 of a-z, 0-9, _ and -)")
    return value


def parse_market_codes(value: str, key: str) -> tuple[str, ...]:
    codes = tuple(c.strip() for c in value.split(","))
    for code in codes:
        parse_market_code(code, key)
    check_unique(key, codes, "market codes")
    return codes


def _require_mapping(value: object, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "a mapping")
    return value


def _require_list(value: object, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(key, value, "a list")
    return value


def _check_keys(mapping: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> None:
    for name in mapping:
        if name not in allowed:
            prefix = f"{key}." if key else ""
            raise ConfigError(f"{prefix}{name}", mapping[name], f"known keys: {', '.join(allowed)}")


def _parse_bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, value, "true or false")
    return value


def _parse_market(raw: object, key: str) -> MarketConfig:
    data = _require_mapping(raw, key)
    _check_keys(
        data,
        key,
        ("code", "timezone", "calendar", "sessions", "weekdays", "holidays", "early_closes"),
    )
    code = parse_market_code(data.get("code"), f"{key}.code")
    tz = data.get("timezone")
    try:
        if not isinstance(tz, str):
            raise ZoneInfoNotFoundError
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key}.timezone", tz, "an IANA time zone like 'Asia/Seoul'") from None
    calendar = data.get("calendar")
    if calendar is not None and (not isinstance(calendar, str) or not _CALENDAR.match(calendar)):
        raise ConfigError(
            f"{key}.calendar", calendar, "an exchange_calendars name (e.g. XNYS, 24/7) or omitted"
        )
    raw_sessions = data.get("sessions", [])
    sessions = tuple(
        parse_session(s, f"{key}.sessions[{i}]")
        for i, s in enumerate(_require_list(raw_sessions, f"{key}.sessions"))
    )
    if calendar is None and not sessions:
        raise ConfigError(f"{key}.sessions", raw_sessions, "a non-empty list when no calendar")
    weekdays = []
    raw_weekdays = data.get("weekdays", list(WEEKDAYS[:5]))
    for i, day in enumerate(_require_list(raw_weekdays, f"{key}.weekdays")):
        if day not in WEEKDAYS:
            raise ConfigError(f"{key}.weekdays[{i}]", day, ", ".join(WEEKDAYS))
        weekdays.append(WEEKDAYS.index(day))
    holidays = []
    for i, day in enumerate(_require_list(data.get("holidays", []), f"{key}.holidays")):
        if not isinstance(day, str) or not _DATE.match(day):
            raise ConfigError(f"{key}.holidays[{i}]", day, "a date 'YYYY-MM-DD' (quoted)")
        holidays.append(day)
    early_closes = []
    for i, entry in enumerate(_require_list(data.get("early_closes", []), f"{key}.early_closes")):
        item = _require_mapping(entry, f"{key}.early_closes[{i}]")
        _check_keys(item, f"{key}.early_closes[{i}]", ("date", "close"))
        day = item.get("date")
        if not isinstance(day, str) or not _DATE.match(day):
            raise ConfigError(f"{key}.early_closes[{i}].date", day, "a date 'YYYY-MM-DD' (quoted)")
        close = item.get("close")
        minute = parse_close(close, f"{key}.early_closes[{i}].close")
        early_closes.append((day, minute))
    # Explicit sessions win over a calendar: that is how tests pin a market open or closed.
    return MarketConfig(
        code=code,
        timezone=tz,
        calendar=None if sessions else calendar,
        sessions=sessions,
        weekdays=tuple(sorted(set(weekdays))),
        holidays=tuple(holidays),
        early_closes=tuple(early_closes),
    )


def _parse_collectors(raw: object) -> dict[str, CollectorOverride]:
    data = _require_mapping(raw, "collectors")
    _check_keys(data, "collectors", COLLECTORS)
    result = {}
    for name, entry in data.items():
        key = f"collectors.{name}"
        item = _require_mapping(entry, key)
        _check_keys(item, key, ("interval", "timeout", "enabled"))
        interval, timeout = item.get("interval"), item.get("timeout")
        enabled = _parse_bool(item.get("enabled", True), f"{key}.enabled")
        if name == "database" and not enabled:
            raise ConfigError(f"{key}.enabled", False, "true (it probes the database for /readyz)")
        result[name] = CollectorOverride(
            interval=None if interval is None else parse_interval(interval, f"{key}.interval"),
            timeout=None if timeout is None else parse_interval(timeout, f"{key}.timeout"),
            enabled=enabled,
        )
    return result


def _parse_metrics(raw: object) -> dict[str, MetricOverride]:
    data = _require_mapping(raw, "metrics")
    result = {}
    for name, entry in data.items():
        if name not in SQL_METRICS:
            raise ConfigError(
                f"metrics.{name}", name, "a database-backed metric: " + ", ".join(SQL_METRICS)
            )
        key = f"metrics.{name}"
        item = _require_mapping(entry, key)
        _check_keys(item, key, ("sql", "value_column", "enabled"))
        sql = item.get("sql")
        if sql is not None and (not isinstance(sql, str) or not sql.strip()):
            raise ConfigError(f"{key}.sql", sql, "a non-empty SQL SELECT statement")
        column = item.get("value_column", "value")
        if not isinstance(column, str) or not column:
            raise ConfigError(f"{key}.value_column", column, "a column name")
        result[name] = MetricOverride(
            sql=sql, value_column=column, enabled=_parse_bool(item.get("enabled", True), key)
        )
    return result


def parse_config(raw: object) -> ExporterConfig:
    """Build an ExporterConfig from parsed YAML (a mapping; empty means defaults)."""
    data = _require_mapping(raw if raw is not None else {}, "(top level)")
    top_keys = (
        "markets",
        "endpoints",
        "histogram_buckets",
        "max_strategies",
        "refresh_interval",
        "timeout",
        "collectors",
        "metrics",
    )
    _check_keys(data, "", top_keys)
    config = default_config()
    if "markets" in data:
        raw_markets = _require_list(data["markets"], "markets")
        if not raw_markets:
            raise ConfigError("markets", raw_markets, "at least one market")
        markets = tuple(_parse_market(m, f"markets[{i}]") for i, m in enumerate(raw_markets))
        check_unique("markets", (m.code for m in markets), "market codes")
        config = replace(config, markets=markets)
    if "endpoints" in data:
        endpoints = _require_list(data["endpoints"], "endpoints")
        for i, ep in enumerate(endpoints):
            parse_market_code(ep, f"endpoints[{i}]")
        if not endpoints or len(endpoints) > 30 or len(set(endpoints)) != len(endpoints):
            raise ConfigError("endpoints", endpoints, "1 to 30 distinct names")
        config = replace(config, endpoints=tuple(endpoints))
    if "histogram_buckets" in data:
        buckets = _require_list(data["histogram_buckets"], "histogram_buckets")
        ok = all(isinstance(b, int | float) and not isinstance(b, bool) for b in buckets)
        if not buckets or not ok or list(buckets) != sorted(set(buckets)) or buckets[0] <= 0:
            raise ConfigError("histogram_buckets", buckets, "increasing positive numbers")
        config = replace(config, histogram_buckets=tuple(float(b) for b in buckets))
    if "max_strategies" in data:
        value = data["max_strategies"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
            raise ConfigError("max_strategies", value, "an integer from 1 to 1000")
        config = replace(config, max_strategies=value)
    if "refresh_interval" in data:
        config = replace(
            config, refresh_interval=parse_interval(data["refresh_interval"], "refresh_interval")
        )
    if "timeout" in data:
        config = replace(config, timeout=parse_interval(data["timeout"], "timeout"))
    if "collectors" in data:
        config = replace(config, collectors=_parse_collectors(data["collectors"]))
    if "metrics" in data:
        config = replace(config, metrics=_parse_metrics(data["metrics"]))
    return config


def load_config(path: str | None) -> ExporterConfig:
    """Read and validate the YAML config file; None means the built-in defaults."""
    if path is None:
        return default_config()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("--config", path, f"a readable YAML file ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError("--config", path, f"valid YAML (parse error{line})") from None
    return parse_config(raw)


def with_overrides(
    config: ExporterConfig,
    *,
    refresh_interval: float | None = None,
    timeout: float | None = None,
) -> ExporterConfig:
    """Apply command-line flags; they win over the file for collectors without own entries."""
    if refresh_interval is not None:
        config = replace(config, refresh_interval=refresh_interval)
    if timeout is not None:
        config = replace(config, timeout=timeout)
    return config
