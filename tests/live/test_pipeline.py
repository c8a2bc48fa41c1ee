"""The real pipeline: exporter -> Prometheus -> Alertmanager -> webhook/Slack/heartbeat receivers.

Each fault is injected for real (stop the exporter, age the data of an open market, write failed
orders), and the test waits, with deadlines, for the right alert at the right receiver with the
right labels, then removes the fault and waits for the resolved notification.
The tests share one stack (module fixture); each one checks its own fault end to end.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import pytest

from dashboards import all_selected_values, build_dashboards, expand_variables, panel_queries
from monitoring import notifications
from tests.live.harness import (
    CLOSED_MARKET,
    HEARTBEAT_PATH,
    ONCALL_CHANNEL,
    OPEN_MARKET,
    ORDER_FAILURES,
    STALE_DATA,
    TARGET_DOWN,
    TEAM_CHANNEL,
    WEBHOOK_PATH,
    FaultRun,
    LiveStack,
    run_fault,
    slack_messages,
    wait_for_slack,
)
from tests.live.processes import wait_until

pytestmark = pytest.mark.live

# Deadline for one notification: `for` (2 s) + exporter refresh + scrape + evaluation +
# group_wait are ~6 s; the on-call route waits 10 s before its first notification.
DELIVERY_TIMEOUT = 40.0


@dataclass(frozen=True)
class Exemption:
    reason: str
    # The panel's query must contain one of these, so that no panel of our own exporter can
    # hide in the list under a wrong reason.
    queries_one_of: tuple[str, ...]


def _no_target(component: str, *prefixes: str) -> Exemption:
    return Exemption(
        f"{component} does not run in the live test (no Docker here); promtool checks the query",
        prefixes,
    )


NODE = _no_target("node-exporter", "node_")
CADVISOR = _no_target("cAdvisor", "container_")
LOKI = _no_target("Loki", "{container=~")  # LogQL stream selectors
ALLOY = _no_target("Grafana Alloy", "alloy_", "loki_write_")
NO_CLOSED_MARKET_TRAFFIC = Exemption(
    "the feeder writes API calls for the open market only: the closed market has no SLO events",
    ("slo:period_error_budget_remaining",),
)
CLOSED = f'market="{CLOSED_MARKET}"'

# Panels that cannot show data here, and why. Every other Prometheus panel query must return
# at least one non-NaN sample from the live Prometheus.
EXEMPT_PANELS: dict[tuple[str, str], Exemption] = {
    **{
        ("tm-system", title): NODE
        for title in (
            "CPU usage",
            "Memory usage",
            "Filesystem free",
            "Load (1m) per CPU",
            "Network",
            "Disk busy",
        )
    },
    **{
        ("tm-system", title): CADVISOR
        for title in (
            "Container CPU",
            "Container memory (working set)",
            "Container memory vs limit",
            "Container network in",
            "Container starts",
        )
    },
    **{("tm-logs", title): LOKI for title in ("Log lines", "Error lines", "Errors", "All lines")},
    **{
        ("tm-logs", title): ALLOY
        for title in ("Alloy unhealthy components", "Alloy entries sent", "Alloy entries dropped")
    },
    ("tm-meta", "Grafana server errors"): _no_target("Grafana", "grafana_"),
    ("tm-meta", "Loki server errors"): _no_target("Loki", "loki_request_"),
    ("tm-meta", "Remote write lag"): Exemption(
        "the live Prometheus has no remote_write (no endpoint to send to); promtool tests the"
        " alert on the same series (tests/monitoring/rules/prometheus_storage.yml)",
        ("prometheus_remote_storage_queue_highest_sent_timestamp_seconds",),
    ),
    (f"tm-market-{CLOSED_MARKET}", "API availability: error budget left (30d)"): (
        NO_CLOSED_MARKET_TRAFFIC
    ),
    (f"tm-market-{CLOSED_MARKET}", "Data freshness: error budget left (30d)"): Exemption(
        "the freshness SLI exists only while a market is open, and this market never opens",
        (CLOSED,),
    ),
    (f"tm-market-{CLOSED_MARKET}", "Order failure ratio"): Exemption(
        "no orders are placed while a market is closed: 0 failed / 0 orders has no value",
        (CLOSED,),
    ),
}
# Empty while nothing fires (the panel then says so); checked while a fault fires instead.
FIRING_ALERTS_PANEL = ("tm-overview", "Firing alerts")


def dashboard_queries(live: LiveStack) -> dict[tuple[str, str], list[str]]:
    """(dashboard uid, panel title) -> its Prometheus queries, variables set to "All"."""
    queries: dict[tuple[str, str], list[str]] = {}
    for dashboard in build_dashboards(live.settings):
        values = all_selected_values(dashboard.model)
        for query in panel_queries(dashboard.model):
            key = (dashboard.uid, query.panel_title)
            queries.setdefault(key, [])
            if query.datasource_type == "prometheus":
                queries[key].append(expand_variables(query.expr, values))
            else:
                assert key in EXEMPT_PANELS, f"{key}: {query.datasource_type} query not exempt"
    return queries


def has_data(result: list[dict[str, Any]]) -> bool:
    """True if any series has a sample that is a number (NaN panels show "No data")."""
    for series in result:
        samples = series.get("values") or [series.get("value")]
        for sample in samples:
            if sample is not None and not math.isnan(float(sample[1])):
                return True
    return False


def test_watchdog_reaches_only_the_heartbeat(live: LiveStack) -> None:
    event = live.recorder.wait_for_alert(
        HEARTBEAT_PATH, "Watchdog", "firing", timeout=DELIVERY_TIMEOUT
    )
    assert event.receiver == notifications.HEARTBEAT
    assert event.labels["severity"] == "none"
    heartbeat_names = {e.labels["alertname"] for e in live.recorder.alert_events(HEARTBEAT_PATH)}
    assert heartbeat_names == {"Watchdog"}
    webhook_names = {e.labels["alertname"] for e in live.recorder.alert_events(WEBHOOK_PATH)}
    assert "Watchdog" not in webhook_names


def test_every_dashboard_query_returns_data(live: LiveStack) -> None:
    queries = dashboard_queries(live)
    stale_exemptions = sorted(set(EXEMPT_PANELS) - set(queries))
    assert not stale_exemptions, f"exempt panels that no longer exist: {stale_exemptions}"
    assert FIRING_ALERTS_PANEL in queries
    for key, exemption in EXEMPT_PANELS.items():
        for expr in queries[key]:
            assert any(s in expr for s in exemption.queries_one_of), (key, exemption, expr)

    checked = [
        (key, expr)
        for key, exprs in queries.items()
        if key not in EXEMPT_PANELS and key != FIRING_ALERTS_PANEL
        for expr in exprs
    ]
    assert len(checked) > 50  # the dashboards are not empty

    # rate() needs two samples of a moving counter: poll until every query has data.
    missing = checked
    deadline = time.monotonic() + 30
    while True:
        missing = [(key, expr) for key, expr in missing if not has_data(live.query(expr))]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not missing, "panels without data:\n" + "\n".join(map(str, missing))


def slack_channels(live: LiveStack, alertname: str) -> set[str]:
    """Slack channels that got a message about `alertname` so far."""
    return {m.channel for m in slack_messages(live.recorder) if f"] {alertname}" in m.title}


def assert_delivered(run: FaultRun) -> None:
    """Both notifications reached the generic webhook with the fault's labels."""
    for event in (run.firing, run.resolved):
        assert event.receiver == notifications.WEBHOOK
        wanted = {"alertname": run.fault.alertname, **run.fault.labels}
        assert {k: event.labels.get(k) for k in wanted} == wanted


