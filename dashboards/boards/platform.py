"""tm-database, tm-system and tm-logs: what the trading system runs on."""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as db

from dashboards import levels
from dashboards.layout import new_dashboard
from dashboards.panels import (
    ANY_IS_BAD,
    LOKI,
    UP_DOWN,
    Q,
    graph,
    log_lines,
    loki_variable,
    prometheus_variable,
    query_variable,
    row,
    single,
)
from monitoring import dashboard_uids
from monitoring.settings import ContentSettings

RATE = "$__rate_interval"


def database() -> db.Dashboard:
    return (
        new_dashboard(
            dashboard_uids.DATABASE,
            "Database",
            "Size, growth, backups and free disk of the trading database, as the exporter sees it.",
            ["database"],
            [prometheus_variable()],
        )
        .with_row(row("Now"))
        .with_panel(
            single(
                "Database check",
                [Q("min(trading_exporter_database_up)")],
                "none",
                mappings=UP_DOWN,
            )
        )
        .with_panel(single("Size", [Q("max(trading_database_size_bytes)")], "bytes"))
        .with_panel(
            single(
                "Last backup",
                [Q("max(trading_database_last_backup_timestamp_seconds) * 1000")],
                "dateTimeFromNow",
            )
        )
        .with_panel(
            single(
                "Backup age",
                [Q("time() - max(trading_database_last_backup_timestamp_seconds)")],
                "s",
                levels=levels.BACKUP_AGE_SECONDS,
            )
        )
        .with_row(row("Growth"))
        .with_panel(
            graph("Database size", [Q("max(trading_database_size_bytes)", "size")], "bytes")
        )
        .with_panel(
            graph(
                "Growth rate",
                [Q("deriv(max(trading_database_size_bytes)[1h:])", "growth")],
                "Bps",
                description="Linear fit of the size over the last hour.",
            )
        )
        .with_panel(
            graph(
                "Free disk (database filesystem)",
                [Q("min(trading_host_disk_free_bytes)", "free")],
                "bytes",
                min_value=0,
            )
        )
        .with_panel(
            graph(
                "OHLCV rows per market",
                [Q("sum by (market) (trading_ohlcv_rows)", "{{market}}")],
                "short",
                min_value=0,
            )
        )
    )


@dataclass(frozen=True)
class ContainerLabels:
    """How cAdvisor names a container: Docker's cAdvisor vs the kubelet's."""

    selector: str
    by: str
    legend: str


DOCKER = ContainerLabels('name!=""', "name", "{{name}}")
KUBERNETES = ContainerLabels(
    'container!="", container!="POD"',
    "namespace, pod, container",
    "{{namespace}}/{{pod}}/{{container}}",
)


def container_labels(settings: ContentSettings) -> ContainerLabels:
    return KUBERNETES if settings.discovery == "kubernetes" else DOCKER


