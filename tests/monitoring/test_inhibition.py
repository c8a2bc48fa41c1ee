"""Inhibition and secret files, proven on a real Alertmanager 0.25 with the rendered config.

amtool tests routing only. Here alerts are posted to a running Alertmanager: its API must
report the inhibited ones (and only those) as suppressed, and the Slack receiver, whose URL
comes from the `api_url_file` secret, must deliver the others and never the inhibited ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitoring.render import render_alertmanager_config
from monitoring.settings import ContentSettings, Receivers
from tests.live.processes import (
    WebhookRecorder,
    get_json,
    post_json,
    running_alertmanager,
    wait_until,
)
from tests.monitoring.conftest import make_settings, tool
from tests.monitoring.test_component_rules import COMPONENTS, with_components

pytestmark = pytest.mark.live

# name -> labels. The expectations below say which of them the rules inhibit.
ALERTS: dict[str, dict[str, str]] = {
    "position-critical-us": {"alertname": "PositionLimitApproaching", "severity": "critical"}
    | {"category": "trading", "market": "us", "job": "exporter-b"},
    "position-warning-us": {"alertname": "PositionLimitApproaching", "severity": "warning"}
    | {"category": "trading", "market": "us", "job": "exporter-b"},
    "position-warning-hk": {"alertname": "PositionLimitApproaching", "severity": "warning"}
    | {"category": "trading", "market": "hk", "job": "exporter-b"},
    "adapter-down-kr": {"alertname": "TargetDown", "severity": "warning", "category": "system"}
    | {"job": "adapter", "market": "kr", "instance": "adapter-kr:8001"},
    "collection-kr": {"alertname": "LowDataCollectionRate", "severity": "warning"}
    | {"category": "data_quality", "market": "kr", "job": "exporter-b"},
    "collection-us": {"alertname": "LowDataCollectionRate", "severity": "warning"}
    | {"category": "data_quality", "market": "us", "job": "exporter-b"},
    "exporter-down": {"alertname": "ExporterDown", "severity": "critical", "category": "meta"}
    | {"job": "exporter"},
    "api-errors-exporter": {"alertname": "HighAPIErrorRate", "severity": "warning"}
    | {"category": "api", "market": "us", "endpoint": "quotes", "job": "exporter"},
    "api-errors-other": {"alertname": "HighAPIErrorRate", "severity": "warning"}
    | {"category": "api", "market": "jp", "endpoint": "quotes", "job": "exporter-b"},
    # A critical on one endpoint or filesystem mutes the warning of that one, not its siblings.
    "api-critical-us-quotes": {"alertname": "HighAPIErrorRate", "severity": "critical"}
    | {"category": "api", "market": "us", "endpoint": "quotes", "job": "exporter-b"},
    "api-warning-us-quotes": {"alertname": "HighAPIErrorRate", "severity": "warning"}
    | {"category": "api", "market": "us", "endpoint": "quotes", "job": "exporter-b"},
    "api-warning-us-orders": {"alertname": "HighAPIErrorRate", "severity": "warning"}
    | {"category": "api", "market": "us", "endpoint": "orders", "job": "exporter-b"},
    "disk-warning-a-root": {"alertname": "LowDiskSpace", "severity": "warning"}
    | {"category": "system", "job": "node", "instance": "host-a:9100", "mountpoint": "/"},
    "disk-critical-a": {"alertname": "LowDiskSpace", "severity": "critical", "category": "system"}
    | {"job": "node", "instance": "host-a:9100", "mountpoint": "/data"},
    "disk-warning-a": {"alertname": "LowDiskSpace", "severity": "warning", "category": "system"}
    | {"job": "node", "instance": "host-a:9100", "mountpoint": "/data"},
    "disk-warning-b": {"alertname": "LowDiskSpace", "severity": "warning", "category": "system"}
    | {"job": "node", "instance": "host-b:9100", "mountpoint": "/data"},
    # Components (tests/monitoring/test_component_rules.py: trading-db is the exporter's database).
    "pg-down": {"alertname": "PostgresDown", "severity": "critical", "category": "system"}
    | {"component": "postgres", "name": "trading-db", "job": "postgres"},
    "pg-errors": {"alertname": "PostgresExporterQueryErrors", "severity": "warning"}
    | {"category": "system", "component": "postgres", "name": "trading-db", "job": "postgres"},
    "pg-errors-replica": {"alertname": "PostgresExporterQueryErrors", "severity": "warning"}
    | {"category": "system", "component": "postgres", "name": "replica", "job": "postgres"},
    "exporter-collector": {"alertname": "ExporterCollectorFailing", "severity": "warning"}
    | {"category": "meta", "job": "exporter", "collector": "trading"},
    "redis-exporter-down": {"alertname": "TargetDown", "severity": "warning", "category": "system"}
    | {"job": "redis", "component": "redis", "name": "cache", "instance": "redis-exp:9121"},
    "redis-evictions": {"alertname": "RedisEvictions", "severity": "warning", "category": "system"}
    | {"job": "redis", "component": "redis", "name": "cache", "instance": "redis-exp:9121"},
    "nginx-down": {"alertname": "NginxDown", "severity": "critical", "category": "system"}
    | {"job": "nginx", "component": "nginx", "name": "edge"},
    # A user service's target is down: its SLO and probe alerts are muted, another's are not.
    "service-down-api": {"alertname": "TargetDown", "severity": "warning", "category": "system"}
    | {"job": "service-investiq-api", "service": "investiq-api", "instance": "api:3000"},
    "service-slo-api": {"alertname": "ServiceAvailabilityBudgetBurn", "severity": "critical"}
    | {"category": "slo", "slo": "investiq-api-availability", "service": "investiq-api"},
    "service-probe-api": {"alertname": "ServiceProbeFailing", "severity": "critical"}
    | {"category": "probe", "service": "investiq-api", "probe": "health", "job": "probe"},
    "service-probe-ml": {"alertname": "ServiceProbeFailing", "severity": "critical"}
    | {"category": "probe", "service": "ml", "probe": "health", "job": "probe"},
}
INHIBITED = {
    "service-slo-api",
    "service-probe-api",
    "position-warning-us",
    "collection-kr",
    "api-errors-exporter",
    "api-warning-us-quotes",
    "disk-warning-a",
    "pg-errors",
    "exporter-collector",
    "redis-evictions",
}
# Warnings outside the market-hours mutes (those depend on the wall clock): Slack must get
# these, and must not get the inhibited API warning.
DELIVERED_WARNINGS = {
    "position-warning-hk",
    "adapter-down-kr",
    "api-errors-other",
    "disk-warning-b",
    "api-warning-us-orders",
    "disk-warning-a-root",
    "pg-errors-replica",
    "redis-exporter-down",
}


@pytest.fixture()
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, WebhookRecorder]]:
    recorder = WebhookRecorder()
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "slack_api_url").write_text(recorder.url("/slack") + "\n")
    settings: ContentSettings = dataclasses.replace(
        make_settings(group_wait="1s", group_interval="1s"),
        receivers=Receivers(slack_channel="#alerts", webhook=True, secrets_dir=str(secrets)),
    )
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        render_alertmanager_config(
            with_components(settings, COMPONENTS), recorder.url("/webhook"), None
        )
    )
    with running_alertmanager(tool("prometheus-alertmanager"), config, tmp_path, recorder) as url:
        yield url, recorder


def _post_alerts(base_url: str) -> None:
    now = datetime.now(UTC).isoformat()
    body = [
        {"labels": labels, "annotations": {"summary": name}, "startsAt": now}
        for name, labels in ALERTS.items()
    ]
    post_json(f"{base_url}/api/v2/alerts", body)


def _states(base_url: str) -> dict[str, dict[str, Any]] | None:
    alerts = get_json(f"{base_url}/api/v2/alerts")
    states = {a["annotations"]["summary"]: a["status"] for a in alerts}
    if (
        set(states) != set(ALERTS)
        or {n for n, s in states.items() if s["inhibitedBy"]} != INHIBITED
    ):
        return None  # the inhibitor may need a moment to see the source alerts
    return states


def _slack_summaries(recorder: WebhookRecorder) -> set[str]:
    summaries: set[str] = set()
    for delivery in recorder.deliveries("/slack"):
        for attachment in delivery.payload.get("attachments", []):
            for line in str(attachment.get("text", "")).splitlines():
                if line.startswith("*"):
                    summaries.add(line.split(" ", 1)[1])
    return summaries


def test_inhibition_on_a_real_alertmanager(alertmanager: tuple[str, WebhookRecorder]) -> None:
    base_url, recorder = alertmanager
    _post_alerts(base_url)
    states = wait_until(lambda: _states(base_url), 10, "the expected inhibitions")
    for name in INHIBITED:
        assert states[name]["state"] == "suppressed", name
    for name in set(ALERTS) - INHIBITED:
        assert not states[name]["inhibitedBy"], name

    # Slack (api_url_file) and the webhook deliver what is not inhibited, and nothing else.
    wait_until(
        lambda: True if _slack_summaries(recorder) >= DELIVERED_WARNINGS else None,
        15,
        f"Slack deliveries of {sorted(DELIVERED_WARNINGS)}",
    )
    assert not INHIBITED & _slack_summaries(recorder)
    webhook_label_sets = [e.labels for e in recorder.alert_events("/webhook")]
    assert ALERTS["api-errors-other"] in webhook_label_sets
    for name in INHIBITED:
        assert ALERTS[name] not in webhook_label_sets, name
