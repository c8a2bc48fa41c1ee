"""tm-database: size, growth, backups and query time of the trading database."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards import sections
from dashboards.layout import new_dashboard
from dashboards.levels import PanelLevels
from dashboards.panels import UP_DOWN, Q, graph, prometheus_variable, row, single
from monitoring import dashboard_uids


def database(lv: PanelLevels) -> db.Dashboard:
    return (
        new_dashboard(
            dashboard_uids.DATABASE,
            "Database",
            "Size, growth, backups, free disk and query time of the trading database, as the "
            "exporter sees it.",
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
                levels=lv.backup_age_seconds,
            )
        )
        .with_row(row("Growth"))
        .with_panel(
            graph(
                "Database size",
                [Q("max by (instance) (trading_database_size_bytes)", "{{instance}}")],
                "bytes",
                min_value=0,
            )
        )
        .with_panel(
            graph(
                "Growth per day",
                [Q("deriv(trading_database_size_bytes[1h]) * 86400", "{{instance}}")],
                "bytes",
                description="Linear fit of the size over the last hour, as bytes per day.",
                levels=lv.database_growth_bytes_per_day,
            )
        )
        .with_panel(
            graph(
                "Free disk (database filesystem)",
                [Q("min by (instance) (trading_host_disk_free_bytes)", "{{instance}}")],
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
        .with_row(row("Queries"))
        .with_panel(sections.collector_duration(lv.collector_duration_seconds, width=24))
    )
