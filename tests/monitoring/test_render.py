"""Structure of the rendered content: labels, annotations, docs, scrape jobs, notifications."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import prometheus
from monitoring import dashboard_uids, jobs
from monitoring.alert_catalog import alert_catalog_markdown, default_settings
from monitoring.alerts import alert_names
from monitoring.notifications import (
    DISCARD_TIMING,
    HEARTBEAT,
    MUTED_WHEN_CLOSED,
    ONCALL,
    TEAM,
    GrafanaPolicy,
    notification_model,
)
from monitoring.render import (
    check_settings,
    grafana_notification_model,
    render_alertmanager_config,
    render_prometheus_config,
    render_rule_files,
)
from monitoring.rules import CATEGORIES, SEVERITIES
from monitoring.service_rules import OWN_ALERTS_ANCHOR, PROBE_ALERTS, SLO_ALERTS
from monitoring.settings import ContentSettings, Market
from monitoring.thirdparty.rules import component_alert_names
from monitoring.thresholds import AlertThresholds
from tests.monitoring.conftest import (
    GRAFANA_URL,
    HEARTBEAT_URL,
    MARKETS,
    RUNBOOK_BASE_URL,
    WEBHOOK_URL,
    make_settings,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _rendered_rules(settings: ContentSettings) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for text in render_rule_files(settings).values():
        for group in yaml.safe_load(text)["groups"]:
            rules += group["rules"]
    return rules


# --- Rules ------------------------------------------------------------------------------------


def test_every_alert_has_labels_and_annotations(settings: ContentSettings) -> None:
    alerts = [r for r in _rendered_rules(settings) if "alert" in r]
    assert len({a["alert"] for a in alerts}) >= 30
    market_uid = re.compile(r"^tm-market-(\{\{ \$labels\.market \}\})$")
    for alert in alerts:
        name = alert["alert"]
        assert alert["labels"]["severity"] in SEVERITIES, name
        assert alert["labels"]["category"] in CATEGORIES, name
        notes = alert["annotations"]
        assert set(notes) == {"summary", "description", "runbook_url", "dashboard_url"}, name
        assert notes["summary"] and notes["description"], name
        assert notes["runbook_url"] == f"{RUNBOOK_BASE_URL}#{name.lower()}"
        prefix = f"{GRAFANA_URL}/d/"
        assert notes["dashboard_url"].startswith(prefix), name
        uid = notes["dashboard_url"][len(prefix) :]
        assert uid in dashboard_uids.FIXED or market_uid.match(uid), (name, uid)
        if "$labels.market" in uid:
            assert "market" in alert["expr"], name  # the series must carry the label


def test_alerts_of_market_series_keep_the_market_label(settings: ContentSettings) -> None:
    """Alerts on per-market series aggregate `by (..., market)` (or keep all labels)."""
    for alert in (r for r in _rendered_rules(settings) if "alert" in r):
        for clause in re.findall(r"(?:by|without) \(([^)]*)\)", alert["expr"]):
            labels = {label.strip() for label in clause.split(",")}
            if "market" in alert["annotations"]["summary"]:
                assert "market" in labels or "le" in labels, (alert["alert"], clause)


def test_thresholds_are_parameters(settings: ContentSettings) -> None:
    changed = dataclasses.replace(
        settings,
        thresholds=AlertThresholds(api_error_ratio_warning=0.07, stale_data_for="9m"),
    )
    rules = {
        (r["alert"], r["labels"]["severity"]): r for r in _rendered_rules(changed) if "alert" in r
    }
    assert rules[("HighAPIErrorRate", "warning")]["expr"].endswith("> 0.07")
    assert rules[("StaleMarketData", "warning")]["for"] == "9m"


def test_recording_rule_names_follow_the_convention(settings: ContentSettings) -> None:
    records = [r["record"] for r in _rendered_rules(settings) if "record" in r]
    assert "market:trading_collection_success:ratio_rate1h" in records
    assert "market_endpoint:trading_api_failures:ratio_rate5m" in records
    for record in records:
        assert re.match(r"^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$", record), record


def test_slo_burn_rate_windows(settings: ContentSettings) -> None:
    """Sloth's multi-window multi-burn-rate thresholds for a 99.5% objective (budget 0.005)."""
    rules = [r for r in _rendered_rules(settings) if r.get("alert") == "APIAvailabilityBudgetBurn"]
    page = next(r for r in rules if r["labels"]["severity"] == "critical")["expr"]
    ticket = next(r for r in rules if r["labels"]["severity"] == "warning")["expr"]
    for window, threshold in (("5m", "0.072"), ("1h", "0.072"), ("30m", "0.03"), ("6h", "0.03")):
        assert f'slo:sli_error:ratio_rate{window}{{slo="api-availability"}} > {threshold}' in page
    for window, threshold in (("2h", "0.015"), ("1d", "0.015"), ("6h", "0.005"), ("3d", "0.005")):
        assert f'slo:sli_error:ratio_rate{window}{{slo="api-availability"}} > {threshold}' in ticket


