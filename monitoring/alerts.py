"""Our alert and recording rules, as data built from `ContentSettings.thresholds`.

Every expression names only metrics from `exporter/catalog.py`, a standard exporter
(`monitoring/standard_metrics.py`) or a recording rule below; `tests/monitoring` proves it.
Aggregations keep `job` so that inhibition can mute the data alerts of a target that is down.
"""

from __future__ import annotations

import functools

from monitoring import dashboard_uids as uids
from monitoring import jobs
from monitoring.availability import exposed_names, prune_rule_groups
from monitoring.market_hours import holiday_window_end_timestamp
from monitoring.rules import AlertRule, RecordingRule, RuleGroup, Severity, num
from monitoring.self_watch import kubernetes_rule_group, prometheus_storage_alerts
from monitoring.service_rules import service_rule_groups
from monitoring.settings import ContentSettings
from monitoring.slo import slo_rule_groups
from monitoring.thirdparty.rules import component_rule_groups
from monitoring.tuning import AlertTuning, tune_groups

MARKET_DASHBOARD = uids.market_uid("{{ $labels.market }}")
# Filesystems worth alerting on: not in-memory or image layers.
REAL_FILESYSTEMS = 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|autofs"'


# Each recording rule an alert reads comes first in that alert's group: Prometheus evaluates a
# group's rules in order, so the alert sees this evaluation's value (no extra interval).
COLLECTION_SUCCESS_1H = RecordingRule(
    "market:trading_collection_success:ratio_rate1h",
    "sum by (job, market) (rate(trading_collection_successes_total[1h]))"
    " / sum by (job, market) (rate(trading_collection_attempts_total[1h]))",
)
API_FAILURE_RATIO_5M = RecordingRule(
    "market_endpoint:trading_api_failures:ratio_rate5m",
    "sum by (job, market, endpoint) (rate(trading_api_failures_total[5m]))"
    " / sum by (job, market, endpoint) (rate(trading_api_requests_total[5m]))",
)
API_LATENCY_P95_5M = RecordingRule(
    "market_endpoint:trading_api_request_duration_seconds:p95_rate5m",
    "histogram_quantile(0.95, sum by (job, market, endpoint, le)"
    " (rate(trading_api_request_duration_seconds_bucket[5m])))",
)
ORDER_FAILURE_RATIO_5M = RecordingRule(
    "market:trading_orders_failed:ratio_rate5m",
    "sum by (job, market) (rate(trading_orders_failed_total[5m]))"
    " / sum by (job, market) (rate(trading_orders_total[5m]))",
)
MEMORY_UTILISATION = RecordingRule(
    "instance:node_memory_utilisation:ratio",
    "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
)
CPU_UTILISATION = RecordingRule(
    "instance:node_cpu_utilisation:ratio_rate5m",
    # Busy share of all cores: 1 - (idle + iowait + steal seconds per second) / cores.
    "1 - sum without (cpu, mode)"
    ' (rate(node_cpu_seconds_total{mode=~"idle|iowait|steal"}[5m]))'
    ' / count without (cpu, mode) (node_cpu_seconds_total{mode="idle"})',
)
FILESYSTEM_AVAILABLE = RecordingRule(
    "instance_mountpoint:node_filesystem_avail:ratio",
    f"node_filesystem_avail_bytes{{{REAL_FILESYSTEMS}}}"
    f" / node_filesystem_size_bytes{{{REAL_FILESYSTEMS}}}",
)


