"""tm-meta: is the monitoring itself working (Prometheus, Alertmanager, Grafana, Loki, Alloy,
the exporter and, on Kubernetes, the stack's own pods and volumes)? A quiet Alertmanager means
nothing if these panels are red."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat, timeseries

from dashboards import sections
from dashboards.layout import new_dashboard
from dashboards.levels import PanelLevels
from dashboards.panels import (
    ANY_IS_BAD,
    NONZERO_RATE_IS_BAD,
    OK_FAILED,
    UP_DOWN,
    Levels,
    Q,
    graph,
    instant_table,
    prometheus_variable,
    ratio_graph,
    row,
    single,
    states,
)
from monitoring import dashboard_uids
from monitoring.self_watch import (
    crash_looping_containers,
    discovered_jobs,
    namespace_matcher,
    pods_not_ready,
    volume_free_ratio,
)
from monitoring.settings import ContentSettings

RATE = "$__rate_interval"


def _or_zero(expr: str) -> str:
    """A failure rate that shows 0, not "No data", while nothing has failed yet."""
    return f"({expr}) or vector(0)"


def _failure_rate_graph(
    title: str, metric: str, by: str, *, description: str = ""
) -> timeseries.Panel:
    """Failures per second of counter `metric`, one series per `by` label; any is bad."""
    return graph(
        title,
        [Q(_or_zero(f"sum by ({by}) (rate({metric}[{RATE}]))"), "{{" + by + "}}")],
        "ops",
        description=description,
        levels=NONZERO_RATE_IS_BAD,
        min_value=0,
        width=8,
    )


def _server_error_ratio(metric: str, by: str) -> str:
    """5xx share of requests; 0 (not "No data") while no 5xx series exists yet."""
    total = f"sum by ({by}) (rate({metric}[{RATE}]))"
    errors = f'sum by ({by}) (rate({metric}{{status_code=~"5.."}}[{RATE}]))'
    return f"({errors} or {total} * 0) / {total}"


def _server_errors_graph(
    title: str, metric: str, by: str, *, description: str, levels: Levels
) -> timeseries.Panel:
    """The 5xx share of `metric`'s requests over time, one series per `by` label."""
    legend = "{{" + by + "}}"
    return ratio_graph(
        title, [Q(_server_error_ratio(metric, by), legend)], description=description, levels=levels
    )


def _scrape_targets(dashboard: db.Dashboard) -> db.Dashboard:
    return (
        dashboard.with_row(row("Scrape targets"))
        .with_panel(
            single(
                "Targets down",
                [Q("count(up == 0) or vector(0)")],
                "short",
                levels=ANY_IS_BAD,
                width=4,
                height=8,
            )
        )
        .with_panel(
            states(
                "Targets up",
                [Q("up", "{{job}} {{instance}}")],
                UP_DOWN,
                description="1 when the last scrape of the target succeeded.",
                width=20,
                height=8,
            )
        )
        .with_panel(
            graph(
                "Scrape duration",
                [Q("max by (job) (scrape_duration_seconds)", "{{job}}")],
                "s",
                min_value=0,
            )
        )
        .with_panel(
            graph(
                "Samples scraped",
                [Q("sum by (job) (scrape_samples_scraped)", "{{job}}")],
                "short",
                min_value=0,
            )
        )
    )


def _prometheus(dashboard: db.Dashboard) -> db.Dashboard:
    return (
        dashboard.with_row(row("Prometheus"))
        .with_panel(
            _failure_rate_graph(
                "Rule evaluation failures",
                "prometheus_rule_evaluation_failures_total",
                "rule_group",
                description="A failing rule group cannot fire its alerts.",
            )
        )
        .with_panel(
            graph(
                "Rule group duration",
                [
                    Q(
                        "max by (rule_group) (prometheus_rule_group_last_duration_seconds)",
                        "{{rule_group}}",
                    )
                ],
                "s",
                description="Should stay well below the evaluation interval.",
                min_value=0,
                width=8,
            )
        )
        .with_panel(
            graph(
                "Alerts sent to Alertmanager",
                [
                    Q(f"sum(rate(prometheus_notifications_sent_total[{RATE}]))", "sent"),
                    Q(
                        _or_zero(f"sum(rate(prometheus_notifications_errors_total[{RATE}]))"),
                        "errors",
                    ),
                    Q(
                        _or_zero(f"sum(rate(prometheus_notifications_dropped_total[{RATE}]))"),
                        "dropped",
                    ),
                ],
                "ops",
                min_value=0,
                width=8,
            )
        )
        .with_panel(
            graph(
                "Head series",
                [Q("max by (instance) (prometheus_tsdb_head_series)", "{{instance}}")],
                "short",
                min_value=0,
                width=8,
            )
        )
        .with_panel(
            states(
                "Config reloads",
                [
                    Q("prometheus_config_last_reload_successful", "prometheus {{instance}}"),
                    Q("alertmanager_config_last_reload_successful", "alertmanager {{instance}}"),
                ],
                OK_FAILED,
                description="1 when the last configuration reload succeeded.",
                width=16,
            )
        )
    )