# --- Docs -------------------------------------------------------------------------------------


def _github_anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_runbooks_have_one_section_per_alert(settings: ContentSettings) -> None:
    text = (DOCS / "runbooks.md").read_text()
    sections = [_github_anchor(h) for h in re.findall(r"^### (.+)$", text, re.M)]
    generated = (*PROBE_ALERTS, *SLO_ALERTS)  # from `services`, plus their own alerts' section
    names = (*alert_names(settings), *component_alert_names(), *generated)
    expected = [name.lower() for name in names]
    expected.append(OWN_ALERTS_ANCHOR)
    assert sorted(sections) == sorted(expected)


def test_alert_catalog_is_up_to_date() -> None:
    assert (DOCS / "alerts.md").read_text() == alert_catalog_markdown(default_settings()), (
        "regenerate: .venv/bin/python -m monitoring.alert_catalog > docs/alerts.md"
    )


# --- Prometheus configuration -----------------------------------------------------------------


def test_scrape_jobs_static(settings: ContentSettings) -> None:
    settings = dataclasses.replace(settings, discovery="static")
    config = yaml.safe_load(render_prometheus_config(settings))
    by_name = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(by_name) == set(jobs.ALL) - set(jobs.KUBERNETES_ONLY)
    adapters = by_name[jobs.ADAPTER]["static_configs"]
    assert [(a["targets"], a["labels"]) for a in adapters] == [
        (["adapter-kr:8001"], {"market": "kr"}),
        (["adapter-jp:8005"], {"market": "jp"}),
    ]
    assert by_name[jobs.NODE]["static_configs"] == [{"targets": ["node-exporter:9100"]}]
    assert config["global"]["scrape_interval"] == settings.scrape_interval
    assert config["global"]["external_labels"] == {
        "env": "dev",
        "cluster": "test",
        "replica": "${HOSTNAME}",
    }
    assert config["alerting"]["alertmanagers"] == [
        {"static_configs": [{"targets": ["alertmanager-0:9093", "alertmanager-1:9093"]}]}
    ]
    assert config["alerting"]["alert_relabel_configs"] == [
        {"action": "labeldrop", "regex": "replica"}
    ]
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    assert "remote_write" not in config


def test_scrape_jobs_kubernetes(settings: ContentSettings) -> None:
    k8s = dataclasses.replace(settings, discovery="kubernetes", remote_write_url="https://rw/x")
    config = yaml.safe_load(render_prometheus_config(k8s))
    by_name = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(by_name) == set(jobs.ALL)
    node = by_name[jobs.NODE]
    assert node["kubernetes_sd_configs"] == [
        {"role": "pod", "namespaces": {"names": [k8s.node_exporter_namespace]}}
    ]
    keep = node["relabel_configs"][0]
    assert keep == {
        "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
        "regex": jobs.NODE_EXPORTER_APP,
        "action": "keep",
    }
    alloy_namespaces = by_name[jobs.ALLOY]["kubernetes_sd_configs"][0]["namespaces"]["names"]
    assert set(alloy_namespaces) == {k8s.kubernetes_namespace, k8s.node_exporter_namespace}
    cadvisor = by_name[jobs.CADVISOR]
    assert cadvisor["kubernetes_sd_configs"] == [{"role": "node"}]
    assert cadvisor["scheme"] == "https"
    assert cadvisor["metrics_path"] == "/metrics/cadvisor"
    assert cadvisor["authorization"]["credentials_file"].endswith("/serviceaccount/token")
    assert "insecure_skip_verify" not in cadvisor["tls_config"]
    assert by_name[jobs.EXPORTER]["static_configs"] == [{"targets": ["exporter:9108"]}]
    assert config["remote_write"] == [{"url": "https://rw/x"}]


def test_prometheus_args(settings: ContentSettings) -> None:
    limited = dataclasses.replace(settings, retention_time="30d", retention_size="50GB")
    assert prometheus.args(limited) == [
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        "--storage.tsdb.retention.time=30d",
        "--storage.tsdb.retention.size=50GB",
        "--enable-feature=expand-external-labels",
    ]
    single = dataclasses.replace(settings, replica_label=None)
    args = prometheus.args(single, web_config_file="/etc/prometheus/web.yml")
    assert "--storage.tsdb.retention.size=0" not in args
    assert "--web.config.file=/etc/prometheus/web.yml" in args
    assert not any("expand-external-labels" in a for a in args)