def system(settings: ContentSettings) -> db.Dashboard:
    node = 'instance=~"$instance"'
    c = container_labels(settings)
    instance = query_variable("instance", "Host", "label_values(node_uname_info, instance)")
    return (
        new_dashboard(
            dashboard_uids.SYSTEM,
            "System and containers",
            "Hosts (node-exporter) and containers (cAdvisor).",
            ["system"],
            [prometheus_variable(), instance],
        )
        .with_row(row("Hosts"))
        .with_panel(
            graph(
                "CPU usage",
                [
                    Q(
                        "1 - avg by (instance) (rate(node_cpu_seconds_total"
                        f'{{mode="idle", {node}}}[{RATE}]))',
                        "{{instance}}",
                    )
                ],
                "percentunit",
                levels=levels.HOST_CPU_USAGE,
                min_value=0,
                max_value=1,
                width=8,
            )
        )
        .with_panel(
            graph(
                "Memory usage",
                [
                    Q(
                        f"1 - node_memory_MemAvailable_bytes{{{node}}} "
                        f"/ node_memory_MemTotal_bytes{{{node}}}",
                        "{{instance}}",
                    )
                ],
                "percentunit",
                levels=levels.HOST_MEMORY_USAGE,
                min_value=0,
                max_value=1,
                width=8,
            )
        )
        .with_panel(
            graph(
                "Filesystem usage",
                [
                    Q(
                        f"1 - node_filesystem_avail_bytes{{{FS}, {node}}} "
                        f"/ node_filesystem_size_bytes{{{FS}, {node}}}",
                        "{{instance}} {{mountpoint}}",
                    )
                ],
                "percentunit",
                levels=levels.HOST_DISK_USAGE,
                min_value=0,
                max_value=1,
                width=8,
            )
        )
        .with_panel(
            graph(
                "Load (1m) per CPU",
                [
                    Q(
                        f"node_load1{{{node}}} / on (instance) "
                        f'count by (instance) (node_cpu_seconds_total{{mode="idle", {node}}})',
                        "{{instance}}",
                    )
                ],
                "short",
                min_value=0,
                width=8,
            )
        )
        .with_panel(
            graph(
                "Network",
                [
                    Q(
                        f"sum by (instance) (rate(node_network_receive_bytes_total"
                        f'{{device!="lo", {node}}}[{RATE}]))',
                        "{{instance}} in",
                    ),
                    Q(
                        f"sum by (instance) (rate(node_network_transmit_bytes_total"
                        f'{{device!="lo", {node}}}[{RATE}]))',
                        "{{instance}} out",
                    ),
                ],
                "Bps",
                min_value=0,
                width=8,
            )
        )
        .with_panel(
            graph(
                "Disk busy",
                [
                    Q(
                        f"max by (instance) (rate(node_disk_io_time_seconds_total{{{node}}}"
                        f"[{RATE}]))",
                        "{{instance}}",
                    )
                ],
                "percentunit",
                description="Share of time the busiest disk had I/O in flight.",
                min_value=0,
                max_value=1,
                width=8,
            )
        )
        .with_row(row("Containers"))
        .with_panel(
            graph(
                "Container CPU",
                [
                    Q(
                        f"sum by ({c.by}) (rate(container_cpu_usage_seconds_total"
                        f"{{{c.selector}}}[{RATE}]))",
                        c.legend,
                    )
                ],
                "short",
                description="CPU cores used.",
                min_value=0,
            )
        )
        .with_panel(
            graph(
                "Container memory (working set)",
                [
                    Q(
                        f"sum by ({c.by}) (container_memory_working_set_bytes{{{c.selector}}})",
                        c.legend,
                    )
                ],
                "bytes",
                min_value=0,
            )
        )
        .with_panel(
            graph(
                "Container network in",
                [
                    Q(
                        f"sum by ({c.by}) (rate(container_network_receive_bytes_total"
                        f"{{{c.selector}}}[{RATE}]))",
                        c.legend,
                    )
                ],
                "Bps",
                min_value=0,
            )
        )
        .with_panel(
            graph(
                "Container starts",
                [
                    Q(
                        f"sum by ({c.by}) (changes(container_start_time_seconds"
                        f"{{{c.selector}}}[$__range]))",
                        c.legend,
                    )
                ],
                "short",
                description="Times each container (re)started in the time range.",
                levels=ANY_IS_BAD,
                min_value=0,
            )
        )
    )


# Real filesystems only.
FS = 'fstype!~"tmpfs|overlay|squashfs|nsfs|ramfs"'

# Alloy attaches `container` to every log stream (Docker and Kubernetes).
LOG_SEL = 'container=~"$container"'
ERRORS = '|~ "(?i)(error|exception|traceback|critical|fatal)"'


def logs() -> db.Dashboard:
    container = query_variable(
        "container", "Container", "label_values(container)", datasource=LOKI
    ).all_value(".+")
    search = db.TextBoxVariable("search").label("Search (regex)").default_value("")
    return (
        new_dashboard(
            dashboard_uids.LOGS,
            "Logs",
            "Container logs collected by Alloy into Loki.",
            ["logs"],
            [loki_variable(), container, search],
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
    )
