"""tm-market-<code>: one dashboard per market, all from this one template."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard as db

from dashboards import sections
from dashboards.layout import MARKET_TAG, new_dashboard
from dashboards.levels import PanelLevels
from dashboards.panels import OPEN_CLOSED, Q, prometheus_variable, row, single
from monitoring import dashboard_uids
from monitoring.market_hours import market_sessions
from monitoring.settings import Market
from monitoring.slo import SLO


def market_selector(market: Market) -> str:
    return f'market="{market.code}"'


def _schedule(market: Market) -> str:
    sessions = "sessions " + ", ".join(market_sessions(market))
    if market.calendar and not market.sessions:
        return f"exchange calendar {market.calendar}, {sessions}"
    return sessions


def market_dashboard(market: Market, lv: PanelLevels, slos: Sequence[SLO]) -> db.Dashboard:
    sel = market_selector(market)
    dashboard = (
        new_dashboard(
            dashboard_uids.market_uid(market.code),
            f"Market: {market.name}",
            f"Market `{market.code}` ({_schedule(market)}, {market.timezone}): data, API, orders "
            "and positions. Times are shown in the market's time zone.",
            [MARKET_TAG, market.code],
            [prometheus_variable()],
            timezone=market.timezone,
        )
        .with_row(row("Status"))
        .with_panel(
            single(
                "Session",
                [Q(f"max(trading_market_open{{{sel}}})")],
                "none",
                mappings=OPEN_CLOSED,
            )
        )
        .with_panel(sections.last_bar(sel))
        .with_panel(
            single(
                "Data age",
                [Q(f"time() - max(trading_ohlcv_last_update_timestamp_seconds{{{sel}}})")],
                "s",
                levels=lv.data_age_seconds,
            )
        )
        .with_panel(sections.position_limit_now(sel, lv.position_limit_usage))
        .with_row(row("Data"))
        .with_panel(
            single("OHLCV rows", [Q(f"sum(trading_ohlcv_rows{{{sel}}})")], "short", sparkline=True)
        )
        .with_panel(
            single("Tickers", [Q(f"sum(trading_tickers{{{sel}}})")], "short", sparkline=True)
        )
        .with_panel(sections.market_sessions(sel))
        .with_panel(sections.collection_runs(sel))
        .with_panel(sections.collection_success_ratio(sel, lv.collection_success_ratio))
        .with_row(row("API"))
        .with_panel(sections.api_request_rate(sel, "endpoint"))
        .with_panel(sections.api_failure_ratio(sel, "endpoint", lv.api_failure_ratio))
        .with_panel(sections.api_latency(sel, "endpoint", lv.api_latency_p95_seconds))
        .with_panel(sections.api_rate_limit(sel, "endpoint", lv.api_rate_limit_usage))
        .with_row(row("Trading"))
        .with_panel(sections.orders_rate(sel, "side"))
        .with_panel(sections.order_failure_ratio(sel, "side", lv.order_failure_ratio))
        .with_panel(sections.open_positions(sel))
        .with_panel(sections.exposure(sel))
        .with_panel(sections.position_limit_usage(sel, lv.position_limit_usage))
    )
    if slos:
        dashboard = dashboard.with_row(row("SLOs"))
        for slo in slos:
            dashboard = dashboard.with_panel(
                sections.slo_budget_left(slo, sel, width=max(6, 24 // len(slos)))
            )
    return dashboard
