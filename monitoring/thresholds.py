"""Alert thresholds, `for` durations and SLO objectives: parameters with sensible defaults.

`ContentSettings.thresholds` carries one `AlertThresholds`; ratios are 0-1, durations are
Prometheus duration strings ("5m"), ages and sizes are in seconds and bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class AlertThresholds:
    # Data quality.
    collection_success_ratio_min: float = 0.8
    collection_for: str = "10m"
    # No collection run started in this window while the market was open all of it.
    collection_stalled_window: str = "30m"
    stale_data_warning_seconds: int = 30 * 60  # newest bar older than this while open
    stale_data_critical_seconds: int = 2 * 3600
    stale_data_for: str = "5m"
    market_data_missing_for: str = "30m"
    data_integrity_for: str = "5m"  # rows without market, tickers in several markets
    # API health.
    api_error_ratio_warning: float = 0.05
    api_error_warning_for: str = "5m"
    api_error_ratio_critical: float = 0.20
    api_error_critical_for: str = "2m"
    api_rate_limit_ratio: float = 0.8
    api_rate_limit_for: str = "2m"
    api_latency_p95_seconds: float = 2.0
    api_latency_for: str = "5m"
    # Performance.
    collector_duration_seconds: float = 1.0  # one exporter collector = its database queries
    collector_duration_for: str = "5m"
    memory_usage_ratio: float = 0.8
    memory_usage_ratio_critical: float = 0.95
    memory_for: str = "5m"
    cpu_usage_ratio: float = 0.9  # share of all cores busy (not idle/iowait/steal)
    cpu_for: str = "15m"
    container_memory_limit_ratio: float = 0.9
    container_memory_for: str = "5m"
    database_growth_bytes_per_day: float = 500e6
    database_growth_for: str = "1h"
    # System health.
    target_down_for: str = "2m"
    disk_free_ratio_warning: float = 0.15
    disk_free_ratio_critical: float = 0.05
    disk_for: str = "5m"
    # Free bytes below this on a filesystem larger than it (seed: "free space < 10GB").
    disk_free_bytes_minimum: float = 10e9
    backup_max_age_seconds: int = 48 * 3600
    backup_for: str = "10m"
    # Trading.
    order_failure_ratio: float = 0.10
    order_failure_for: str = "5m"
    position_limit_ratio_warning: float = 0.9
    position_limit_ratio_critical: float = 1.0
    position_limit_for: str = "5m"
    # Meta-monitoring.
    meta_for: str = "10m"
    exporter_down_for: str = "2m"
    exporter_database_down_for: str = "2m"
    exporter_collector_failing_for: str = "2m"  # gating collectors (critical)
    component_error_ratio: float = 0.05  # Grafana / Loki 5xx share of requests
    remote_write_behind_seconds: int = 120  # newest sample sent vs. newest appended
    remote_write_for: str = "15m"
    tsdb_compaction_for: str = "10m"
    # The stack's own pods and volumes (Kubernetes: kube-state-metrics, kubelet volume stats).
    kubernetes_for: str = "15m"  # crash-looping or not-ready pod, replicas short
    volume_full_ratio: float = 0.9  # used share of a persistent volume
    volume_full_for: str = "5m"
    # Predicted to fill within `volume_fill_days`, judged over `volume_fill_window`, once less
    # than `volume_fill_free_ratio` is free (a fresh volume's first growth is not a trend).
    volume_fill_days: int = 4
    volume_fill_window: str = "6h"
    volume_fill_free_ratio: float = 0.5
    volume_fill_for: str = "1h"
    # SLOs (30-day objectives).
    api_availability_objective: float = 0.995
    data_freshness_objective: float = 0.99
    data_freshness_max_age_seconds: int = 15 * 60  # "fresh" while the market is open
    # Evaluation interval of the SLO 30-day rule groups (dashboards only; shorten in tests).
    slo_period_interval: str = "5m"


@dataclass(frozen=True)
class BurnRateWindow:
    short: str
    long: str
    factor: float
    severity: Literal["critical", "warning"]


# The SRE workbook's multi-window multi-burn-rate alerts (as Sloth generates them).
BURN_RATE_WINDOWS: tuple[BurnRateWindow, ...] = (
    BurnRateWindow("5m", "1h", 14.4, "critical"),
    BurnRateWindow("30m", "6h", 6.0, "critical"),
    BurnRateWindow("2h", "1d", 3.0, "warning"),
    BurnRateWindow("6h", "3d", 1.0, "warning"),
)


@dataclass(frozen=True)
class ServiceThresholds:
    """Probe alert levels and `for` durations of the user's services (`services`)."""

    # One minute longer than TargetDown's 2m: a down target's inhibition is in place first.
    probe_failing_for: str = "3m"
    probe_slow_seconds: float = 2.0
    probe_slow_for: str = "5m"
    tls_expiry_warning_days: float = 14
    tls_expiry_critical_days: float = 3
    tls_expiry_for: str = "15m"
    probe_timeout: str = "5s"
    # The SRE-workbook windows; the live test shortens them.
    burn_rate_windows: tuple[BurnRateWindow, ...] = BURN_RATE_WINDOWS


