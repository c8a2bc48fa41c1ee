"""tm-api, tm-trading and tm-data-quality: the trading system's own signals, all markets."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards import sections
from dashboards.layout import new_dashboard
from dashboards.levels import PanelLevels
from dashboards.panels import (
    ANY_IS_SUSPECT,
    MARKET_VAR_SELECTOR,
    NEGATIVE_IS_BAD,
    Q,
    graph,
    histogram_heatmap,
    instant_table,
    market_variable,
    prometheus_variable,
    query_variable,
    row,
    single,
)
from monitoring import dashboard_uids

API_SEL = f'{MARKET_VAR_SELECTOR}, endpoint=~"$endpoint"'


def api(lv: PanelLevels) -> db.Dashboard:
    endpoint = query_variable(
        "endpoint",
        "Endpoint",
        'label_values(trading_api_requests_total{market=~"$market"}, endpoint)',
    )
    return (
        new_dashboard(
            dashboard_uids.API,
            "Broker and data API",
            "Request rate, failures, latency and rate-limit usage of the broker/data APIs.",
            ["api"],
            [prometheus_variable(), market_variable(), endpoint],
        )
        .with_row(row("Traffic and errors"))
        .with_panel(sections.api_request_rate(API_SEL, "market, endpoint"))
        .with_panel(sections.api_failure_ratio(API_SEL, "market, endpoint", lv.api_failure_ratio))
        .with_row(row("Latency and limits"))
        .with_panel(sections.api_latency(API_SEL, "market", lv.api_latency_p95_seconds))
        .with_panel(sections.api_rate_limit(API_SEL, "market, endpoint", lv.api_rate_limit_usage))
        .with_panel(
            histogram_heatmap(
                "API latency distribution",
                "sum by (le) "
                f"(rate(trading_api_request_duration_seconds_bucket{{{API_SEL}}}[$__rate_interval]))",
                "s",
                description="Requests per second in each latency bucket.",
            )
        )
        .with_panel(
            instant_table(
                "Failed requests in the time range",
                [
                    Q(
                        "topk(10, sum by (market, endpoint) "
                        f"(increase(trading_api_failures_total{{{API_SEL}}}[$__range])))"
                    )
                ],
                "short",
                description="The ten market/endpoint pairs with the most failures.",
            )
        )
    )


def trading(lv: PanelLevels) -> db.Dashboard:
    strategy = query_variable(
        "strategy", "Strategy", "label_values(trading_strategy_realised_pnl, strategy)"
    )
    pnl_sel = 'strategy=~"$strategy"'
    sel = MARKET_VAR_SELECTOR
    return (
        new_dashboard(
            dashboard_uids.TRADING,
            "Trading and risk",
            "Orders, order failures, open positions, exposure, position limits and realised P&L. "
            "Money is in the account's base currency.",
            ["trading", "risk"],
            [prometheus_variable(), market_variable(), strategy],
        )
        .with_row(row("Now"))
        .with_panel(sections.positions_now(sel))
        .with_panel(sections.position_limit_now(sel, lv.position_limit_usage))
        .with_panel(
            single(
                "Gross exposure now",
                [Q(f"sum(trading_position_exposure{{{sel}}})")],
                "short",
                sparkline=True,
            )
        )
        .with_panel(
            single(
                "Realised P&L, all strategies",
                [Q(f"sum(trading_strategy_realised_pnl{{{pnl_sel}}})")],
                "short",
                levels=NEGATIVE_IS_BAD,
                sparkline=True,
            )
        )
        .with_row(row("Orders"))
        .with_panel(sections.orders_rate(sel, "market, side"))
        .with_panel(sections.order_failure_ratio(sel, "market", lv.order_failure_ratio))
        .with_row(row("Positions"))
        .with_panel(sections.open_positions(sel))
        .with_panel(sections.exposure(sel))
        .with_panel(sections.position_limit_usage(sel, lv.position_limit_usage))
        .with_row(row("P&L"))
        .with_panel(
            graph(
                "Realised P&L per strategy",
                [
                    Q(
                        f"sum by (strategy) (trading_strategy_realised_pnl{{{pnl_sel}}})",
                        "{{strategy}}",
                    )
                ],
                "short",
                levels=NEGATIVE_IS_BAD,
            )
        )
        .with_panel(
            instant_table(
                "P&L change in the time range",
                [
                    Q(
                        "sum by (strategy) "
                        f"(delta(trading_strategy_realised_pnl{{{pnl_sel}}}[$__range]))"
                    )
                ],
                "short",
                levels=NEGATIVE_IS_BAD,
            )
        )
    )


def data_quality(lv: PanelLevels) -> db.Dashboard:
    sel = MARKET_VAR_SELECTOR
    return (
        new_dashboard(
            dashboard_uids.DATA_QUALITY,
            "Data quality",
            "Freshness and completeness of the stored OHLCV data, and the collection runs that "
            "feed it.",
            ["data"],
            [prometheus_variable(), market_variable()],
        )
        .with_row(row("Freshness"))
        .with_panel(sections.data_age_graph(sel, lv.data_age_seconds))
        .with_panel(sections.data_age(sel, lv.data_age_seconds))
        .with_panel(sections.market_sessions(sel, width=24))
        .with_row(row("Completeness"))
        .with_panel(sections.per_market_sum("OHLCV rows", "trading_ohlcv_rows", sel))
        .with_panel(sections.per_market_sum("Tickers", "trading_tickers", sel))
        .with_panel(
            single(
                "Rows without a market",
                [Q("sum(trading_ohlcv_rows_missing_market)")],
                "short",
                description="OHLCV rows whose market is NULL or empty.",
                levels=ANY_IS_SUSPECT,
                width=4,
            )
        )
        .with_panel(
            single(
                "Tickers in several markets",
                [Q("sum(trading_tickers_in_multiple_markets)")],
                "short",
                levels=ANY_IS_SUSPECT,
                width=4,
            )
        )
        .with_row(row("Collection"))
        .with_panel(sections.collection_runs(sel))
        .with_panel(sections.collection_success_ratio(sel, lv.collection_success_ratio))
    )
