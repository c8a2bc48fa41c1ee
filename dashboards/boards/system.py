"""tm-system: hosts (node-exporter) and containers (cAdvisor)."""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import timeseries

from dashboards.layout import new_dashboard
from dashboards.levels import PanelLevels
from dashboards.panels import (
    ANY_IS_BAD,
    Q,
    graph,
    prometheus_variable,
    query_variable,
    ratio_graph,
    row,
)
from monitoring import dashboard_uids, jobs
from monitoring.alerts import REAL_FILESYSTEMS  # the disk alert's filesystems
from monitoring.settings import ContentSettings

RATE = "$__rate_interval"
NODE = 'instance=~"$instance"'


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


def _hosts(dashboard: db.Dashboard, lv: PanelLevels) -> db.Dashboard:
    return (
        dashboard.with_row(row("Hosts"))
        .with_panel(
            ratio_graph(
                "CPU usage",
                [
                    Q(
                        "1 - avg by (instance) (rate(node_cpu_seconds_total"
                        f'{{mode="idle", {NODE}}}[{RATE}]))',
                        "{{instance}}",
                    )
                ],
                width=8,
            )
        )
        .with_panel(
            ratio_graph(
                "Memory usage",
                [
                    Q(
                        f"1 - node_memory_MemAvailable_bytes{{{NODE}}} "
                        f"/ node_memory_MemTotal_bytes{{{NODE}}}",
                        "{{instance}}",
                    )
                ],
                levels=lv.memory_usage,
                width=8,
            )
        )
        .with_panel(
            ratio_graph(
                "Filesystem free",
                [
                    Q(
                        f"node_filesystem_avail_bytes{{{REAL_FILESYSTEMS}, {NODE}}} "
                        f"/ node_filesystem_size_bytes{{{REAL_FILESYSTEMS}, {NODE}}}",
                        "{{instance}} {{mountpoint}}",
                    )
                ],
                description="Free share of each real filesystem.",
                levels=lv.disk_free,
                width=8,
            )
        )
        .with_panel(
            graph(
                "Load (1m) per CPU",
                [
                    Q(
                        f"node_load1{{{NODE}}} / on (instance) "
                        f'count by (instance) (node_cpu_seconds_total{{mode="idle", {NODE}}})',
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
                        "sum by (instance) (rate(node_network_receive_bytes_total"
                        f'{{device!="lo", {NODE}}}[{RATE}]))',
                        "{{instance}} in",
                    ),
                    Q(
                        "sum by (instance) (rate(node_network_transmit_bytes_total"
                        f'{{device!="lo", {NODE}}}[{RATE}]))',
                        "{{instance}} out",
                    ),
                ],
                "Bps",
                min_value=0,
                width=8,
            )
        )
        .with_panel(
            ratio_graph(
                "Disk busy",
                [
                    Q(
                        f"max by (instance) (rate(node_disk_io_time_seconds_total{{{NODE}}}"
                        f"[{RATE}]))",
                        "{{instance}}",
                    )
                ],
                description="Share of time the busiest disk had I/O in flight.",
                width=8,
            )
        )
    )


def _containers(dashboard: db.Dashboard, c: ContainerLabels, lv: PanelLevels) -> db.Dashboard:
    def per_container(metric: str) -> str:
        return f"sum by ({c.by}) ({metric}{{{c.selector}}})"

    def rate_per_container(metric: str) -> str:
        return f"sum by ({c.by}) (rate({metric}{{{c.selector}}}[{RATE}]))"

    def container_graph(
        title: str, expr: str, unit: str, description: str = ""
    ) -> timeseries.Panel:
        return graph(title, [Q(expr, c.legend)], unit, description=description, min_value=0)

    return (
        dashboard.with_row(row("Containers"))
        .with_panel(
            container_graph(
                "Container CPU",
                rate_per_container("container_cpu_usage_seconds_total"),
                "short",
                "CPU cores used.",
            )
        )
        .with_panel(
            container_graph(
                "Container memory (working set)",
                per_container("container_memory_working_set_bytes"),
                "bytes",
            )
        )
        .with_panel(
            ratio_graph(
                "Container memory vs limit",
                [
                    Q(
                        f"{per_container('container_memory_working_set_bytes')} / "
                        f"sum by ({c.by}) (container_spec_memory_limit_bytes{{{c.selector}}} > 0)",
                        c.legend,
                    )
                ],
                description="Working set as a share of the memory limit (containers with one).",
                levels=lv.container_memory_limit_usage,
            )
        )
        .with_panel(
            container_graph(
                "Container network in",
                rate_per_container("container_network_receive_bytes_total"),
                "Bps",
            )
        )
        .with_panel(
            graph(
                "Container starts",
                [
                    Q(
                        f"sum by ({c.by}) (changes(container_start_time_seconds"
                        f"{{{c.selector}}}[$__rate_interval]))",
                        c.legend,
                    )
                ],
                "short",
                # Each point looks back one rate interval: a graph of $__range windows would
                # repeat the whole-range count at every point.
                description="(Re)starts of each container in the rate interval before each point.",
                levels=ANY_IS_BAD,
                min_value=0,
                width=24,
            )
        )
    )


def system(settings: ContentSettings, lv: PanelLevels) -> db.Dashboard:
    instance = query_variable(
        "instance", "Host", f'label_values(up{{job="{jobs.NODE}"}}, instance)'
    )
    dashboard = new_dashboard(
        dashboard_uids.SYSTEM,
        "System and containers",
        "Hosts (node-exporter) and containers (cAdvisor).",
        ["system"],
        [prometheus_variable(), instance],
    )
    return _containers(_hosts(dashboard, lv), container_labels(settings), lv)