def _data_quality(settings: ContentSettings) -> tuple[AlertRule, ...]:
    t = settings.thresholds
    # Only once the market has been open for the whole limit: at the session open the newest
    # bar is the previous close's, and the first bar of the session needs a moment.
    stale = (
        "(time() - max by (job, market) (trading_ohlcv_last_update_timestamp_seconds)) > {age}"
        " and on (market) (max by (market) (min_over_time(trading_market_open[{age}s])) == 1)"
    )
    return (
        AlertRule(
            name="LowDataCollectionRate",
            expr=(
                "market:trading_collection_success:ratio_rate1h"
                f" < {num(t.collection_success_ratio_min)}"
            ),
            for_=t.collection_for,
            severity="warning",
            category="data_quality",
            summary="Data collection success is low in {{ $labels.market }}",
            description=(
                "Only {{ $value | humanizePercentage }} of data-collection runs in"
                " {{ $labels.market }} succeeded over the last hour"
                f" (minimum {num(t.collection_success_ratio_min * 100)}%)."
            ),
            dashboard_uid=MARKET_DASHBOARD,
        ),
        AlertRule(
            name="DataCollectionStalled",
            # A stopped collector starts no runs: its success ratio is 0/0 and never fires.
            expr=(
                "max by (job, market)"
                f" (min_over_time(trading_market_open[{t.collection_stalled_window}])) == 1"
                " unless on (market) (sum by (market)"
                f" (increase(trading_collection_attempts_total[{t.collection_stalled_window}]))"
                " > 0)"
            ),
            severity="warning",
            category="data_quality",
            summary="No data collection in {{ $labels.market }} while the market is open",
            description=(
                "No data-collection run started in {{ $labels.market }} in the last"
                f" {t.collection_stalled_window} although the market has been open all that"
                " time."
            ),
            dashboard_uid=MARKET_DASHBOARD,
        ),
        AlertRule(
            name="NullMarketDetected",
            expr="trading_ohlcv_rows_missing_market > 0",
            for_=t.data_integrity_for,
            severity="warning",
            category="data_quality",
            summary="OHLCV rows without a market",
            description=(
                "{{ $value }} OHLCV rows have a NULL or empty market; they are invisible to"
                " every per-market view."
            ),
            dashboard_uid=uids.DATA_QUALITY,
        ),
        AlertRule(
            name="CrossMarketContamination",
            expr="trading_tickers_in_multiple_markets > 0",
            for_=t.data_integrity_for,
            severity="warning",
            category="data_quality",
            summary="Tickers stored under more than one market",
            description="{{ $value }} tickers appear in more than one market.",
            dashboard_uid=uids.DATA_QUALITY,
        ),
        AlertRule(
            name="StaleMarketData",
            expr=stale.format(age=t.stale_data_warning_seconds),
            for_=t.stale_data_for,
            severity="warning",
            category="data_quality",
            summary="Market data of {{ $labels.market }} is stale while the market is open",
            description=(
                "The newest OHLCV bar of {{ $labels.market }} is {{ $value | humanizeDuration }}"
                f" old (limit {t.stale_data_warning_seconds}s) during the trading session."
            ),
            dashboard_uid=MARKET_DASHBOARD,
        ),
        AlertRule(
            name="StaleMarketData",
            expr=stale.format(age=t.stale_data_critical_seconds),
            for_=t.stale_data_for,
            severity="critical",
            category="data_quality",
            summary="Market data of {{ $labels.market }} is stale while the market is open",
            description=(
                "The newest OHLCV bar of {{ $labels.market }} is {{ $value | humanizeDuration }}"
                f" old (limit {t.stale_data_critical_seconds}s) during the trading session."
            ),
            dashboard_uid=MARKET_DASHBOARD,
        ),
        AlertRule(
            name="MarketDataMissing",
            expr=(
                # Rows must be reported as 0: withheld series (a failing data_quality
                # collector) are ExporterCollectorFailing, not missing data.
                "max by (job, market) (trading_market_open)"
                " and on (market) (max by (market) (trading_ohlcv_rows) == 0)"
            ),
            for_=t.market_data_missing_for,
            severity="warning",
            category="data_quality",
            summary="No OHLCV data at all for market {{ $labels.market }}",
            description=(
                "Market {{ $labels.market }} is configured but the database holds no OHLCV rows"
                " for it."
            ),
            dashboard_uid=MARKET_DASHBOARD,
        ),
    )


