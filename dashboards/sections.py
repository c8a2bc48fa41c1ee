"""Panels shared by several dashboards, parameterised by a market label selector.

`sel` is a PromQL label matcher: `market=~"$market"` on dashboards with a market variable,
`market="kr"` on a market's own dashboard. `by` is the grouping of the series shown.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import stat, statetimeline, table, timeseries

from dashboards.panels import (
    NEGATIVE_IS_BAD,
    OPEN_CLOSED,
    Levels,
    Q,
    graph,
    instant_table,
    ratio_graph,
    single,
    states,
)
from monitoring.slo import SLO, sli_record
from monitoring.thresholds import BurnRateWindow

RATE = "$__rate_interval"


def _rate(metric: str, sel: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}{{{sel}}}[{RATE}]))"


def _ratio(part: str, total: str, sel: str, by: str) -> str:
    return f"{_rate(part, sel, by)} / {_rate(total, sel, by)}"


def _legend(by: str) -> str:
    return " ".join("{{" + label.strip() + "}}" for label in by.split(","))


def _stacked_rate_graph(
    title: str, metric: str, sel: str, by: str, unit: str, *, description: str, width: int
) -> timeseries.Panel:
    """The per-second rate of counter `metric`, one stacked series per `by` group."""
    return graph(
        title,
        [Q(_rate(metric, sel, by), _legend(by))],
        unit,
        description=description,
        min_value=0,
        stacked=True,
        width=width,
    )


def _ratio_graph(
    title: str,
    part: str,
    total: str,
    sel: str,
    by: str,
    *,
    description: str,
    levels: Levels,
    width: int,
) -> timeseries.Panel:
    """rate(part) / rate(total) of two counters, one series per `by` group."""
    return ratio_graph(
        title,
        [Q(_ratio(part, total, sel, by), _legend(by))],
        description=description,
        levels=levels,
        width=width,
    )


# --- Market status and data freshness --------------------------------------------------------


def market_sessions(sel: str, width: int = 12) -> statetimeline.Panel:
    return states(
        "Market sessions",
        [Q(f"max by (market) (trading_market_open{{{sel}}})", "{{market}}")],
        OPEN_CLOSED,
        description="1 while the market is in session (exchange calendar or configured hours).",
        width=width,
    )


def data_age(sel: str, levels: Levels, width: int = 12) -> table.Panel:
    return instant_table(
        "Data age per market",
        [Q(f"time() - max by (market) (trading_ohlcv_last_update_timestamp_seconds{{{sel}}})")],
        "s",
        description="Seconds since the newest OHLCV bar; the stale-data alert uses these levels "
        "while the market is open.",
        levels=levels,
        width=width,
    )


def data_age_graph(sel: str, levels: Levels, width: int = 12) -> timeseries.Panel:
    return graph(
        "Data age",
        [
            Q(
                f"time() - max by (market) (trading_ohlcv_last_update_timestamp_seconds{{{sel}}})",
                "{{market}}",
            )
        ],
        "s",
        description="Seconds since the newest OHLCV bar per market.",
        levels=levels,
        min_value=0,
        width=width,
    )


def last_bar(sel: str, width: int = 6) -> stat.Panel:
    return single(
        "Newest bar",
        [
            Q(
                f"max by (market) (trading_ohlcv_last_update_timestamp_seconds{{{sel}}}) * 1000",
                "{{market}}",
            )
        ],
        "dateTimeFromNow",
        description="Time of the newest OHLCV bar stored.",
        width=width,
    )


# --- Data collection -------------------------------------------------------------------------


def collection_runs(sel: str, by: str = "market", width: int = 12) -> timeseries.Panel:
    return graph(
        "Collection runs",
        [
            Q(_rate("trading_collection_successes_total", sel, by), _legend(by) + " ok"),
            Q(_rate("trading_collection_failures_total", sel, by), _legend(by) + " failed"),
        ],
        "ops",
        description="Data-collection runs per second that succeeded and failed.",
        min_value=0,
        width=width,
    )


def collection_success_ratio(
    sel: str, levels: Levels, by: str = "market", width: int = 12
) -> timeseries.Panel:
    return _ratio_graph(
        "Collection success ratio",
        "trading_collection_successes_total",
        "trading_collection_attempts_total",
        sel,
        by,
        description="Data-collection runs that succeeded / runs started; the alert uses the "
        "1-hour ratio.",
        levels=levels,
        width=width,
    )


# --- Broker/data API -------------------------------------------------------------------------


def api_request_rate(sel: str, by: str, width: int = 12) -> timeseries.Panel:
    return _stacked_rate_graph(
        "API requests",
        "trading_api_requests_total",
        sel,
        by,
        "reqps",
        description="Broker/data API requests per second.",
        width=width,
    )


def api_failure_ratio(sel: str, by: str, levels: Levels, width: int = 12) -> timeseries.Panel:
    return _ratio_graph(
        "API failure ratio",
        "trading_api_failures_total",
        "trading_api_requests_total",
        sel,
        by,
        description="Failed API requests / requests.",
        levels=levels,
        width=width,
    )


def api_latency(sel: str, by: str, levels: Levels, width: int = 12) -> timeseries.Panel:
    buckets = _rate("trading_api_request_duration_seconds_bucket", sel, f"le, {by}")
    return graph(
        "API latency p50 / p95 / p99",
        [
            Q(f"histogram_quantile({q}, {buckets})", f"p{round(q * 100)} {_legend(by)}")
            for q in (0.5, 0.95, 0.99)
        ],
        "s",
        description="Quantiles of the API request latency histogram; levels are the p95 alert's.",
        levels=levels,
        min_value=0,
        width=width,
    )


def api_rate_limit(sel: str, by: str, levels: Levels, width: int = 12) -> timeseries.Panel:
    return ratio_graph(
        "API rate-limit usage",
        [Q(f"max by ({by}) (trading_api_rate_limit_usage_ratio{{{sel}}})", _legend(by))],
        description="Share of the rate limit used in the current window.",
        levels=levels,
        width=width,
    )


# --- Trading ---------------------------------------------------------------------------------


def orders_rate(sel: str, by: str, width: int = 12) -> timeseries.Panel:
    return _stacked_rate_graph(
        "Orders",
        "trading_orders_total",
        sel,
        by,
        "ops",
        description="Orders submitted per second.",
        width=width,
    )


def order_failure_ratio(sel: str, by: str, levels: Levels, width: int = 12) -> timeseries.Panel:
    return _ratio_graph(
        "Order failure ratio",
        "trading_orders_failed_total",
        "trading_orders_total",
        sel,
        by,
        description="Orders rejected or failed / orders submitted.",
        levels=levels,
        width=width,
    )


def per_market_sum(
    title: str, metric: str, sel: str, *, description: str = "", width: int = 8
) -> timeseries.Panel:
    """The sum of gauge `metric` per market over time."""
    return graph(
        title,
        [Q(f"sum by (market) ({metric}{{{sel}}})", "{{market}}")],
        "short",
        description=description,
        min_value=0,
        width=width,
    )


def open_positions(sel: str, width: int = 8) -> timeseries.Panel:
    return per_market_sum("Open positions", "trading_open_positions", sel, width=width)


def exposure(sel: str, width: int = 8) -> timeseries.Panel:
    return per_market_sum(
        "Gross exposure",
        "trading_position_exposure",
        sel,
        description="Gross exposure of open positions, in the account's base currency.",
        width=width,
    )


def position_limit_usage(sel: str, levels: Levels, width: int = 8) -> timeseries.Panel:
    return ratio_graph(
        "Position limit usage",
        [Q(f"max by (market) (trading_position_limit_usage_ratio{{{sel}}})", "{{market}}")],
        description="Largest position as a share of its limit.",
        levels=levels,
        width=width,
    )


def positions_now(sel: str, width: int = 6) -> stat.Panel:
    return single(
        "Open positions now",
        [Q(f"sum(trading_open_positions{{{sel}}})")],
        "short",
        width=width,
    )


def position_limit_now(sel: str, levels: Levels, width: int = 6) -> stat.Panel:
    return single(
        "Largest position vs limit",
        [Q(f"max(trading_position_limit_usage_ratio{{{sel}}})")],
        "percentunit",
        levels=levels,
        width=width,
    )


# --- The exporter's own collectors -----------------------------------------------------------


def collector_duration(levels: Levels, width: int = 12) -> timeseries.Panel:
    return graph(
        "Collector duration",
        [
            Q(
                "max by (collector) (trading_exporter_collector_duration_seconds)",
                "{{collector}}",
            )
        ],
        "s",
        description="Duration of the last run of each exporter collector (its database queries).",
        levels=levels,
        min_value=0,
        width=width,
    )


# --- SLOs (recording rules from monitoring/slo.py) -------------------------------------------


def _burn_rate_levels(window: BurnRateWindow) -> Levels:
    """A burn-rate panel over `window.long` shows the factor its alert condition uses."""
    if window.severity == "critical":
        return Levels(window.factor / 2, window.factor)  # orange at half the paging rate
    return Levels(window.factor)


def slo_budget_left(slo: SLO, sel: str, width: int = 8) -> stat.Panel:
    return single(
        f"{slo.title}: error budget left ({slo.period})",
        [Q(f'slo:period_error_budget_remaining:ratio{{slo="{slo.name}", {sel}}}', "{{market}}")],
        "percentunit",
        description=f"Objective {slo.objective:.4g} over {slo.period}; below 0 the SLO is missed.",
        levels=NEGATIVE_IS_BAD,
        width=width,
        height=8,
    )


def slo_panels(slo: SLO, sel: str) -> list[stat.Panel | timeseries.Panel]:
    """Budget left over the SLO period, and the burn rate over each alert's long window."""
    panels: list[stat.Panel | timeseries.Panel] = [slo_budget_left(slo, sel)]
    # One fast (page) and one slow (ticket) window keep the row readable: the first of each.
    first = {w.severity: w for w in reversed(slo.burn_windows)}
    for window in slo.burn_windows:
        if first[window.severity] is not window:
            continue
        panels.append(
            graph(
                f"{slo.title}: burn rate over {window.long}",
                [
                    Q(
                        f'{sli_record(window.long)}{{slo="{slo.name}", {sel}}}'
                        f" / {slo.error_budget:.6g}",
                        "{{market}}",
                    )
                ],
                "suffix:x",
                description=f"1 spends the budget exactly in {slo.period}; the {window.severity} "
                f"alert needs {window.factor:g}x over {window.long} and {window.short}.",
                levels=_burn_rate_levels(window),
                min_value=0,
                width=8,
                height=8,
            )
        )
    return panels