RATIO_FIELDS: tuple[str, ...] = (
    "collection_success_ratio_min",
    "api_error_ratio_warning",
    "api_error_ratio_critical",
    "api_rate_limit_ratio",
    "memory_usage_ratio",
    "memory_usage_ratio_critical",
    "cpu_usage_ratio",
    "container_memory_limit_ratio",
    "disk_free_ratio_warning",
    "disk_free_ratio_critical",
    "order_failure_ratio",
    "component_error_ratio",
    "volume_full_ratio",
    "volume_fill_free_ratio",
    "position_limit_ratio_warning",
    "position_limit_ratio_critical",
)
OBJECTIVE_FIELDS: tuple[str, ...] = ("api_availability_objective", "data_freshness_objective")
_YEAR = 365 * 86400
# The other numbers: (low, high) with low excluded; seconds, bytes and days are never 0 (an
# alert at 0 fires always or never) and never beyond a year of seconds / an exabyte.
NUMBER_BOUNDS: dict[str, tuple[float, float]] = {
    "stale_data_warning_seconds": (0, _YEAR),
    "stale_data_critical_seconds": (0, _YEAR),
    "api_latency_p95_seconds": (0, 3600),
    "collector_duration_seconds": (0, 3600),
    "database_growth_bytes_per_day": (0, 1e18),
    "disk_free_bytes_minimum": (0, 1e18),
    "backup_max_age_seconds": (0, _YEAR),
    "remote_write_behind_seconds": (0, 86400),
    "volume_fill_days": (0, 365),
    "data_freshness_max_age_seconds": (0, _YEAR),
}
# Warning and critical levels of one alert, in that order: (warning, critical, high_is_bad).
LEVEL_PAIRS: tuple[tuple[str, str, bool], ...] = (
    ("api_error_ratio_warning", "api_error_ratio_critical", True),
    ("memory_usage_ratio", "memory_usage_ratio_critical", True),
    ("position_limit_ratio_warning", "position_limit_ratio_critical", True),
    ("stale_data_warning_seconds", "stale_data_critical_seconds", True),
    ("disk_free_ratio_warning", "disk_free_ratio_critical", False),
)
# Range windows (`[window]`, increase() periods) must be longer than 0.
WINDOW_FIELDS: tuple[str, ...] = ("collection_stalled_window", "volume_fill_window")
DURATION_FIELDS: tuple[str, ...] = (
    *(name for name in AlertThresholds.__dataclass_fields__ if name.endswith("_for")),
    "collection_stalled_window",
    "volume_fill_window",
    "slo_period_interval",
)


@dataclass(frozen=True)
class ComponentThresholds:
    """Thresholds and `for` durations of the component alerts (ratios 0-1, seconds, bytes)."""

    down_for: str = "2m"
    postgres_connections_ratio: float = 0.8
    postgres_connections_for: str = "5m"
    postgres_long_transaction_seconds: int = 300
    postgres_idle_in_transaction_seconds: int = 60
    postgres_transaction_for: str = "2m"
    postgres_replication_lag_bytes: int = 100 * 1024 * 1024
    postgres_replication_lag_seconds: int = 60
    postgres_replication_for: str = "5m"
    postgres_rollback_ratio: float = 0.1
    postgres_min_transactions_per_second: float = 0.1  # below this the ratios mean little
    postgres_rollback_for: str = "10m"
    postgres_cache_hit_ratio_min: float = 0.9
    postgres_min_blocks_per_second: float = 100.0
    postgres_cache_hit_for: str = "15m"
    # pg_exporter_last_scrape_error flaps while a database is being set up.
    postgres_exporter_errors_for: str = "30m"
    redis_memory_ratio: float = 0.9
    redis_memory_for: str = "5m"
    redis_clients_ratio: float = 0.8
    redis_clients_for: str = "5m"
    redis_rdb_max_age_seconds: int = 24 * 3600
    redis_rdb_for: str = "10m"
    redis_restart_window_seconds: int = 600
    nginx_active_connections_max: int = 1000
    nginx_active_connections_for: str = "5m"