def _api(settings: ContentSettings) -> tuple[AlertRule, ...]:
    t = settings.thresholds
    error_rate = "market_endpoint:trading_api_failures:ratio_rate5m > {ratio}"
    rules = []
    levels: tuple[tuple[Severity, float, str], ...] = (
        ("warning", t.api_error_ratio_warning, t.api_error_warning_for),
        ("critical", t.api_error_ratio_critical, t.api_error_critical_for),
    )
    for severity, ratio, for_ in levels:
        rules.append(
            AlertRule(
                name="HighAPIErrorRate",
                expr=error_rate.format(ratio=num(ratio)),
                for_=for_,
                severity=severity,
                category="api",
                summary="API errors on {{ $labels.market }}/{{ $labels.endpoint }}",
                description=(
                    "{{ $value | humanizePercentage }} of API requests to"
                    " {{ $labels.endpoint }} in {{ $labels.market }} failed over 5 minutes"
                    f" (limit {num(ratio * 100)}%)."
                ),
                dashboard_uid=uids.API,
            )
        )
    rules += [
        AlertRule(
            name="APIRateLimitApproaching",
            expr=(
                "max by (job, market, endpoint) (trading_api_rate_limit_usage_ratio)"
                f" > {num(t.api_rate_limit_ratio)}"
            ),
            for_=t.api_rate_limit_for,
            severity="warning",
            category="api",
            summary="API rate limit nearly used on {{ $labels.market }}/{{ $labels.endpoint }}",
            description=(
                "{{ $value | humanizePercentage }} of the rate limit of {{ $labels.endpoint }}"
                " in {{ $labels.market }} is used"
                f" (limit {num(t.api_rate_limit_ratio * 100)}%)."
            ),
            dashboard_uid=uids.API,
        ),
        AlertRule(
            name="HighAPILatency",
            expr=(
                "market_endpoint:trading_api_request_duration_seconds:p95_rate5m"
                f" > {num(t.api_latency_p95_seconds)}"
            ),
            for_=t.api_latency_for,
            severity="warning",
            category="api",
            summary="Slow API responses on {{ $labels.market }}/{{ $labels.endpoint }}",
            description=(
                "p95 latency of {{ $labels.endpoint }} in {{ $labels.market }} is"
                " {{ $value | humanizeDuration }}"
                f" (limit {num(t.api_latency_p95_seconds)}s)."
            ),
            dashboard_uid=uids.API,
        ),
    ]
    return tuple(rules)


