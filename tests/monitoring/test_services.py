"""`services`: validation errors, and the rendered scrape jobs and blackbox modules checked by
the real promtool and blackbox exporter."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.notification_config import parse_notifications
from monitoring.render import render_alertmanager, render_blackbox_config, render_prometheus_config
from monitoring.rules import AlertRule
from monitoring.service_rules import (
    PROBE_ALERTS,
    PROBE_JOB,
    SLO_ALERTS,
    blackbox_config,
    service_rule_groups,
    service_scrape_configs,
)
from monitoring.services import Latency, parse_services
from monitoring.settings import ContentSettings
from tests.monitoring.conftest import run, tool, with_services
from tests.monitoring.service_config import (
    BLACKBOX_ADDRESS,
    MARKET_CODES,
    RAW_SERVICES,
    SERVICES,
    THRESHOLDS,
)
from tests.monitoring.test_amtool import _amtool_route
from tests.monitoring.test_promtool import _without_kubernetes_sd
from validation import InvalidValue


def _changed(index: int, path: str, value: object) -> list[dict[str, Any]]:
    """RAW_SERVICES with one value set (`a.b.0.c`); value None deletes the key."""
    raw = copy.deepcopy(RAW_SERVICES)
    node: Any = raw[index]
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is None:
        del node[key]
    else:
        node[key] = value
    return raw


@pytest.mark.parametrize(
    ("index", "path", "value", "message"),
    [
        (
            0,
            "slo.latency.unit",
            "minutes",
            "services[0].slo.latency.unit = 'minutes' is invalid: allowed one of seconds,"
            " milliseconds, microseconds",
        ),
        (
            0,
            "slo.latency.unit",
            "seconds",
            "services[0].slo.latency.unit = 'seconds' is invalid: allowed milliseconds, the unit"
            " the metric name investiq_request_duration_milliseconds states",
        ),
        (
            0,
            "slo.latency.threshold",
            "500",
            "services[0].slo.latency.threshold = '500' is invalid: allowed a Prometheus duration",
        ),
        (
            0,
            "slo.latency.threshold",
            "0ms",
            "services[0].slo.latency.threshold = '0ms' is invalid: allowed a positive bucket"
            " bound in milliseconds",
        ),
        (
            0,
            "slo.objectives.availability",
            100,
            "services[0].slo.objectives.availability = 100 is invalid: allowed a percentage"
            " strictly between 0 and 100",
        ),
        (
            0,
            "slo.objectives.latency",
            0,
            "services[0].slo.objectives.latency = 0 is invalid",
        ),
        (
            0,
            "probes.1.url",
            "http://db.internal:5432/",
            "services[0].probes[1].tcp = 'db.internal:5432' is invalid: allowed either url or"
            " tcp in one probe, not both",
        ),
        (0, "probes.1.name", "health", "services[0].probes[].name = 'health' is invalid"),
        (1, "name", "investiq-api", "services[].name = 'investiq-api' is invalid: allowed unique"),
        (
            0,
            "market",
            "de",
            "services[0].market = 'de' is invalid: allowed a configured market: kr, us",
        ),
        (
            0,
            "alerts.0.expr",
            "max(investiq_trading_halted) ==",
            "services[0].alerts[0].expr = 'max(investiq_trading_halted) ==' is invalid: allowed"
            " a PromQL expression that parses",
        ),
        (0, "panels.0.expr", "sum(rate(x[5m])", "services[0].panels[0].expr = 'sum(rate(x[5m])'"),
        (1, "slo.errors.selector", 'status=~"5..', "services[1].slo.errors.selector ="),
        (0, "name", "InvestIQ", "services[0].name = 'InvestIQ' is invalid: allowed 1-29 of a-z"),
        (0, "alerts.0.severity", "page", "services[0].alerts[0].severity = 'page' is invalid"),
        (0, "alerts.0.category", "ops", "services[0].alerts[0].category = 'ops' is invalid"),
        (0, "metrics.scrapeEvery", "5s", "services[0].metrics.scrapeEvery = '5s' is invalid"),
        (0, "metrics.interval", "10 s", "services[0].metrics.interval = '10 s' is invalid"),
        (3, "metrics.targets", ["gw:9000"], "services[3].metrics.targets = ['gw:9000'] is"),
        (2, "probes", [], "services[2] = 'ml' is invalid: allowed a service with metrics"),
        (1, "market", None, "services[1].slo.marketHoursOnly = True is invalid"),
        (1, "slo.window", "12h", "services[1].slo.window = '12h' is invalid"),
        (0, "probes.0.expectBody", "(", "services[0].probes[0].expectBody = '(' is invalid"),
        (0, "probes.0.expectStatus", [700], "services[0].probes[0].expectStatus[0] = 700 is"),
    ],
)
def test_bad_values_name_key_value_and_allowed(
    index: int, path: str, value: object, message: str
) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_services(_changed(index, path, value), MARKET_CODES)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_issue_example_parses() -> None:
    api = SERVICES[0]
    assert api.slo is not None and api.slo.latency is not None
    assert api.slo.latency.bucket == 500
    assert api.probes[0].expect_body == '"status": *"healthy"'
    assert [s.name for s in SERVICES] == ["investiq-api", "screener", "ml", "gateway"]


@pytest.mark.parametrize(
    ("unit", "threshold", "bucket"),
    [
        ("milliseconds", "500ms", 500.0),
        ("seconds", "500ms", 0.5),
        ("seconds", "2s", 2.0),
        ("microseconds", "1ms", 1000.0),
        ("milliseconds", "1m", 60000.0),
    ],
)
def test_latency_threshold_is_converted_to_the_metric_unit(
    unit: str, threshold: str, bucket: float
) -> None:
    assert Latency("m", unit, threshold).bucket == bucket  # type: ignore[arg-type]


def test_scrape_jobs_pass_promtool(settings: ContentSettings, tmp_path: Path) -> None:
    config: dict[str, Any] = yaml.safe_load(render_prometheus_config(settings))
    jobs = service_scrape_configs(settings, SERVICES, BLACKBOX_ADDRESS)
    by_name = {job["job_name"]: job for job in jobs}
    assert set(by_name) == {
        "service-investiq-api",
        "service-screener",
        "service-gateway",
        PROBE_JOB,
    }
    # Target labels win; a scraped `market` is kept as `exported_market`.
    assert all(job["honor_labels"] is False for job in jobs if job["job_name"] != PROBE_JOB)
    api = by_name["service-investiq-api"]
    assert api["static_configs"] == [
        {
            "targets": ["host.docker.internal:3000"],
            "labels": {"service": "investiq-api", "market": "kr", "team": "platform"},
        }
    ]
    assert api["scrape_interval"] == "10s"  # the global 10s timeout fits
    gateway = by_name["service-gateway"]
    assert gateway["kubernetes_sd_configs"] == [
        {"role": "endpoints", "namespaces": {"names": ["trading"]}}
    ]
    relabel = gateway["relabel_configs"]
    assert {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"} in relabel
    assert {
        "source_labels": ["__meta_kubernetes_endpoint_port_name"],
        "regex": "metrics",
        "action": "keep",
    } in relabel
    probe_targets = [sc["targets"][0] for sc in by_name[PROBE_JOB]["static_configs"]]
    assert probe_targets == [
        "http://host.docker.internal:8004/health",
        "db.internal:5432",
        "https://ml.example.test/health",
        "redis.internal:6379",
    ]
    ours = sum("kubernetes_sd_configs" in job for job in config["scrape_configs"])
    config["scrape_configs"] += jobs
    assert _without_kubernetes_sd(config) == ours + 1  # the gateway's endpoints discovery
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = run([tool("promtool"), "check", "config", "--syntax-only", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_blackbox_modules_pass_the_blackbox_exporter(
    settings: ContentSettings, tmp_path: Path
) -> None:
    modules = blackbox_config(SERVICES)["modules"]
    assert set(modules) == {
        "investiq-api_health",
        "investiq-api_db",
        "ml_health",
        "ml_redis",
    }
    assert modules["investiq-api_health"]["http"]["valid_status_codes"] == [200]
    assert modules["ml_health"]["http"]["fail_if_not_ssl"] is True
    assert modules["ml_redis"]["prober"] == "tcp"
    path = tmp_path / "blackbox.yml"
    rendered = render_blackbox_config(with_services(settings))
    assert rendered is not None
    path.write_text(rendered)
    binary = tool("prometheus-blackbox-exporter")
    result = run([binary, "--config.check", f"--config.file={path}"])
    assert result.returncode == 0, result.stdout + result.stderr
    # The check can fail: a regex RE2 refuses.
    path.write_text(path.read_text().replace('"status": *"healthy"', "(?<=x)"))
    assert run([binary, "--config.check", f"--config.file={path}"]).returncode != 0


def test_generated_alerts_are_the_documented_ones(settings: ContentSettings) -> None:
    """The runbook test lists PROBE_ALERTS and SLO_ALERTS: they are what is generated."""
    groups = service_rule_groups(settings, SERVICES, THRESHOLDS)
    names = {r.name for g in groups for r in g.rules if isinstance(r, AlertRule)}
    own = {a.name for s in SERVICES for a in s.alerts}
    assert names == {*PROBE_ALERTS, *SLO_ALERTS} | own
    for group in groups:
        for rule in group.rules:
            if isinstance(rule, AlertRule) and rule.name not in PROBE_ALERTS:
                # Static labels: the alert routes and inhibits by service even if aggregated.
                assert dict(rule.labels)["service"] in {s.name for s in SERVICES}


def test_no_probes_no_probe_job_and_no_probe_rules(settings: ContentSettings) -> None:
    only_metrics = tuple(s for s in SERVICES if not s.probes)
    jobs = service_scrape_configs(settings, only_metrics, BLACKBOX_ADDRESS)
    assert PROBE_JOB not in {job["job_name"] for job in jobs}
    groups = service_rule_groups(settings, only_metrics, THRESHOLDS)
    assert "service-probes" not in {g.name for g in groups}


TEAM_ROUTING = """
receivers:
  - {name: platform-pager, pagerduty: {routingKeySecret: pagerdutyPlatform}}
  - {name: research-mail, email: {to: [research@example.com]}}
  - {name: oncall, pagerduty: {routingKeySecret: pagerdutyOncall}}