def _alertmanager(dashboard: db.Dashboard) -> db.Dashboard:
    return (
        dashboard.with_row(row("Alertmanager"))
        .with_panel(
            graph(
                "Notifications per integration",
                [
                    Q(
                        f"sum by (integration) (rate(alertmanager_notifications_total[{RATE}]))",
                        "{{integration}}",
                    )
                ],
                "ops",
                min_value=0,
                width=8,
            )
        )
        .with_panel(
            _failure_rate_graph(
                "Failed notifications", "alertmanager_notifications_failed_total", "integration"
            )
        )
        .with_panel(
            graph(
                "Active alerts",
                [Q('sum(alertmanager_alerts{state="active"})', "active")],
                "short",
                min_value=0,
                width=8,
            )
        )
    )


def _grafana_and_loki(dashboard: db.Dashboard, errors: Levels) -> db.Dashboard:
    return (
        dashboard.with_row(row("Grafana and Loki"))
        .with_panel(
            _server_errors_graph(
                "Grafana server errors",
                "grafana_http_request_duration_seconds_count",
                "instance",
                description="Share of Grafana HTTP requests answered with 5xx.",
                levels=errors,
            )
        )
        .with_panel(
            _server_errors_graph(
                "Loki server errors",
                "loki_request_duration_seconds_count",
                "route",
                description="Share of Loki requests answered with 5xx, per route.",
                levels=errors,
            )
        )
    )


def _exporter(dashboard: db.Dashboard, lv: PanelLevels) -> db.Dashboard:
    return (
        dashboard.with_row(row("Trading exporter"))
        .with_panel(
            states(
                "Collector success",
                [
                    Q(
                        "max by (collector) (trading_exporter_collector_success)",
                        "{{collector}}",
                    )
                ],
                OK_FAILED,
                width=24,
            )
        )
        .with_panel(sections.collector_duration(lv.collector_duration_seconds, width=8))
        .with_panel(
            graph(
                "Time since collector success",
                [
                    Q(
                        "time() - max by (collector) "
                        "(trading_exporter_collector_last_success_timestamp_seconds)",
                        "{{collector}}",
                    )
                ],
                "s",
                description="Failed collectors keep serving their last cached values.",
                min_value=0,
                width=8,
            )
        )
        .with_panel(
            instant_table(
                "Exporter build",
                [Q("trading_exporter_build_info")],
                "none",
                width=8,
            )
        )
    )


def _prometheus_storage(dashboard: db.Dashboard, lv: PanelLevels) -> db.Dashboard:
    sent = "prometheus_remote_storage_queue_highest_sent_timestamp_seconds"
    lag = (
        "max_over_time(prometheus_remote_storage_highest_timestamp_in_seconds[5m])"
        f" - ignoring (remote_name, url) group_right max_over_time({sent}[5m])"
    )
    return (
        dashboard.with_row(row("Prometheus storage and remote write"))
        .with_panel(
            _failure_rate_graph(
                "TSDB compaction failures",
                "prometheus_tsdb_compactions_failed_total",
                "instance",
                description="Failed compactions: memory and disk grow, retention stops.",
            )
        )
        .with_panel(
            graph(
                "Remote write failed and retried samples",
                [
                    Q(
                        _or_zero(
                            "sum by (remote_name) (rate("
                            f"prometheus_remote_storage_samples_failed_total[{RATE}]))"
                        ),
                        "failed {{remote_name}}",
                    ),
                    Q(
                        _or_zero(
                            "sum by (remote_name) (rate("
                            f"prometheus_remote_storage_samples_retried_total[{RATE}]))"
                        ),
                        "retried {{remote_name}}",
                    ),
                ],
                "ops",
                description="Failed: rejected by the endpoint (lost). Retried: not delivered yet.",
                levels=NONZERO_RATE_IS_BAD,
                min_value=0,
                width=8,
            )
        )
        .with_panel(
            graph(
                "Remote write lag",
                [Q(lag, "{{instance}} {{remote_name}}")],
                "s",
                description="Newest sample appended minus newest sample sent, per queue.",
                levels=lv.remote_write_lag_seconds,
                min_value=0,
                width=8,
            )
        )
    )