def _performance(settings: ContentSettings) -> tuple[AlertRule, ...]:
    t = settings.thresholds
    memory_levels: tuple[tuple[Severity, float], ...] = (
        ("warning", t.memory_usage_ratio),
        ("critical", t.memory_usage_ratio_critical),
    )
    return (
        AlertRule(
            name="SlowDatabaseQuery",
            expr=(
                f"trading_exporter_collector_duration_seconds > {num(t.collector_duration_seconds)}"
            ),
            for_=t.collector_duration_for,
            severity="warning",
            category="performance",
            summary="Exporter collector {{ $labels.collector }} queries the database slowly",
            description=(
                "The last run of collector {{ $labels.collector }} took"
                " {{ $value | humanizeDuration }}"
                f" (limit {num(t.collector_duration_seconds)}s)."
            ),
            dashboard_uid=uids.DATABASE,
        ),
        *(
            AlertRule(
                name="HighMemoryUsage",
                expr=f"instance:node_memory_utilisation:ratio > {num(ratio)}",
                for_=t.memory_for,
                severity=severity,
                category="performance",
                summary="Memory usage is high on {{ $labels.instance }}",
                description=(
                    "{{ $value | humanizePercentage }} of the memory of {{ $labels.instance }}"
                    f" is in use (limit {num(ratio * 100)}%)."
                ),
                dashboard_uid=uids.SYSTEM,
            )
            for severity, ratio in memory_levels
        ),
        AlertRule(
            name="HostCpuSaturated",
            expr=f"instance:node_cpu_utilisation:ratio_rate5m > {num(t.cpu_usage_ratio)}",
            for_=t.cpu_for,
            severity="warning",
            category="performance",
            summary="The CPUs of {{ $labels.instance }} are saturated",
            description=(
                "{{ $value | humanizePercentage }} of the CPU time of {{ $labels.instance }}"
                f" is busy (limit {num(t.cpu_usage_ratio * 100)}%, for {t.cpu_for}):"
                " collectors and queries queue for CPU."
            ),
            dashboard_uid=uids.SYSTEM,
        ),
        AlertRule(
            name="ContainerMemoryNearLimit",
            expr=(
                'container_memory_working_set_bytes{image!=""}'
                ' / container_spec_memory_limit_bytes{image!=""}'
                f" > {num(t.container_memory_limit_ratio)}"
                ' and container_spec_memory_limit_bytes{image!=""} > 0'
            ),
            for_=t.container_memory_for,
            severity="warning",
            category="performance",
            # Docker's cAdvisor names containers in `name`; the kubelet's in `container`/`pod`.
            summary=(
                "Container {{ or $labels.container $labels.name }} is close to its memory limit"
            ),
            description=(
                "Container {{ or $labels.container $labels.name }}"
                "{{ with $labels.pod }} (pod {{ $labels.namespace }}/{{ . }}){{ end }}"
                " ({{ $labels.image }}) on {{ $labels.instance }}"
                " uses {{ $value | humanizePercentage }} of its memory limit"
                f" (limit {num(t.container_memory_limit_ratio * 100)}%)."
            ),
            dashboard_uid=uids.SYSTEM,
        ),
        AlertRule(
            name="RapidDatabaseGrowth",
            expr=(
                "deriv(trading_database_size_bytes[1h]) * 86400"
                f" > {num(t.database_growth_bytes_per_day)}"
            ),
            for_=t.database_growth_for,
            severity="warning",
            category="performance",
            summary="The trading database grows fast",
            description=(
                "The database grows by {{ $value | humanize1024 }}B per day"
                f" (limit {num(t.database_growth_bytes_per_day / 1e6)} MB per day)."
            ),
            dashboard_uid=uids.DATABASE,
        ),
    )


def _system(settings: ContentSettings) -> tuple[AlertRule, ...]:
    t = settings.thresholds
    rules = [
        AlertRule(
            name="TargetDown",
            expr=f'up{{job!="{jobs.EXPORTER}"}} == 0',
            for_=t.target_down_for,
            severity="warning",
            category="system",
            summary="Scrape target {{ $labels.job }}/{{ $labels.instance }} is down",
            description=(
                "Prometheus cannot scrape {{ $labels.instance }} of job {{ $labels.job }}"
                "{{ with $labels.market }} (market {{ . }}){{ end }}."
            ),
            dashboard_uid=uids.META,
        ),
    ]
    levels: tuple[tuple[Severity, float], ...] = (
        ("warning", t.disk_free_ratio_warning),
        ("critical", t.disk_free_ratio_critical),
    )
    for severity, ratio in levels:
        rules.append(
            AlertRule(
                name="LowDiskSpace",
                expr=f"instance_mountpoint:node_filesystem_avail:ratio < {num(ratio)}",
                for_=t.disk_for,
                severity=severity,
                category="system",
                summary="Disk space is low on {{ $labels.instance }} {{ $labels.mountpoint }}",
                description=(
                    "Only {{ $value | humanizePercentage }} of {{ $labels.mountpoint }} on"
                    f" {{{{ $labels.instance }}}} is free (minimum {num(ratio * 100)}%)."
                ),
                dashboard_uid=uids.SYSTEM,
            )
        )
    minimum = num(t.disk_free_bytes_minimum)
    rules.append(
        AlertRule(
            name="LowDiskSpaceAbsolute",
            # Only filesystems larger than the limit: a smaller one could never meet it (the
            # ratio alert covers those).
            expr=(
                f"node_filesystem_avail_bytes{{{REAL_FILESYSTEMS}}} < {minimum}"
                f" and node_filesystem_size_bytes{{{REAL_FILESYSTEMS}}} > {minimum}"
            ),
            for_=t.disk_for,
            severity="warning",
            category="system",
            summary=(
                "Free space below the minimum on {{ $labels.instance }} {{ $labels.mountpoint }}"
            ),
            description=(
                "Only {{ $value | humanize1024 }}B are free on {{ $labels.mountpoint }} of"
                " {{ $labels.instance }} (minimum"
                f" {num(t.disk_free_bytes_minimum / 1e9)} GB)."
            ),
            dashboard_uid=uids.SYSTEM,
        )
    )
    rules.append(
        AlertRule(
            name="DatabaseBackupTooOld",
            expr=(
                "time() - trading_database_last_backup_timestamp_seconds"
                f" > {t.backup_max_age_seconds}"
            ),
            for_=t.backup_for,
            severity="warning",
            category="system",
            summary="The newest database backup is too old",
            description=(
                "The newest successful backup is {{ $value | humanizeDuration }} old"
                f" (limit {t.backup_max_age_seconds}s); decades mean none was ever recorded."
            ),
            dashboard_uid=uids.DATABASE,
        )
    )
    return tuple(rules)


