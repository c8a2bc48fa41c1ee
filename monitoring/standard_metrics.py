"""Metric names of the standard exporters that our rules and dashboards use.

The metric-contract test accepts a name in a query only if the exporter catalog, this list or
one of our recording rules defines it. Names are as exposed (counters with `_total`, histogram
series with `_bucket`/`_sum`/`_count`). The dashboards engineer may append names here.
"""

from __future__ import annotations

STANDARD_METRICS: dict[str, frozenset[str]] = {
    "node_exporter": frozenset(
        {
            "node_memory_MemAvailable_bytes",
            "node_memory_MemTotal_bytes",
            "node_filesystem_avail_bytes",
            "node_filesystem_size_bytes",
            "node_filesystem_readonly",
            "node_cpu_seconds_total",
            "node_load1",
            "node_network_receive_bytes_total",
            "node_network_transmit_bytes_total",
            "node_disk_io_time_seconds_total",  # dashboards: disk busy
        }
    ),
    "cadvisor": frozenset(
        {
            "container_memory_working_set_bytes",
            "container_spec_memory_limit_bytes",
            "container_cpu_usage_seconds_total",
            "container_network_receive_bytes_total",  # dashboards
            "container_start_time_seconds",  # dashboards: container restarts
        }
    ),
    # `up` and `scrape_*` are written by Prometheus for every target; ALERTS for every alert.
    "prometheus": frozenset(
        {
            "up",
            "scrape_duration_seconds",
            "scrape_samples_scraped",
            "ALERTS",
            "prometheus_config_last_reload_successful",
            "prometheus_rule_evaluation_failures_total",
            "prometheus_rule_group_iterations_missed_total",
            "prometheus_notifications_errors_total",
            "prometheus_notifications_sent_total",
            "prometheus_notifications_dropped_total",
            "prometheus_notifications_alertmanagers_discovered",
            "prometheus_tsdb_head_series",
            "prometheus_tsdb_storage_blocks_bytes",
            "prometheus_rule_group_last_duration_seconds",  # dashboards
            "prometheus_tsdb_compactions_failed_total",
            "prometheus_remote_storage_samples_failed_total",
            "prometheus_remote_storage_samples_retried_total",
            "prometheus_remote_storage_highest_timestamp_in_seconds",
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
        }
    ),
    # Kubernetes only (monitoring/self_watch.py): kube-state-metrics v2 STABLE metrics.
    "kube_state_metrics": frozenset(
        {
            "kube_pod_container_status_waiting_reason",
            "kube_pod_status_ready",
            "kube_pod_status_phase",
            "kube_statefulset_replicas",
            "kube_statefulset_status_replicas_ready",
            "kube_daemonset_status_desired_number_scheduled",
            "kube_daemonset_status_number_ready",
        }
    ),
    "kubelet": frozenset(
        {
            "kubelet_volume_stats_available_bytes",
            "kubelet_volume_stats_capacity_bytes",
            "kubelet_volume_stats_used_bytes",
        }
    ),
    "alertmanager": frozenset(
        {
            "alertmanager_config_last_reload_successful",
            "alertmanager_notifications_total",
            "alertmanager_notifications_failed_total",
            "alertmanager_cluster_members",
            "alertmanager_alerts",
        }
    ),
    "grafana": frozenset(
        {
            "grafana_http_request_duration_seconds_count",
            "grafana_http_request_duration_seconds_bucket",
        }
    ),
    "loki": frozenset(
        {
            "loki_request_duration_seconds_count",
            "loki_request_duration_seconds_bucket",
            "loki_discarded_samples_total",
        }
    ),
    "alloy": frozenset(
        {
            "alloy_component_controller_running_components",
            "loki_write_dropped_entries_total",
            "loki_write_sent_entries_total",
        }
    ),
}


def all_standard_metric_names() -> frozenset[str]:
    names: set[str] = set()
    for metric_names in STANDARD_METRICS.values():
        names |= metric_names
    return frozenset(names)
