"""The real pipeline: exporter -> Prometheus -> Alertmanager -> webhook/Slack/heartbeat receivers.

Each fault is injected for real (stop the exporter, age the data of an open market, write failed
orders), and the test waits, with deadlines, for the right alert at the right receiver with the
right labels, then removes the fault and waits for the resolved notification.
The tests share one stack and run in file order (pytest keeps definition order).
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from dashboards import all_selected_values, build_dashboards, expand_variables, panel_queries
from monitoring import notifications
from tests.live.harness import (
    CLOSED_MARKET,
    HEARTBEAT_PATH,
    ONCALL_CHANNEL,
    OPEN_MARKET,
    TEAM_CHANNEL,
    WEBHOOK_PATH,
    LiveStack,
    slack_messages,
    wait_for_slack,
)
from tests.live.processes import wait_until

pytestmark = pytest.mark.live

# Deadline for one notification: `for` (2 s) + exporter refresh + scrape + evaluation +
# group_wait are ~6 s; the on-call route waits 10 s before its first notification.
DELIVERY_TIMEOUT = 40.0

# Panels that cannot show data here, and why. Every other Prometheus panel query must return
# at least one non-NaN sample from the live Prometheus.
NO_TARGET = (
    "{} does not run in the live test (no Docker here); its dashboards are checked by promtool"
)
EXEMPT_PANELS: dict[tuple[str, str], str] = {
    **{
        ("tm-system", title): NO_TARGET.format("node-exporter")
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
        ("tm-system", title): NO_TARGET.format("cAdvisor")
        for title in (
            "Container CPU",
            "Container memory (working set)",
            "Container memory vs limit",
            "Container network in",
            "Container starts",
        )
    },
    **{
        ("tm-logs", title): NO_TARGET.format("Loki")
        for title in ("Log lines", "Error lines", "Errors", "All lines")
    },
    **{
        ("tm-logs", title): NO_TARGET.format("Grafana Alloy")
        for title in (
            "Alloy unhealthy components",
            "Alloy entries sent",
            "Alloy entries dropped",
        )
    },
    ("tm-meta", "Grafana server errors"): NO_TARGET.format("Grafana"),
    ("tm-meta", "Loki server errors"): NO_TARGET.format("Loki"),
    (f"tm-market-{CLOSED_MARKET}", "Data freshness: error budget left (30d)"): (
        "the freshness SLI exists only while a market is open, and this market never opens"
    ),
    (f"tm-market-{CLOSED_MARKET}", "Order failure ratio"): (
        "no orders are placed while a market is closed: 0 failed / 0 orders has no value"
    ),
}
# Metric name prefixes of the components above: an exempt panel must query one of them
# (or be a Loki query), so that no panel of our own exporter can hide in the list.
ABSENT_METRIC_PREFIXES = ("node_", "container_", "alloy_", "loki_", "grafana_")


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
    dashboards = build_dashboards(live.settings)
    panels = {(d.uid, q.panel_title) for d in dashboards for q in panel_queries(d.model)}
    stale_exemptions = sorted(set(EXEMPT_PANELS) - panels)
    assert not stale_exemptions, f"exempt panels that no longer exist: {stale_exemptions}"

    checked: list[tuple[str, str, str]] = []  # (dashboard uid, panel title, expanded query)
    for dashboard in dashboards:
        values = all_selected_values(dashboard.model)
        for query in panel_queries(dashboard.model):
            key = (dashboard.uid, query.panel_title)
            if key in EXEMPT_PANELS:
                names_absent_source = any(p in query.expr for p in ABSENT_METRIC_PREFIXES)
                assert (
                    query.datasource_type == "loki"
                    or names_absent_source
                    or (dashboard.uid == f"tm-market-{CLOSED_MARKET}")
                ), f"{key} is exempt but queries none of {ABSENT_METRIC_PREFIXES}: {query.expr}"
                continue
            assert query.datasource_type == "prometheus", (key, query.datasource_type)
            checked.append((*key, expand_variables(query.expr, values)))
    assert len(checked) > 50  # the dashboards are not empty

    # rate() needs two samples of a moving counter: poll until every query has data.
    def empty_queries() -> list[tuple[str, str, str]]:
        return [c for c in checked if not has_data(live.query(c[2]))]

    missing = empty_queries()
    deadline = time.monotonic() + 30
    while missing and time.monotonic() < deadline:
        time.sleep(1)
        missing = [c for c in missing if not has_data(live.query(c[2]))]
    assert not missing, "panels without data:\n" + "\n".join(map(str, missing))


def test_stale_data_alerts_for_the_open_market_only(live: LiveStack) -> None:
    t = live.settings.thresholds
    # The closed market's data is older than both limits: only the session guard keeps it quiet.
    closed_age = live.query(
        f'time() - trading_ohlcv_last_update_timestamp_seconds{{market="{CLOSED_MARKET}"}}'
    )
    assert float(closed_age[0]["value"][1]) > t.stale_data_critical_seconds
    assert live.query(f'trading_market_open{{market="{CLOSED_MARKET}"}} == 0')
    assert live.query(f'trading_market_open{{market="{OPEN_MARKET}"}} == 1')

    injected = time.monotonic()
    # Older than the warning limit, younger than the critical one.
    live.db.age_bars(
        OPEN_MARKET, (t.stale_data_warning_seconds + t.stale_data_critical_seconds) // 2
    )
    firing = live.recorder.wait_for_alert(
        WEBHOOK_PATH,
        "StaleMarketData",
        "firing",
        DELIVERY_TIMEOUT,
        since=injected,
        labels={"market": OPEN_MARKET},
    )
    assert firing.receiver == notifications.WEBHOOK
    assert firing.labels["severity"] == "warning"
    assert firing.labels["category"] == "data_quality"

    removed = time.monotonic()
    live.db.add_fresh_bar(OPEN_MARKET)
    resolved = live.recorder.wait_for_alert(
        WEBHOOK_PATH,
        "StaleMarketData",
        "resolved",
        DELIVERY_TIMEOUT,
        since=removed,
        labels={"market": OPEN_MARKET, "severity": "warning"},
    )
    assert resolved.receiver == notifications.WEBHOOK

    stale_events = [
        e
        for e in live.recorder.alert_events(WEBHOOK_PATH)
        if e.labels["alertname"] == "StaleMarketData"
    ]
    assert {e.labels["market"] for e in stale_events} == {OPEN_MARKET}
    assert {e.labels["severity"] for e in stale_events} == {"warning"}
    # Not even pending, at any time since the start.
    ever = live.query(
        f'count_over_time(ALERTS{{alertname="StaleMarketData", market="{CLOSED_MARKET}"}}[1h])'
    )
    assert ever == [], ever


def test_order_failures_alert_the_team(live: LiveStack) -> None:
    injected = time.monotonic()
    live.db.add_orders(OPEN_MARKET, 50, "failed")
    firing = live.recorder.wait_for_alert(
        WEBHOOK_PATH,
        "HighOrderFailureRate",
        "firing",
        DELIVERY_TIMEOUT,
        since=injected,
        labels={"market": OPEN_MARKET},
    )
    assert firing.receiver == notifications.WEBHOOK
    assert firing.labels["severity"] == "warning"
    assert firing.labels["category"] == "trading"
    wait_for_slack(
        live.recorder,
        TEAM_CHANNEL,
        f"[FIRING:1] HighOrderFailureRate ({OPEN_MARKET})",
        DELIVERY_TIMEOUT,
        since=injected,
    )

    removed = time.monotonic()
    # Healthy fills resume: the failed share of the last 5 minutes drops to 5 %.
    assert live.dilute_order_failures(OPEN_MARKET, target_ratio=0.05) > 0
    live.recorder.wait_for_alert(
        WEBHOOK_PATH,
        "HighOrderFailureRate",
        "resolved",
        DELIVERY_TIMEOUT,
        since=removed,
        labels={"market": OPEN_MARKET},
    )
    wait_for_slack(
        live.recorder,
        TEAM_CHANNEL,
        f"[RESOLVED] HighOrderFailureRate ({OPEN_MARKET})",
        DELIVERY_TIMEOUT,
        since=removed,
    )


def test_exporter_down_pages_oncall(live: LiveStack) -> None:
    injected = time.monotonic()
    live.stop_exporter()
    firing = live.recorder.wait_for_alert(
        WEBHOOK_PATH, "ExporterDown", "firing", DELIVERY_TIMEOUT, since=injected
    )
    assert firing.receiver == notifications.WEBHOOK
    assert firing.labels["severity"] == "critical"
    assert firing.labels["category"] == "meta"
    assert firing.labels["job"] == "exporter"
    assert "market" not in firing.labels
    wait_for_slack(
        live.recorder, ONCALL_CHANNEL, "[FIRING:1] ExporterDown", DELIVERY_TIMEOUT, injected
    )

    removed = time.monotonic()
    live.start_exporter()
    live.recorder.wait_for_alert(
        WEBHOOK_PATH, "ExporterDown", "resolved", DELIVERY_TIMEOUT, since=removed
    )
    wait_for_slack(
        live.recorder, ONCALL_CHANNEL, "[RESOLVED] ExporterDown", DELIVERY_TIMEOUT, removed
    )
    wait_until(
        lambda: True if live.query('up{job="exporter"} == 1') else None,
        timeout=30,
        what="the restarted exporter to be scraped",
    )


def test_each_severity_reached_only_its_slack_channel(live: LiveStack) -> None:
    """Runs last: over the whole session, critical went to on-call and warnings to the team."""
    messages = slack_messages(live.recorder)
    oncall = {m.title for m in messages if m.channel == ONCALL_CHANNEL}
    team = {m.title for m in messages if m.channel == TEAM_CHANNEL}
    assert any("ExporterDown" in title for title in oncall), oncall
    assert not any("ExporterDown" in title for title in team), team
    assert any("HighOrderFailureRate" in title for title in team), team
    assert not any("HighOrderFailureRate" in title for title in oncall), oncall
    assert {m.channel for m in messages} <= {ONCALL_CHANNEL, TEAM_CHANNEL}