def _trading(settings: ContentSettings) -> tuple[AlertRule, ...]:
    t = settings.thresholds
    rules = [
        AlertRule(
            name="HighOrderFailureRate",
            expr=f"market:trading_orders_failed:ratio_rate5m > {num(t.order_failure_ratio)}",
            for_=t.order_failure_for,
            severity="warning",
            category="trading",
            summary="Orders fail in {{ $labels.market }}",
            description=(
                "{{ $value | humanizePercentage }} of orders in {{ $labels.market }} failed over"
                f" 5 minutes (limit {num(t.order_failure_ratio * 100)}%)."
            ),
            dashboard_uid=uids.TRADING,
        )
    ]
    levels: tuple[tuple[Severity, float, str], ...] = (
        ("warning", t.position_limit_ratio_warning, ">"),
        ("critical", t.position_limit_ratio_critical, ">="),
    )
    for severity, ratio, op in levels:
        rules.append(
            AlertRule(
                name="PositionLimitApproaching",
                expr=(
                    f"max by (job, market) (trading_position_limit_usage_ratio) {op} {num(ratio)}"
                ),
                for_=t.position_limit_for,
                severity=severity,
                category="trading",
                summary="A position in {{ $labels.market }} is near its limit",
                description=(
                    "The largest position in {{ $labels.market }} uses"
                    " {{ $value | humanizePercentage }} of its limit"
                    f" (threshold {num(ratio * 100)}%)."
                ),
                dashboard_uid=uids.TRADING,
            )
        )
    return tuple(rules)


def _error_ratio(metric: str, selector: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}{{{selector}}}[5m])) / sum by ({by}) (rate({metric}[5m]))"


# Exporter collectors whose metrics gate other alerts: `trading_market_open` (market_status)
# and the OHLCV row counts and newest-bar times (data_quality). The exporter withholds a
# failed collector's series, so while one fails the stale/missing-data alerts cannot fire.
GATING_COLLECTORS: tuple[str, ...] = ("market_status", "data_quality")


