"""Warning/critical levels drawn on panels, taken from the alert thresholds themselves.

One `PanelLevels` per build, made from `ContentSettings.thresholds`: change a threshold in the
stack config and both the alert and its panel move together.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.panels import Levels
from monitoring.thresholds import AlertThresholds


@dataclass(frozen=True)
class PanelLevels:
    api_failure_ratio: Levels
    api_latency_p95_seconds: Levels
    api_rate_limit_usage: Levels
    collection_success_ratio: Levels
    order_failure_ratio: Levels
    position_limit_usage: Levels
    data_age_seconds: Levels
    backup_age_seconds: Levels
    collector_duration_seconds: Levels
    database_growth_bytes_per_day: Levels
    memory_usage: Levels
    container_memory_limit_usage: Levels
    disk_free: Levels
    component_error_ratio: Levels
    volume_used: Levels
    remote_write_lag_seconds: Levels


def panel_levels(t: AlertThresholds) -> PanelLevels:
    return PanelLevels(
        api_failure_ratio=Levels(t.api_error_ratio_warning, t.api_error_ratio_critical),
        api_latency_p95_seconds=Levels(t.api_latency_p95_seconds),
        api_rate_limit_usage=Levels(t.api_rate_limit_ratio),
        collection_success_ratio=Levels(t.collection_success_ratio_min, high_is_bad=False),
        order_failure_ratio=Levels(t.order_failure_ratio),
        position_limit_usage=Levels(
            t.position_limit_ratio_warning, t.position_limit_ratio_critical
        ),
        data_age_seconds=Levels(t.stale_data_warning_seconds, t.stale_data_critical_seconds),
        backup_age_seconds=Levels(t.backup_max_age_seconds),
        collector_duration_seconds=Levels(t.collector_duration_seconds),
        database_growth_bytes_per_day=Levels(t.database_growth_bytes_per_day),
        memory_usage=Levels(t.memory_usage_ratio),
        container_memory_limit_usage=Levels(t.container_memory_limit_ratio),
        disk_free=Levels(t.disk_free_ratio_warning, t.disk_free_ratio_critical, high_is_bad=False),
        component_error_ratio=Levels(t.component_error_ratio),
        volume_used=Levels(t.volume_full_ratio),
        remote_write_lag_seconds=Levels(t.remote_write_behind_seconds),
    )