routes:
  - {match: {team: platform}, receiver: platform-pager}
  - {match: {team: research}, receiver: research-mail}
  - {match: {severity: critical}, receiver: oncall}
default: {receiver: oncall}
"""


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        # A service's SLO, probe and own alerts carry its `team`: the team's route takes them.
        (
            {
                "alertname": "ServiceAvailabilityBudgetBurn",
                "severity": "critical",
                "category": "slo",
            }
            | {"service": "investiq-api", "team": "platform", "market": "kr"},
            "platform-pager",
        ),
        (
            {"alertname": "ServiceProbeFailing", "severity": "critical", "category": "probe"}
            | {"service": "ml", "team": "research", "probe": "health"},
            "research-mail",
        ),
        # A service without a team routes by severity like ours.
        (
            {"alertname": "ServiceLatencyBudgetBurn", "severity": "critical", "category": "slo"}
            | {"service": "screener", "market": "us"},
            "oncall",
        ),
    ],
)
def test_team_selects_the_receiver(
    labels: dict[str, str], receiver: str, settings: ContentSettings, tmp_path: Path
) -> None:
    services_settings = with_services(settings)
    secrets = {"pagerdutyPlatform": "0" * 32, "pagerdutyOncall": "1" * 32}
    notifications = parse_notifications(
        yaml.safe_load(TEAM_ROUTING), services_settings, frozenset(secrets)
    )
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager(services_settings, notifications, secrets))
    result = run([tool("amtool"), "check-config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    _amtool_route(path, labels, [receiver])
