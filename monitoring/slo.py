"""SLOs as small definitions that generate Sloth-style recording and burn-rate alert rules.

Each SLO gives two queries with a `$window` placeholder: how many events went wrong in the
window, and how many there were. We record their ratio over every window the alerts need
(`slo:sli_error:ratio_rate<window>{slo=...}`, absent in windows without events, never 0/0 = NaN)
and alert when the error budget burns too fast over a short AND a long window (Google SRE
workbook, as Sloth generates it):

| severity | short | long | burn rate |
|----------|-------|------|-----------|
| critical (page)   | 5m  | 1h | 14.4x |
| critical (page)   | 30m | 6h | 6x    |
| warning (ticket)  | 2h  | 1d | 3x    |
| warning (ticket)  | 6h  | 3d | 1x    |
"""

from __future__ import annotations

from dataclasses import dataclass

from monitoring import dashboard_uids
from monitoring.rules import AlertRule, RecordingRule, RuleGroup, Severity, num
from monitoring.settings import ContentSettings
from monitoring.thresholds import BURN_RATE_WINDOWS, BurnRateWindow

WINDOW_PLACEHOLDER = "$window"
PERIOD = "30d"
STALE_DATA_RECORD = "market:trading_ohlcv_stale:bool"


@dataclass(frozen=True)
class SLO:
    name: str  # label value `slo`, e.g. "api-availability"
    alert_name: str
    title: str  # human name used in annotations
    objective: float  # e.g. 0.995 over PERIOD
    # PromQL with `$window`, labelled by `market`: events that went wrong / all events in the
    # window (the same kind of amount: both increases, or both sample counts).
    errors_query: str
    events_query: str
    dashboard_uid: str
    # Recording rules the query reads, evaluated first in the SLO's group.
    inputs: tuple[RecordingRule, ...] = ()
    period: str = PERIOD  # the objective's window (budget remaining is over it)
    # Who the annotations speak of, and extra static alert labels (services: service, team).
    scope: str = "{{ $labels.market }}"
    labels: tuple[tuple[str, str], ...] = ()
    # The burn-rate windows; tests may shorten them (same factors, same structure).
    burn_windows: tuple[BurnRateWindow, ...] = BURN_RATE_WINDOWS

    @property
    def error_budget(self) -> float:
        return round(1.0 - self.objective, 10)


def windows(burn_windows: tuple[BurnRateWindow, ...] = BURN_RATE_WINDOWS) -> tuple[str, ...]:
    seen: list[str] = []
    for w in burn_windows:
        for window in (w.short, w.long):
            if window not in seen:
                seen.append(window)
    return tuple(seen)