def test_stale_data_alerts_for_the_open_market_only(live: LiveStack) -> None:
    t = live.settings.thresholds
    # The closed market's data is older than both limits: only the session guard keeps it quiet.
    closed_age = live.query(
        f'time() - trading_ohlcv_last_update_timestamp_seconds{{market="{CLOSED_MARKET}"}}'
    )
    assert float(closed_age[0]["value"][1]) > t.stale_data_critical_seconds
    assert live.query(f'trading_market_open{{market="{CLOSED_MARKET}"}} == 0')
    assert live.query(f'trading_market_open{{market="{OPEN_MARKET}"}} == 1')

    assert_delivered(run_fault(live, STALE_DATA, DELIVERY_TIMEOUT))

    stale_events = [
        e
        for e in live.recorder.alert_events(WEBHOOK_PATH)
        if e.labels["alertname"] == STALE_DATA.alertname
    ]
    assert {e.labels["market"] for e in stale_events} == {OPEN_MARKET}
    assert {e.labels["severity"] for e in stale_events} == {"warning"}  # not the critical one
    # The market on holiday: its alert was not even pending, at any time since the start.
    ever = live.query(
        f'count_over_time(ALERTS{{alertname="{STALE_DATA.alertname}",'
        f' market="{CLOSED_MARKET}"}}[1h])'
    )
    assert ever == [], ever
    # A warning: never the on-call channel.
    assert ONCALL_CHANNEL not in slack_channels(live, STALE_DATA.alertname)


def test_order_failures_alert_the_team(live: LiveStack) -> None:
    title = f"{ORDER_FAILURES.alertname} ({OPEN_MARKET})"
    (firing_alerts_query,) = dashboard_queries(live)[FIRING_ALERTS_PANEL]

    def while_firing(injected: float) -> None:
        wait_for_slack(
            live.recorder, TEAM_CHANNEL, f"[FIRING:1] {title}", DELIVERY_TIMEOUT, injected
        )
        # The overview's firing-alerts table lists it.
        shown = {r["metric"].get("alertname") for r in live.query(firing_alerts_query)}
        assert ORDER_FAILURES.alertname in shown, shown

    run = run_fault(
        live,
        ORDER_FAILURES,
        DELIVERY_TIMEOUT,
        while_firing=while_firing,
    )
    assert_delivered(run)
    wait_for_slack(
        live.recorder, TEAM_CHANNEL, f"[RESOLVED] {title}", DELIVERY_TIMEOUT, run.removed_at
    )
    assert slack_channels(live, ORDER_FAILURES.alertname) == {TEAM_CHANNEL}


def test_exporter_down_pages_oncall(live: LiveStack) -> None:
    name = TARGET_DOWN.alertname
    # The on-call route waits 10 s before notifying: a shorter outage never pages (by design),
    # so the exporter stays down until the page has arrived.
    run = run_fault(
        live,
        TARGET_DOWN,
        DELIVERY_TIMEOUT,
        while_firing=lambda injected: wait_for_slack(
            live.recorder, ONCALL_CHANNEL, f"[FIRING:1] {name}", DELIVERY_TIMEOUT, injected
        ),
    )
    assert_delivered(run)
    assert "market" not in run.firing.labels
    wait_for_slack(
        live.recorder, ONCALL_CHANNEL, f"[RESOLVED] {name}", DELIVERY_TIMEOUT, run.removed_at
    )
    assert slack_channels(live, name) == {ONCALL_CHANNEL}
    wait_until(
        lambda: True if live.query('up{job="exporter"} == 1') else None,
        timeout=30,
        what="the restarted exporter to be scraped",
    )