def _count_of(title: str, alert_expr: str, description: str) -> stat.Panel:
    """How many series the alert's own expression returns now (0, not "No data")."""
    return single(
        title,
        [Q(f"count({alert_expr}) or vector(0)")],
        "short",
        description=description,
        levels=ANY_IS_BAD,
        width=6,
    )


def _kubernetes(
    dashboard: db.Dashboard, settings: ContentSettings, lv: PanelLevels
) -> db.Dashboard:
    """The stack's own pods, workloads, volumes and discovered targets (Kubernetes only)."""
    ours = namespace_matcher(settings)
    t = settings.thresholds
    discovered = "|".join(discovered_jobs(settings))
    return (
        dashboard.with_row(row("Kubernetes: the stack's own pods and volumes"))
        .with_panel(
            _count_of(
                "Containers crash-looping",
                crash_looping_containers(settings),
                "Containers of the stack in CrashLoopBackOff (last 5 minutes).",
            )
        )
        .with_panel(
            _count_of(
                "Pods not ready",
                pods_not_ready(settings),
                "Pods of the stack that are not ready (finished pods excluded).",
            )
        )
        .with_panel(
            graph(
                "Targets discovered per job",
                [Q(f'count by (job) (up{{job=~"{discovered}"}})', "{{job}}")],
                "short",
                description="Zero (a missing line) means discovery finds no target at all.",
                min_value=0,
            )
        )
        .with_panel(
            graph(
                "StatefulSet replicas missing",
                [
                    Q(
                        f"kube_statefulset_replicas{{{ours}}}"
                        f" - kube_statefulset_status_replicas_ready{{{ours}}}",
                        "{{namespace}}/{{statefulset}}",
                    )
                ],
                "short",
                description="Desired minus ready replicas.",
                levels=ANY_IS_BAD,
                min_value=0,
            )
        )
        .with_panel(
            graph(
                "DaemonSet pods missing",
                [
                    Q(
                        f"kube_daemonset_status_desired_number_scheduled{{{ours}}}"
                        f" - kube_daemonset_status_number_ready{{{ours}}}",
                        "{{namespace}}/{{daemonset}}",
                    )
                ],
                "short",
                description="Nodes that should run a pod minus ready pods.",
                levels=ANY_IS_BAD,
                min_value=0,
            )
        )
        .with_panel(
            ratio_graph(
                "Volume space used",
                [
                    Q(
                        f"1 - ({volume_free_ratio(settings)})",
                        "{{namespace}}/{{persistentvolumeclaim}}",
                    )
                ],
                description="Share of each persistent volume of the stack in use.",
                levels=lv.volume_used,
            )
        )
        .with_panel(
            graph(
                f"Volume free space predicted in {t.volume_fill_days} days",
                [
                    Q(
                        "predict_linear(kubelet_volume_stats_available_bytes"
                        f"{{{ours}}}[{t.volume_fill_window}], {t.volume_fill_days * 86400})",
                        "{{namespace}}/{{persistentvolumeclaim}}",
                    )
                ],
                "bytes",
                description=(
                    f"At the growth of the last {t.volume_fill_window}; below zero means full"
                    f" within {t.volume_fill_days} days."
                ),
                levels=Levels(0, high_is_bad=False),
            )
        )
    )


def meta(settings: ContentSettings, lv: PanelLevels) -> db.Dashboard:
    dashboard = new_dashboard(
        dashboard_uids.META,
        "Meta-monitoring",
        "Health of Prometheus, Alertmanager, Grafana, Loki, Alloy and the trading exporter.",
        ["meta"],
        [prometheus_variable()],
    )
    dashboard = _prometheus_storage(_prometheus(_scrape_targets(dashboard)), lv)
    dashboard = _grafana_and_loki(_alertmanager(dashboard), lv.component_error_ratio)
    dashboard = _exporter(dashboard, lv)
    if settings.discovery == "kubernetes":
        dashboard = _kubernetes(dashboard, settings, lv)
    return dashboard
