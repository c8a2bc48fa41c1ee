"""Typed, validated exporter configuration (YAML file + command-line flags).

Every bad value raises `ConfigError` naming the key, the value and what is allowed; the CLI
prints it as one line and exits with code 2 before anything else happens.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from exporter.layout import COLLECTORS, INCREMENTAL_TABLES, SQL_METRICS
from validation import (
    WEEKDAYS,
    InvalidValue,
    check_bool,
    check_date,
    check_keys,
    check_list,
    check_timezone,
    check_unique,
    check_weekday,
    close_minute,
    session_minutes,
)

DEFAULT_ENDPOINTS = ("quotes", "ohlcv", "orders", "account", "auth")
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIDES = ("buy", "sell")
OTHER_ENDPOINT = "other"
DEFAULT_LISTEN = "0.0.0.0:9188"
DEFAULT_REFRESH_INTERVAL = 15.0
DEFAULT_TIMEOUT = 10.0
# Loading exchange calendars runs pandas in a child process; give it more time.
DEFAULT_MARKET_STATUS_TIMEOUT = 60.0
# Built-in intervals that differ from refresh_interval (which, when set, applies to all):
# the stale-data thresholds are 30 minutes and more, so OHLCV checks every minute suffice.
DEFAULT_COLLECTOR_INTERVALS: Mapping[str, float] = {"data_quality": 60.0}
# Full recounts of the incremental tallies (and the first count at start-up).
DEFAULT_RECONCILE_INTERVAL = 3600.0
DEFAULT_RECONCILE_TIMEOUT = 3600.0
DEFAULT_MAX_TAIL = 50_000
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
MIN_INTERVAL, MAX_INTERVAL = 0.1, 86_400.0

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}$")
_CALENDAR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_]{1,15}$")


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
class ReconcileSettings:
    """The scheduled full recount of the incremental tallies; `timeout` also bounds the first
    count at start-up."""

    interval: float = DEFAULT_RECONCILE_INTERVAL
    timeout: float = DEFAULT_RECONCILE_TIMEOUT


@dataclass(frozen=True)
class TableSettings:
    """How a table's tally finds new rows: `watermark` is a column that grows with every
    insert (None: recount the whole table every run); `max_tail` in its units."""

    watermark: str | None
    max_tail: int = DEFAULT_MAX_TAIL
    default: bool = False  # the dialect's default, not named in the file (may be missing)


@dataclass(frozen=True)
class TableOverride:
    watermark: str | None = None  # None: the dialect's default
    full_scan: bool = False  # `watermark: none`
    max_tail: int | None = None


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
    reconcile: ReconcileSettings = ReconcileSettings()
    tables: Mapping[str, TableOverride] = field(default_factory=dict)
    # Per-collector built-in intervals; cleared once refresh_interval is set (file or flag).
    collector_intervals: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_COLLECTOR_INTERVALS)
    )

    @property
    def market_codes(self) -> tuple[str, ...]:
        return tuple(m.code for m in self.markets)

    def collector(self, name: str) -> CollectorSettings:
        """Settings of one collector: its own entry, else the global interval and timeout."""
        own = self.collectors.get(name, CollectorOverride())
        timeout = self.timeout
        if name == "market_status":
            timeout = max(timeout, DEFAULT_MARKET_STATUS_TIMEOUT)
        interval = self.collector_intervals.get(name, self.refresh_interval)
        return CollectorSettings(
            interval=own.interval if own.interval is not None else interval,
            timeout=own.timeout if own.timeout is not None else timeout,
            enabled=own.enabled,
        )

    def table(self, name: str, dialect: str) -> TableSettings:
        """A table's watermark: the file's, else SQLite's rowid / PostgreSQL's `id`."""
        own = self.tables.get(name, TableOverride())
        watermark = own.watermark or ("rowid" if dialect == "sqlite" else "id")
        max_tail = own.max_tail if own.max_tail is not None else DEFAULT_MAX_TAIL
        default = own.watermark is None and not own.full_scan
        return TableSettings(None if own.full_scan else watermark, max_tail, default)


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
    return Session(*session_minutes(key, value))


def parse_interval(value: object, key: str, text: bool = False) -> float:
    """Seconds: a number in the config (no "30" for 30), text only from a command-line flag."""
    allowed = f"a number of seconds from {MIN_INTERVAL} to {MAX_INTERVAL:.0f}"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | str)
        or (isinstance(value, str) and not text)
    ):
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


def _parse_market(raw: object, key: str) -> MarketConfig:
    data = check_keys(
        key,
        raw,
        ("code", "timezone", "calendar", "sessions", "weekdays", "holidays", "early_closes"),
    )
    code = parse_market_code(data.get("code"), f"{key}.code")
    tz = check_timezone(f"{key}.timezone", data.get("timezone"))
    calendar = data.get("calendar")
    if calendar is not None and (not isinstance(calendar, str) or not _CALENDAR.match(calendar)):
        raise ConfigError(
            f"{key}.calendar", calendar, "an exchange_calendars name (e.g. XNYS, 24/7) or omitted"
        )
    raw_sessions = data.get("sessions", [])
    sessions = tuple(
        parse_session(s, f"{key}.sessions[{i}]")
        for i, s in enumerate(check_list(f"{key}.sessions", raw_sessions))
    )
    if calendar is None and not sessions:
        raise ConfigError(f"{key}.sessions", raw_sessions, "a non-empty list when no calendar")
    raw_weekdays = check_list(f"{key}.weekdays", data.get("weekdays", list(WEEKDAYS[:5])))
    weekdays = [
        WEEKDAYS.index(check_weekday(f"{key}.weekdays[{i}]", day))
        for i, day in enumerate(raw_weekdays)
    ]
    holidays = [
        check_date(f"{key}.holidays[{i}]", day)
        for i, day in enumerate(check_list(f"{key}.holidays", data.get("holidays", [])))
    ]
    early_closes = []
    for i, entry in enumerate(check_list(f"{key}.early_closes", data.get("early_closes", []))):
        item = check_keys(f"{key}.early_closes[{i}]", entry, ("date", "close"))
        day = check_date(f"{key}.early_closes[{i}].date", item.get("date"))
        minute = close_minute(f"{key}.early_closes[{i}].close", item.get("close"))
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


def _sections(
    raw: object, section: str, names: tuple[str, ...], keys: tuple[str, ...]
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(name, its key, its mapping) of each entry of a `section: {name: {...}}` mapping."""
    data = check_keys(section, raw, names)
    for name, entry in data.items():
        key = f"{section}.{name}"
        item = check_keys(key, entry, keys)
        yield name, key, item