def sli_record(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


# Errors and events over each period-group interval: their 30-day sums weigh every event alike.
SLI_ERRORS_RECORD = "slo:sli_errors:increase_interval"
SLI_EVENTS_RECORD = "slo:sli_events:increase_interval"
BUDGET_REMAINING_RECORD = "slo:period_error_budget_remaining:ratio"


def error_ratio(slo: SLO, window: str) -> str:
    """Errors / events over `window`; no sample (rather than NaN) without events."""
    errors = slo.errors_query.replace(WINDOW_PLACEHOLDER, window)
    events = slo.events_query.replace(WINDOW_PLACEHOLDER, window)
    return f"({errors}) / ({events} > 0)"


def _stale_data_record(settings: ContentSettings) -> RecordingRule:
    """1 while the market is open and its newest bar is older than the freshness limit, 0 while
    open and fresh, absent while closed and for the first `limit` of each session (the newest
    bar is then the previous close's: not an error, just the session's first minutes)."""
    limit = settings.thresholds.data_freshness_max_age_seconds
    return RecordingRule(
        STALE_DATA_RECORD,
        "max by (market) (time() - trading_ohlcv_last_update_timestamp_seconds"
        f" > bool {limit})"
        " and on (market)"
        f" (max by (market) (min_over_time(trading_market_open[{limit}s])) == 1)",
    )


def slos(settings: ContentSettings) -> tuple[SLO, ...]:
    t = settings.thresholds
    return (
        SLO(
            name="api-availability",
            alert_name="APIAvailabilityBudgetBurn",
            title="API availability",
            objective=t.api_availability_objective,
            errors_query="sum by (market) (increase(trading_api_failures_total[$window]))",
            events_query="sum by (market) (increase(trading_api_requests_total[$window]))",
            dashboard_uid=dashboard_uids.API,
        ),
        SLO(
            name="data-freshness",
            alert_name="DataFreshnessBudgetBurn",
            title="Data freshness",
            objective=t.data_freshness_objective,
            # In-session evaluations where the newest bar was too old, of all in-session
            # evaluations (the input series only exists while the market is open).
            errors_query=f"sum by (market) (sum_over_time({STALE_DATA_RECORD}[$window]))",
            events_query=f"sum by (market) (count_over_time({STALE_DATA_RECORD}[$window]))",
            dashboard_uid=dashboard_uids.DATA_QUALITY,
            inputs=(_stale_data_record(settings),),
        ),
    )


def _window_rules(slo: SLO) -> tuple[RecordingRule, ...]:
    label = (("slo", slo.name),)
    return tuple(
        RecordingRule(sli_record(window), error_ratio(slo, window), label)
        for window in windows(slo.burn_windows)
    )


def _period_rules(slo: SLO, interval: str) -> tuple[RecordingRule, ...]:
    """30-day figures for dashboards, evaluated every `interval` (a 30-day sum reads every
    sample of the period: not every 15 s). Errors and events are recorded over `interval`, so
    consecutive samples tile time and their 30-day sums count every event once."""
    label = (("slo", slo.name),)
    sel = f'{{slo="{slo.name}"}}'
    period_expr = (
        f"sum_over_time({SLI_ERRORS_RECORD}{sel}[{slo.period}])"
        f" / (sum_over_time({SLI_EVENTS_RECORD}{sel}[{slo.period}]) > 0)"
    )
    return (
        RecordingRule(
            SLI_ERRORS_RECORD, slo.errors_query.replace(WINDOW_PLACEHOLDER, interval), label
        ),
        RecordingRule(
            SLI_EVENTS_RECORD, slo.events_query.replace(WINDOW_PLACEHOLDER, interval), label
        ),
        RecordingRule(sli_record(slo.period), period_expr, label),
        RecordingRule(
            BUDGET_REMAINING_RECORD,
            f"1 - {sli_record(slo.period)}{sel} / {num(slo.error_budget)}",
            label,
        ),
    )


def _burn_condition(slo: SLO, window: BurnRateWindow) -> str:
    threshold = num(window.factor * slo.error_budget)
    sel = f'{{slo="{slo.name}"}}'
    return (
        f"({sli_record(window.short)}{sel} > {threshold}"
        f" and {sli_record(window.long)}{sel} > {threshold})"
    )


def _alert_rules(slo: SLO) -> tuple[AlertRule, ...]:
    alerts = []
    kinds: tuple[tuple[Severity, str, str], ...] = (
        ("critical", "page", "fast"),
        ("warning", "ticket", "slowly"),
    )
    for severity, kind, speed in kinds:
        conditions = [_burn_condition(slo, w) for w in slo.burn_windows if w.severity == severity]
        factors = ", ".join(
            f"{num(w.factor)}x over {w.short}/{w.long}"
            for w in slo.burn_windows
            if w.severity == severity
        )
        alerts.append(
            AlertRule(
                name=slo.alert_name,
                expr=" or ".join(conditions),
                severity=severity,
                category="slo",
                summary=f"{slo.title} error budget of {slo.scope} is burning {speed}",
                description=(
                    f"{slo.title} errors are {{{{ $value | humanizePercentage }}}} of events in"
                    f" {slo.scope}; objective {num(slo.objective * 100)}% over"
                    f" {slo.period}. Burn-rate {kind} condition: {factors}."
                ),
                dashboard_uid=slo.dashboard_uid,
                labels=(("slo", slo.name), *slo.labels),
            )
        )
    return tuple(alerts)


def slo_groups(slo: SLO, interval: str, file: str = "slo.yml") -> tuple[RuleGroup, RuleGroup]:
    """The SLO's burn-rate group and its period group (evaluated every `interval`)."""
    # Inputs, then the SLI windows, then the alerts reading them: one evaluation, in order.
    rules: tuple[AlertRule | RecordingRule, ...] = (
        *slo.inputs,
        *_window_rules(slo),
        *_alert_rules(slo),
    )
    return (
        RuleGroup(f"slo-{slo.name}", file, rules),
        RuleGroup(f"slo-{slo.name}-period", file, _period_rules(slo, interval), interval),
    )


def slo_rule_groups(settings: ContentSettings) -> tuple[RuleGroup, ...]:
    interval = settings.thresholds.slo_period_interval
    return tuple(group for slo in slos(settings) for group in slo_groups(slo, interval))
