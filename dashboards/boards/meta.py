"""tm-meta: is the monitoring itself working (Prometheus, Alertmanager, Grafana, Loki, Alloy,
the exporter)? A quiet Alertmanager means nothing if these panels are red."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import timeseries

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


def meta(lv: PanelLevels) -> db.Dashboard:
    dashboard = new_dashboard(
        dashboard_uids.META,
        "Meta-monitoring",
        "Health of Prometheus, Alertmanager, Grafana, Loki, Alloy and the trading exporter.",
        ["meta"],
        [prometheus_variable()],
    )
    dashboard = _prometheus(_scrape_targets(dashboard))
    dashboard = _grafana_and_loki(_alertmanager(dashboard), lv.component_error_ratio)
    return _exporter(dashboard, lv)