def _collector_failing(settings: ContentSettings) -> tuple[AlertRule, ...]:
    t = settings.thresholds
    gating = "|".join(GATING_COLLECTORS)
    withheld = (
        "The last run of collector {{ $labels.collector }} on {{ $labels.instance }} failed;"
        " the exporter withholds its metrics until a run succeeds, so alerts on them cannot fire"
    )
    return (
        AlertRule(
            name="ExporterCollectorFailing",
            expr=f'trading_exporter_collector_success{{collector=~"{gating}"}} == 0',
            for_=t.exporter_collector_failing_for,
            severity="critical",
            category="meta",
            summary="Exporter collector {{ $labels.collector }} fails",
            description=(
                withheld + ": market-hours and data-freshness alerts (stale or missing market"
                " data) are blind."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="ExporterCollectorFailing",
            expr=f'trading_exporter_collector_success{{collector!~"{gating}"}} == 0',
            for_=t.meta_for,
            severity="warning",
            category="meta",
            summary="Exporter collector {{ $labels.collector }} fails",
            description=withheld + ".",
            dashboard_uid=uids.META,
        ),
    )


def _meta(settings: ContentSettings) -> tuple[AlertRule, ...]:
    t = settings.thresholds
    exporter_up = f'up{{job="{jobs.EXPORTER}"}}'
    return (
        AlertRule(
            name="Watchdog",
            expr="vector(1)",
            severity="none",
            category="meta",
            summary="Alerting pipeline heartbeat",
            description=(
                "Always firing. It proves that Prometheus evaluates rules and Alertmanager"
                " delivers; the dead man's switch pages when it stops arriving."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="ExporterDown",
            expr=f"{exporter_up} == 0 or absent({exporter_up})",
            for_=t.exporter_down_for,
            severity="critical",
            category="meta",
            summary="The trading exporter cannot be scraped",
            description=(
                "Prometheus has no successful scrape of the trading exporter: every data-quality,"
                " API and trading alert is blind."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="ExporterDatabaseDown",
            expr="trading_exporter_database_up == 0",
            for_=t.exporter_database_down_for,
            severity="critical",
            category="meta",
            summary="The exporter cannot read the trading database",
            description=(
                "The exporter on {{ $labels.instance }} failed its database check; its trading"
                " metrics are stale."
            ),
            dashboard_uid=uids.META,
        ),
        *_collector_failing(settings),
        AlertRule(
            name="ExporterReconciliationFailing",
            expr="trading_exporter_reconciliation_success == 0",
            for_=t.meta_for,
            severity="warning",
            category="meta",
            summary="Exporter recount of collector {{ $labels.collector }} fails",
            description=(
                "The last full recount of the incremental counts of collector"
                " {{ $labels.collector }} on {{ $labels.instance }} failed: rows deleted or"
                " updated since the last successful one are not reflected (counts stay as first"
                " seen) until one succeeds. The collector itself keeps serving."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="PrometheusConfigReloadFailed",
            expr="prometheus_config_last_reload_successful == 0",
            for_=t.meta_for,
            severity="warning",
            category="meta",
            summary="Prometheus {{ $labels.instance }} failed to reload its configuration",
            description=(
                "Prometheus {{ $labels.instance }} runs an old configuration because the last"
                " reload failed."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="PrometheusRuleEvaluationFailures",
            expr="increase(prometheus_rule_evaluation_failures_total[5m]) > 0",
            for_=t.meta_for,
            severity="warning",
            category="meta",
            summary="Prometheus fails to evaluate rule group {{ $labels.rule_group }}",
            description=(
                "{{ $value | humanize }} rule evaluations of {{ $labels.rule_group }} failed on"
                " {{ $labels.instance }} in 5 minutes: its alerts may not fire."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="PrometheusNotificationsFailing",
            expr="rate(prometheus_notifications_errors_total[5m]) > 0",
            for_=t.meta_for,
            severity="warning",
            category="meta",
            summary="Prometheus {{ $labels.instance }} cannot send alerts to an Alertmanager",
            description=(
                "Sending alerts from {{ $labels.instance }} to {{ $labels.alertmanager }} fails"
                " ({{ $value | humanize }} errors/s)."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="PrometheusAlertmanagersMissing",
            expr=(
                "prometheus_notifications_alertmanagers_discovered"
                f" < {len(settings.targets.alertmanagers)}"
            ),
            for_=t.meta_for,
            severity="warning",
            category="meta",
            summary="Prometheus {{ $labels.instance }} does not see every Alertmanager",
            description=(
                "Prometheus {{ $labels.instance }} sends alerts to {{ $value }} of the"
                f" {len(settings.targets.alertmanagers)} configured Alertmanagers."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="AlertmanagerClusterDegraded",
            # Only exported with clustering on (HA): the best-connected member must see all.
            expr=(
                "max by (job) (alertmanager_cluster_members)"
                f' < on (job) count by (job) (up{{job="{jobs.ALERTMANAGER}"}})'
            ),
            for_=t.meta_for,
            severity="warning",
            category="meta",
            summary="The Alertmanager cluster is missing members",
            description=(
                "The Alertmanager cluster has {{ $value }} members, fewer than the scraped"
                " instances: a partitioned member notifies on its own (duplicates)."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="AlertmanagerConfigReloadFailed",
            expr="alertmanager_config_last_reload_successful == 0",
            for_=t.meta_for,
            severity="warning",
            category="meta",
            summary="Alertmanager {{ $labels.instance }} failed to reload its configuration",
            description=(
                "Alertmanager {{ $labels.instance }} runs an old configuration because the last"
                " reload failed."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="AlertmanagerNotificationsFailing",
            expr=(
                "sum by (job, instance, integration)"
                " (rate(alertmanager_notifications_failed_total[5m])) > 0"
            ),
            for_=t.meta_for,
            severity="warning",
            category="meta",
            summary="Alertmanager fails to deliver {{ $labels.integration }} notifications",
            description=(
                "Alertmanager {{ $labels.instance }} fails to send {{ $labels.integration }}"
                " notifications ({{ $value | humanize }} failures/s)."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="GrafanaRequestErrors",
            expr=(
                _error_ratio(
                    "grafana_http_request_duration_seconds_count",
                    'status_code=~"5.."',
                    "job, instance",
                )
                + f" > {num(t.component_error_ratio)}"
            ),
            for_=t.meta_for,
            severity="warning",
            category="meta",
            summary="Grafana {{ $labels.instance }} answers with server errors",
            description=(
                "{{ $value | humanizePercentage }} of Grafana requests on {{ $labels.instance }}"
                f" fail with 5xx (limit {num(t.component_error_ratio * 100)}%)."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="LokiRequestErrors",
            expr=(
                _error_ratio(
                    "loki_request_duration_seconds_count",
                    'status_code=~"5.."',
                    "job, instance, route",
                )
                + f" > {num(t.component_error_ratio)}"
            ),
            for_=t.meta_for,
            severity="warning",
            category="meta",
            summary="Loki route {{ $labels.route }} answers with server errors",
            description=(
                "{{ $value | humanizePercentage }} of Loki requests to {{ $labels.route }} on"
                f" {{{{ $labels.instance }}}} fail with 5xx"
                f" (limit {num(t.component_error_ratio * 100)}%)."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="AlloyUnhealthyComponents",
            expr=(
                "sum by (job, instance)"
                ' (alloy_component_controller_running_components{health_type!="healthy"}) > 0'
            ),
            for_=t.meta_for,
            severity="warning",
            category="meta",
            summary="Alloy on {{ $labels.instance }} has unhealthy components",
            description=(
                "{{ $value }} Alloy components on {{ $labels.instance }} are unhealthy: logs may"
                " not reach Loki."
            ),
            dashboard_uid=uids.LOGS,
        ),
        AlertRule(
            name="AlloyLogsDropped",
            expr=("sum by (job, instance) (increase(loki_write_dropped_entries_total[15m])) > 0"),
            severity="warning",
            category="meta",
            summary="Alloy on {{ $labels.instance }} drops log entries",
            description=(
                "Alloy on {{ $labels.instance }} gave up on {{ $value | humanize }} log entries"
                " bound for Loki in the last 15 minutes: they are lost."
            ),
            dashboard_uid=uids.LOGS,
        ),
    )


HOLIDAY_WINDOW_END = "market:trading_holiday_window_end:timestamp_seconds"
HOLIDAY_WINDOW_WARNING_DAYS = 30


def _market_calendars(settings: ContentSettings) -> tuple[AlertRule | RecordingRule, ...]:
    """When each market's rendered holidays end (a constant per market, fixed at deploy time),
    and a warning a month before: the mute times know nothing after that day."""
    ends = [
        RecordingRule(HOLIDAY_WINDOW_END, f"vector({end})", (("market", market.code),))
        for market in settings.markets
        if (end := holiday_window_end_timestamp(market)) is not None
    ]
    days = HOLIDAY_WINDOW_WARNING_DAYS
    return (
        *ends,
        AlertRule(
            name="MarketHolidayWindowEnding",
            expr=f"{HOLIDAY_WINDOW_END} - time() < {days * 86400}",
            severity="warning",
            category="meta",
            summary="Holiday mute times of {{ $labels.market }} end soon",
            description=(
                "The holidays and early closes rendered into the mute times of market"
                " {{ $labels.market }} end in {{ $value | humanizeDuration }}"
                f" (warning {days} days before). Re-run `pulumi up` in the new year, upgrade"
                " exchange_calendars, or list the next year's holidays of a custom schedule."
            ),
            dashboard_uid=MARKET_DASHBOARD,
        ),
    )


def alert_rule_groups(settings: ContentSettings) -> tuple[RuleGroup, ...]:
    return (
        RuleGroup(
            "data-quality", "data_quality.yml", (COLLECTION_SUCCESS_1H, *_data_quality(settings))
        ),
        RuleGroup("api", "api.yml", (API_FAILURE_RATIO_5M, API_LATENCY_P95_5M, *_api(settings))),
        RuleGroup(
            "performance",
            "performance.yml",
            (MEMORY_UTILISATION, CPU_UTILISATION, *_performance(settings)),
        ),
        RuleGroup("system", "system.yml", (FILESYSTEM_AVAILABLE, *_system(settings))),
        RuleGroup("trading", "trading.yml", (ORDER_FAILURE_RATIO_5M, *_trading(settings))),
        RuleGroup("meta", "meta.yml", (*_meta(settings), *prometheus_storage_alerts(settings))),
        RuleGroup("market-calendars", "market_calendars.yml", _market_calendars(settings)),
    )


# Derived once per settings: the renderers, the notification model and the alert catalog
# all read the same (immutable) groups.
@functools.lru_cache(maxsize=8)
def all_rule_groups(
    settings: ContentSettings, tuning: AlertTuning | None = None
) -> tuple[RuleGroup, ...]:
    """Every rule group, without the rules built on exporter metrics nobody exposes, plus the
    declared components' and the user's services' groups, with the per-alert tuning applied."""
    components = component_rule_groups(settings.components, settings.component_thresholds)
    services = service_rule_groups(settings, settings.services, settings.service_thresholds)
    tuned = tuning if tuning is not None else settings.alerts
    return tune_groups(_available(settings)[0] + components + services, tuned)


def unavailable_series(settings: ContentSettings) -> frozenset[str]:
    """Series nobody exposes or records (missing exporter families, dropped recordings)."""
    return _available(settings)[1]


@functools.lru_cache(maxsize=8)
def _available(settings: ContentSettings) -> tuple[tuple[RuleGroup, ...], frozenset[str]]:
    kubernetes = kubernetes_rule_group(settings)  # the stack's own pods and volumes
    extra = (kubernetes,) if kubernetes else ()
    return prune_rule_groups(
        alert_rule_groups(settings) + extra + slo_rule_groups(settings),
        exposed_names(settings.exporter_missing_families),
        exporter_job=not settings.exporter_enabled,
    )


def alert_names(settings: ContentSettings, tuning: AlertTuning | None = None) -> tuple[str, ...]:
    names: list[str] = []
    for group in all_rule_groups(settings, tuning):
        for rule in group.rules:
            if isinstance(rule, AlertRule) and rule.name not in names:
                names.append(rule.name)
    return tuple(names)