def _parse_collectors(raw: object) -> dict[str, CollectorOverride]:
    result = {}
    for name, key, item in _sections(
        raw, "collectors", COLLECTORS, ("interval", "timeout", "enabled")
    ):
        interval, timeout = item.get("interval"), item.get("timeout")
        enabled = check_bool(f"{key}.enabled", item.get("enabled"), True)
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
        item = check_keys(key, entry, ("sql", "value_column", "enabled"))
        sql = item.get("sql")
        if sql is not None and (not isinstance(sql, str) or not sql.strip()):
            raise ConfigError(f"{key}.sql", sql, "a non-empty SQL SELECT statement")
        column = item.get("value_column", "value")
        if not isinstance(column, str) or not column:
            raise ConfigError(f"{key}.value_column", column, "a column name")
        result[name] = MetricOverride(
            sql=sql, value_column=column, enabled=check_bool(key, item.get("enabled"), True)
        )
    return result


def _parse_reconcile(raw: object) -> ReconcileSettings:
    data = check_keys("reconcile", raw, ("interval", "timeout"))
    defaults = ReconcileSettings()
    return ReconcileSettings(
        interval=parse_interval(data.get("interval", defaults.interval), "reconcile.interval"),
        timeout=parse_interval(data.get("timeout", defaults.timeout), "reconcile.timeout"),
    )


