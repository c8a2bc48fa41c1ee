"""tm-overview: is anything on fire, in which market."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards import sections
from dashboards.boards.components import components_alerts_panel
from dashboards.boards.service import services_link
from dashboards.layout import new_dashboard
from dashboards.levels import PanelLevels
from dashboards.panels import (
    ANY_IS_BAD,
    ANY_IS_SUSPECT,
    MARKET_VAR_SELECTOR,
    UP_DOWN,
    Q,
    instant_table,
    market_variable,
    prometheus_variable,
    row,
    single,
    with_market_link,
)
from monitoring import dashboard_uids

SEL = MARKET_VAR_SELECTOR


def overview(lv: PanelLevels) -> db.Dashboard:
    return (
        new_dashboard(
            dashboard_uids.OVERVIEW,
            "Trading overview",
            "Firing alerts, scrape health and the key signals of every market.",
            ["overview"],
            [prometheus_variable(), market_variable()],
        )
        .link(services_link())
        .with_row(row("Health"))
        .with_panel(
            single(
                "Critical alerts firing",
                [Q('count(ALERTS{alertstate="firing", severity="critical"}) or vector(0)')],
                "short",
                levels=ANY_IS_BAD,
            )
        )
        .with_panel(
            single(
                "Warnings firing",
                [Q('count(ALERTS{alertstate="firing", severity="warning"}) or vector(0)')],
                "short",
                levels=ANY_IS_SUSPECT,
            )
        )
        .with_panel(
            single(
                "Scrape targets down",
                [Q("count(up == 0) or vector(0)")],
                "short",
                description="Targets whose last scrape failed (see Meta-monitoring).",
                levels=ANY_IS_BAD,
            )
        )
        .with_panel(
            single(
                "Exporter database check",
                [Q("min(trading_exporter_database_up)")],
                "none",
                mappings=UP_DOWN,
            )
        )
        .with_panel(
            instant_table(
                "Firing alerts",
                [Q('ALERTS{alertstate="firing", alertname!="Watchdog"}')],
                "none",
                description="Every alert firing now, with its labels (the Watchdog heartbeat "
                "always fires and is left out).",
                no_value="Nothing is firing",
                width=24,
                height=6,
            )
        )
        .with_row(row("Markets"))
        .with_panel(with_market_link(sections.market_sessions(SEL)))
        .with_panel(with_market_link(sections.data_age(SEL, lv.data_age_seconds)))
        .with_panel(
            with_market_link(sections.api_failure_ratio(SEL, "market", lv.api_failure_ratio))
        )
        .with_panel(
            with_market_link(sections.collection_success_ratio(SEL, lv.collection_success_ratio))
        )
        .with_row(row("Trading"))
        .with_panel(with_market_link(sections.orders_rate(SEL, "market")))
        .with_panel(
            with_market_link(sections.order_failure_ratio(SEL, "market", lv.order_failure_ratio))
        )
        .with_panel(
            with_market_link(sections.position_limit_usage(SEL, lv.position_limit_usage, width=12))
        )
        .with_panel(with_market_link(sections.exposure(SEL, width=12)))
        .with_row(row("Databases, caches and proxies"))
        .with_panel(components_alerts_panel())
    )
