"""tm-logs: container logs collected by Alloy into Loki, and the health of that pipeline."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards.layout import new_dashboard
from dashboards.panels import (
    ANY_IS_BAD,
    LOKI,
    NONZERO_RATE_IS_BAD,
    Q,
    graph,
    log_lines,
    loki_variable,
    prometheus_variable,
    query_variable,
    row,
)
from monitoring import dashboard_uids

RATE = "$__rate_interval"
# Alloy labels every stream with `container` on Docker and on Kubernetes (monitoring/logs.py).
LOG_SEL = 'container=~"$container"'
ERRORS = '|~ "(?i)(error|exception|traceback|critical|fatal)"'


def logs() -> db.Dashboard:
    # ".+" for "All": Loki refuses a selector that only matches the empty string.
    container = query_variable(
        "container", "Container", "label_values(container)", datasource=LOKI
    ).all_value(".+")
    search = db.TextBoxVariable("search").label("Search (regex)").default_value("")
    return (
        new_dashboard(
            dashboard_uids.LOGS,
            "Logs",
            "Container logs collected by Alloy into Loki, and the health of that pipeline.",
            ["logs"],
            [loki_variable(), prometheus_variable(), container, search],
        )
        .with_row(row("Volume"))
        .with_panel(
            graph(
                "Log lines",
                [
                    Q(
                        f"sum by (container) (count_over_time({{{LOG_SEL}}} [$__interval]))",
                        "{{container}}",
                    )
                ],
                "short",
                stacked=True,
                source="loki",
            )
        )
        .with_panel(
            graph(
                "Error lines",
                [
                    Q(
                        "sum by (container) "
                        f"(count_over_time({{{LOG_SEL}}} {ERRORS} [$__interval]))",
                        "{{container}}",
                    )
                ],
                "short",
                description="Lines matching error, exception, traceback, critical or fatal.",
                levels=ANY_IS_BAD,
                stacked=True,
                source="loki",
            )
        )
        .with_row(row("Lines"))
        .with_panel(log_lines("Errors", f"{{{LOG_SEL}}} {ERRORS}", height=10))
        .with_panel(log_lines("All lines", f'{{{LOG_SEL}}} |~ "$search"'))
        .with_row(row("Pipeline"))
        .with_panel(
            graph(
                "Alloy unhealthy components",
                [
                    Q(
                        "sum by (instance) (alloy_component_controller_running_components"
                        '{health_type!="healthy"}) or vector(0)',
                        "{{instance}}",
                    )
                ],
                "short",
                description="Alloy components that are not healthy: logs may not reach Loki.",
                levels=ANY_IS_BAD,
                min_value=0,
                width=8,
            )
        )
        .with_panel(
            graph(
                "Alloy entries sent",
                [
                    Q(
                        f"sum by (instance) (rate(loki_write_sent_entries_total[{RATE}]))",
                        "{{instance}}",
                    )
                ],
                "short",
                description="Log entries per second that Alloy's loki.write delivered.",
                min_value=0,
                width=8,
            )
        )
        .with_panel(
            graph(
                "Alloy entries dropped",
                [
                    Q(
                        "sum by (instance) "
                        f"(rate(loki_write_dropped_entries_total[{RATE}])) or vector(0)",
                        "{{instance}}",
                    )
                ],
                "short",
                description="Log entries per second that Alloy's loki.write gave up on.",
                levels=NONZERO_RATE_IS_BAD,
                min_value=0,
                width=8,
            )
        )
    )