# --- Settings validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"markets": (MARKETS[0], MARKETS[0])},
            "markets = .* is invalid: allowed unique market codes",
        ),
        (
            {"markets": (Market("vn", "Vietnam", None, "Asia/Ho_Chi_Minh"),)},
            r"markets\[vn\]\.sessions = \[\] is invalid: allowed at least one session",
        ),
        (
            {"markets": (Market("xx", "X", None, "UTC", ("9:00-11:00",)),)},
            r"markets\[xx\]\.sessions = '9:00-11:00' is invalid: allowed \"HH:MM-HH:MM\"",
        ),
        (
            {"markets": (Market("xx", "X", None, "UTC", ("12:00-11:00",)),)},
            "start before end",
        ),
        (
            {"markets": (Market("xx", "X", None, "UTC", ("09:00-12:00", "11:00-13:00")),)},
            "overlaps",
        ),
        (
            {"markets": (Market("xx", "X", None, "Mars/Olympus", ("09:00-12:00",)),)},
            r"markets\[xx\]\.timezone = 'Mars/Olympus' is invalid: allowed an IANA time zone",
        ),
        ({"thresholds": AlertThresholds(memory_usage_ratio=80)}, "thresholds.memory_usage_ratio"),
        (
            {"thresholds": AlertThresholds(api_availability_objective=1.0)},
            "thresholds.api_availability_objective",
        ),
        ({"replica_label": "env"}, "replica_label = 'env' is invalid"),
        (
            {"thresholds": AlertThresholds(disk_for="5 minutes")},
            "thresholds.disk_for = '5 minutes' is invalid",
        ),
        (
            {"scrape_interval": "15"},
            "scrape_interval = '15' is invalid: allowed a Prometheus duration",
        ),
        (
            {"scrape_timeout": "1m"},
            "scrape_timeout = '1m' is invalid: allowed at most scrape_interval",
        ),
    ],
)
def test_bad_settings_get_one_clear_error(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_settings(make_settings(**changes))


# --- Notifications ----------------------------------------------------------------------------


def test_secrets_are_files_and_urls_are_parameters(settings: ContentSettings) -> None:
    config = yaml.safe_load(render_alertmanager_config(settings, WEBHOOK_URL, HEARTBEAT_URL))
    receivers = {r["name"]: r for r in config["receivers"]}
    secrets = settings.receivers.secrets_dir
    for receiver in receivers.values():
        for slack in receiver.get("slack_configs", []):
            assert slack["api_url_file"] == f"{secrets}/slack_api_url" and "api_url" not in slack
        for pd in receiver.get("pagerduty_configs", []):
            assert pd["routing_key_file"] == f"{secrets}/pagerduty_routing_key"
        for email in receiver.get("email_configs", []):
            assert email["auth_password_file"] == f"{secrets}/smtp_password"
    assert receivers["webhook"]["webhook_configs"][0]["url"] == WEBHOOK_URL
    assert receivers[HEARTBEAT]["webhook_configs"] == [
        {"url": HEARTBEAT_URL, "send_resolved": False}
    ]
    heartbeat_route = config["route"]["routes"][0]
    assert heartbeat_route["matchers"] == ['alertname="Watchdog"']
    assert heartbeat_route["repeat_interval"] == "1m"


def test_enabled_webhook_needs_its_url(settings: ContentSettings) -> None:
    with pytest.raises(ValueError, match=r"secret 'heartbeatUrl' goes inline .* value is required"):
        render_alertmanager_config(settings, WEBHOOK_URL, None)


def test_inhibition_and_mute_times(settings: ContentSettings) -> None:
    config = yaml.safe_load(render_alertmanager_config(settings, WEBHOOK_URL, HEARTBEAT_URL))
    assert {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["alertname", "collector", "endpoint", "instance", "market", "mountpoint", "slo"],
    } in config["inhibit_rules"]
    assert any(
        'alertname="TargetDown"' in r["source_matchers"] and r["equal"] == ["market"]
        for r in config["inhibit_rules"]
    )
    names = {t["name"] for t in config["time_intervals"]}
    assert names == {f"market-closed-{m.code}" for m in MARKETS}
    kr = next(t for t in config["time_intervals"] if t["name"] == "market-closed-kr")
    assert all(i["location"] == "Asia/Seoul" for i in kr["time_intervals"])
    # Every route that lets data-quality warnings through mutes them per market while the
    # market is closed: the team (warning) and the default (the root's last children); not
    # the critical on-call route, nor the legacy webhook (muteWhenMarketClosed: false).
    routes = config["route"]["routes"]
    muting = [r for r in routes if any("mute_time_intervals" in c for c in r.get("routes", []))]
    assert [r["receiver"] for r in muting] == ["team"]
    webhook = next(r for r in routes if r.get("receiver") == "webhook")
    assert "routes" not in webhook
    for route in muting:
        assert [c["mute_time_intervals"] for c in route["routes"]] == [
            [f"market-closed-{m.code}"] for m in MARKETS
        ]
        assert all(f'category="{MUTED_WHEN_CLOSED[0]}"' in c["matchers"] for c in route["routes"])
    tail = [r for r in routes if "mute_time_intervals" in r]
    assert [r["matchers"] for r in tail] == [
        ['severity="warning"', 'category="data_quality"', f'market="{m.code}"'] for m in MARKETS
    ]


def _grafana_args(cls: type) -> set[str]:
    return set(inspect.signature(cls).parameters) - {"self", "__self__"}


def test_grafana_model_maps_onto_the_provider(settings: ContentSettings) -> None:
    """Every field name is an argument of the pulumiverse_grafana resource it feeds."""
    alerting = pytest.importorskip("pulumiverse_grafana.alerting")
    model = grafana_notification_model(settings)
    kinds = {
        "slacks": alerting.ContactPointSlackArgs,
        "emails": alerting.ContactPointEmailArgs,
        "pagerduties": alerting.ContactPointPagerdutyArgs,
        "webhooks": alerting.ContactPointWebhookArgs,
    }
    contact_point_args = _grafana_args(alerting.ContactPointArgs)
    assert {cp.name for cp in model.contact_points} == {"team", "oncall", "webhook", "heartbeat"}
    for cp in model.contact_points:
        for integration in cp.integrations:
            assert integration.kind in contact_point_args
            allowed = _grafana_args(kinds[integration.kind])
            assert set(integration.settings) | set(integration.secrets) <= allowed
    policy_args = _grafana_args(alerting.NotificationPolicyPolicyArgs)
    field_to_arg = {"group_by": "group_bies"}
    assert model.policy is not None
    # The root maps onto NotificationPolicy itself, which has no matchers/mute timings/continue.
    root_args = _grafana_args(alerting.NotificationPolicyArgs)
    assert not (model.policy.matchers or model.policy.mute_timings or model.policy.continue_)
    assert {"contact_point", "group_bies", "group_wait", "repeat_interval", "policies"} <= root_args
    for field in dataclasses.fields(GrafanaPolicy):
        if field.name != "policies":
            assert field_to_arg.get(field.name, field.name) in policy_args, field.name
    matcher_args = _grafana_args(alerting.NotificationPolicyPolicyMatcherArgs)
    assert matcher_args == {"label", "match", "value"}
    interval_args = _grafana_args(alerting.MuteTimingIntervalArgs)
    assert {"weekdays", "times", "location"} <= interval_args
    assert _grafana_args(alerting.MuteTimingIntervalTimeArgs) == {"start", "end"}
    # The policy tree mirrors Alertmanager's route by route. The blackhole receiver has no
    # integrations: its policy sends to the team contact point under an always-active mute
    # timing (one empty interval), so what it matches is discarded as in Alertmanager.
    assert model.policy.contact_point == TEAM
    children = [(p.contact_point, p.mute_timings) for p in model.policy.policies]
    assert children[:5] == [
        (HEARTBEAT, ()),
        (TEAM, (DISCARD_TIMING,)),
        ("webhook", ()),
        (ONCALL, ()),
        (TEAM, ()),
    ]
    assert children[5:] == [(None, (f"market-closed-{m.code}",)) for m in MARKETS]
    discard = next(t for t in model.mute_timings if t.name == DISCARD_TIMING)
    assert [(i.weekdays, i.times, i.location) for i in discard.intervals] == [((), (), None)]
    timings = {t.name for t in model.mute_timings}
    used = {n for p in model.policy.policies for n in p.mute_timings} | {
        n for p in model.policy.policies for c in p.policies for n in c.mute_timings
    }
    assert used == timings


def test_grafana_model_without_channels(minimal_settings: ContentSettings) -> None:
    model = grafana_notification_model(minimal_settings)
    assert model.contact_points == ()
    assert model.policy is None  # keep Grafana's default policy
    assert model.message_templates  # still valid to create


def test_model_has_one_route_per_market_and_category(settings: ContentSettings) -> None:
    model = notification_model(settings)
    data_route = next(r for r in model.route.routes if r.routes)
    assert [r.matchers[-1].value for r in data_route.routes] == [m.code for m in MARKETS]
