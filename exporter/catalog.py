"""Every metric the exporter exposes: the single source of truth.

The collectors build their families from these specs, and the metric-contract test checks that
every rule and dashboard query only names metrics listed here (or a named standard exporter's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PREFIX = "trading"

MetricType = Literal["gauge", "counter", "histogram", "info"]


@dataclass(frozen=True)
class MetricSpec:
    name: str  # full name, without the _total / _bucket suffixes the exposition adds
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()


def _m(name: str, type_: MetricType, help_: str, *labels: str) -> MetricSpec:
    return MetricSpec(f"{PREFIX}_{name}", type_, help_, tuple(labels))


# Data quality, per market (cached aggregates).
OHLCV_ROWS = _m("ohlcv_rows", "gauge", "OHLCV rows stored per market.", "market")
TICKERS = _m("tickers", "gauge", "Distinct tickers with OHLCV rows per market.", "market")
OHLCV_LAST_UPDATE = _m(
    "ohlcv_last_update_timestamp_seconds",
    "gauge",
    "Unix time of the newest OHLCV bar per market.",
    "market",
)
OHLCV_ROWS_MISSING_MARKET = _m(
    "ohlcv_rows_missing_market", "gauge", "OHLCV rows whose market is NULL or empty."
)
TICKERS_IN_MULTIPLE_MARKETS = _m(
    "tickers_in_multiple_markets", "gauge", "Tickers that appear in more than one market."
)
# Data collection, per market.
COLLECTION_ATTEMPTS = _m(
    "collection_attempts", "counter", "Data-collection runs started per market.", "market"
)
COLLECTION_SUCCESSES = _m(
    "collection_successes", "counter", "Data-collection runs that succeeded per market.", "market"
)
COLLECTION_FAILURES = _m(
    "collection_failures", "counter", "Data-collection runs that failed per market.", "market"
)
# API health, per market and endpoint.
API_REQUESTS = _m("api_requests", "counter", "Broker/data API requests.", "market", "endpoint")
API_FAILURES = _m(
    "api_failures", "counter", "Broker/data API requests that failed.", "market", "endpoint"
)
API_REQUEST_DURATION = _m(
    "api_request_duration_seconds",
    "histogram",
    "Broker/data API request latency.",
    "market",
    "endpoint",
)
API_RATE_LIMIT_USAGE = _m(
    "api_rate_limit_usage_ratio",
    "gauge",
    "Share of the API rate limit used in the current window (0-1).",
    "market",
    "endpoint",
)
# Database.
DATABASE_SIZE = _m("database_size_bytes", "gauge", "Size of the trading database.")
DATABASE_LAST_BACKUP = _m(
    "database_last_backup_timestamp_seconds", "gauge", "Unix time of the newest successful backup."
)
# Trading.
ORDERS = _m("orders", "counter", "Orders submitted per market and side.", "market", "side")
ORDERS_FAILED = _m(
    "orders_failed", "counter", "Orders rejected or failed per market and side.", "market", "side"
)
OPEN_POSITIONS = _m("open_positions", "gauge", "Open positions per market.", "market")
POSITION_EXPOSURE = _m(
    "position_exposure",
    "gauge",
    "Gross exposure of open positions per market, in the account's base currency.",
    "market",
)
POSITION_LIMIT_USAGE = _m(
    "position_limit_usage_ratio",
    "gauge",
    "Largest position as a share of its limit per market (0-1).",
    "market",
)
STRATEGY_REALISED_PNL = _m(
    "strategy_realised_pnl",
    "gauge",
    "Realised P&L per strategy, in the account's base currency.",
    "strategy",
)
# Market status, from exchange calendars or configured hours.
MARKET_OPEN = _m("market_open", "gauge", "1 while the market is in session, else 0.", "market")
# Host, as seen by the exporter (process_* comes from prometheus_client).
HOST_MEMORY_AVAILABLE = _m("host_memory_available_bytes", "gauge", "Memory available on the host.")
HOST_MEMORY_TOTAL = _m("host_memory_total_bytes", "gauge", "Memory installed on the host.")
HOST_DISK_FREE = _m(
    "host_disk_free_bytes", "gauge", "Free space on the filesystem that holds the database."
)
HOST_CPU_USAGE = _m("host_cpu_usage_ratio", "gauge", "Host CPU usage over the last interval (0-1).")
# The exporter's own health.
EXPORTER_DATABASE_UP = _m(
    "exporter_database_up", "gauge", "1 if the last database check succeeded, else 0."
)
EXPORTER_COLLECTOR_DURATION = _m(
    "exporter_collector_duration_seconds",
    "gauge",
    "Duration of the last run of each collector.",
    "collector",
)
EXPORTER_COLLECTOR_SUCCESS = _m(
    "exporter_collector_success",
    "gauge",
    "1 if the last run of each collector succeeded, else 0.",
    "collector",
)
EXPORTER_COLLECTOR_LAST_SUCCESS = _m(
    "exporter_collector_last_success_timestamp_seconds",
    "gauge",
    "Unix time of the last successful run of each collector.",
    "collector",
)
EXPORTER_RECONCILIATION_SUCCESS = _m(
    "exporter_reconciliation_success",
    "gauge",
    "1 if the last full recount of each collector's incremental counts succeeded, else 0.",
    "collector",
)
EXPORTER_RECONCILIATION_DURATION = _m(
    "exporter_reconciliation_duration_seconds",
    "gauge",
    "Duration of the last full recount of each collector's incremental counts.",
    "collector",
)
EXPORTER_RECONCILIATION_LAST_SUCCESS = _m(
    "exporter_reconciliation_last_success_timestamp_seconds",
    "gauge",
    "Unix time of the last successful full recount of each collector's incremental counts.",
    "collector",
)
EXPORTER_BUILD = _m(
    "exporter_build", "info", "Exporter build information.", "version", "python_version"
)

ALL: tuple[MetricSpec, ...] = tuple(
    v for v in list(globals().values()) if isinstance(v, MetricSpec)
)