def _parse_tables(raw: object) -> dict[str, TableOverride]:
    result = {}
    for name, key, item in _sections(raw, "tables", INCREMENTAL_TABLES, ("watermark", "max_tail")):
        watermark = item.get("watermark")
        full_scan = watermark == "none"
        valid = isinstance(watermark, str) and _IDENTIFIER.match(watermark) is not None
        if watermark is not None and not full_scan and not valid:
            raise ConfigError(
                f"{key}.watermark",
                watermark,
                "a column name (letters, digits, _) that grows with every insert, or none",
            )
        max_tail = item.get("max_tail")
        if max_tail is not None and (
            isinstance(max_tail, bool) or not isinstance(max_tail, int) or max_tail < 0
        ):
            raise ConfigError(f"{key}.max_tail", max_tail, "a whole number >= 0")
        result[name] = TableOverride(
            watermark=None if full_scan else watermark, full_scan=full_scan, max_tail=max_tail
        )
    return result


def parse_config(raw: object) -> ExporterConfig:
    """Build an ExporterConfig from parsed YAML (a mapping; empty means defaults)."""
    top_keys = (
        "markets",
        "endpoints",
        "histogram_buckets",
        "max_strategies",
        "refresh_interval",
        "timeout",
        "collectors",
        "metrics",
        "reconcile",
        "tables",
    )
    data = check_keys("", _require_mapping(raw if raw is not None else {}, "(top level)"), top_keys)
    config = default_config()
    if "markets" in data:
        raw_markets = check_list("markets", data["markets"])
        if not raw_markets:
            raise ConfigError("markets", raw_markets, "at least one market")
        markets = tuple(_parse_market(m, f"markets[{i}]") for i, m in enumerate(raw_markets))
        check_unique("markets", (m.code for m in markets), "market codes")
        config = replace(config, markets=markets)
    if "endpoints" in data:
        endpoints = check_list("endpoints", data["endpoints"])
        for i, ep in enumerate(endpoints):
            parse_market_code(ep, f"endpoints[{i}]")
        if not endpoints or len(endpoints) > 30 or len(set(endpoints)) != len(endpoints):
            raise ConfigError("endpoints", endpoints, "1 to 30 distinct names")
        config = replace(config, endpoints=tuple(endpoints))
    if "histogram_buckets" in data:
        buckets = check_list("histogram_buckets", data["histogram_buckets"])
        ok = all(
            isinstance(b, int | float) and not isinstance(b, bool) and math.isfinite(b)
            for b in buckets
        )
        if not buckets or not ok or list(buckets) != sorted(set(buckets)) or buckets[0] <= 0:
            raise ConfigError("histogram_buckets", buckets, "increasing positive finite numbers")
        config = replace(config, histogram_buckets=tuple(float(b) for b in buckets))
    if "max_strategies" in data:
        value = data["max_strategies"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
            raise ConfigError("max_strategies", value, "an integer from 1 to 1000")
        config = replace(config, max_strategies=value)
    if "refresh_interval" in data:
        config = replace(
            config,
            refresh_interval=parse_interval(data["refresh_interval"], "refresh_interval"),
            collector_intervals={},
        )
    if "timeout" in data:
        config = replace(config, timeout=parse_interval(data["timeout"], "timeout"))
    if "collectors" in data:
        config = replace(config, collectors=_parse_collectors(data["collectors"]))
    if "metrics" in data:
        config = replace(config, metrics=_parse_metrics(data["metrics"]))
    if "reconcile" in data:
        config = replace(config, reconcile=_parse_reconcile(data["reconcile"]))
    if "tables" in data:
        config = replace(config, tables=_parse_tables(data["tables"]))
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
        config = replace(config, refresh_interval=refresh_interval, collector_intervals={})
    if timeout is not None:
        config = replace(config, timeout=timeout)
    return config
