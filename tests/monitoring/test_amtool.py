"""The rendered alertmanager.yml, checked by the real amtool: config and every route."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from monitoring.notifications import (
    BLACKHOLE,
    HEARTBEAT,
    ONCALL,
    TEAM,
    WEBHOOK,
    GrafanaNotificationModel,
    GrafanaPolicy,
    Matcher,
    NotificationModel,
    Route,
    notification_model,
    route_matches,
    route_receivers,
)
from monitoring.render import grafana_notification_model, render_alertmanager_config
from monitoring.settings import ContentSettings, Receivers
from tests.monitoring.conftest import (
    ALL_RECEIVERS,
    HEARTBEAT_URL,
    WEBHOOK_URL,
    make_settings,
    run,
    tool,
)

Labels = dict[str, str]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    return path


@pytest.fixture()
def full_config(settings: ContentSettings, tmp_path: Path) -> Path:
    return _write(tmp_path, render_alertmanager_config(settings, WEBHOOK_URL, HEARTBEAT_URL))


@pytest.fixture()
def minimal_config(minimal_settings: ContentSettings, tmp_path: Path) -> Path:
    return _write(tmp_path, render_alertmanager_config(minimal_settings, None, None))


def test_amtool_check_config_all_channels(full_config: Path) -> None:
    result = run([tool("amtool"), "check-config", str(full_config)])
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(full_config.read_text())
    kinds = {k for r in config["receivers"] for k in r if k.endswith("_configs")}
    assert kinds == {"slack_configs", "email_configs", "pagerduty_configs", "webhook_configs"}
    assert len(config["time_intervals"]) == 6  # one "market closed" interval per market


def test_amtool_check_config_minimal(minimal_config: Path) -> None:
    result = run([tool("amtool"), "check-config", str(minimal_config)])
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(minimal_config.read_text())
    assert all(set(r) == {"name"} for r in config["receivers"])  # nothing to send to


def test_amtool_rejects_a_broken_config(full_config: Path) -> None:
    """The checks can fail: a route to an undefined receiver is an error."""
    config = yaml.safe_load(full_config.read_text())
    config["route"]["routes"][0]["receiver"] = "nobody"
    full_config.write_text(yaml.safe_dump(config))
    assert run([tool("amtool"), "check-config", str(full_config)]).returncode != 0


# --- Routes ----------------------------------------------------------------------------------


def _sample_value(op: str, value: str) -> str | None:
    if op == "=":
        return value
    if op == "=~":
        return value.split("|")[0]
    return None  # negative matchers need no label


def _matches(route: Route, labels: Labels) -> bool:
    return route_matches(route, labels)


def test_route_matching_follows_alertmanager_regex_semantics() -> None:
    """Regex matchers are anchored regular expressions, not lists of alternatives."""
    regex = Route(TEAM, (Matcher("severity", "=~", "crit.*|warn(ing)?"),))
    assert _matches(regex, {"severity": "critical"})
    assert _matches(regex, {"severity": "warn"})
    assert not _matches(regex, {"severity": "xcritical"})
    negative = Route(TEAM, (Matcher("market", "!~", "k.|us"),))
    assert not _matches(negative, {"market": "kr"})
    assert _matches(negative, {"market": "kr2"})
    assert _matches(negative, {})


def _expected_receivers(route: Route, labels: Labels, inherited: str) -> list[str]:
    return route_receivers(route, labels, inherited)


def _route_cases(route: Route, path_labels: Labels) -> list[Labels]:
    """One alert per route, carrying the labels its matchers (and its parents') require."""
    labels = dict(path_labels)
    for m in route.matchers:
        sample = _sample_value(m.op, m.value)
        if sample is not None:
            labels[m.label] = sample
    cases = [labels]
    for child in route.routes:
        cases += _route_cases(child, labels)
    return cases


def _amtool_route(config: Path, labels: Labels, receivers: list[str]) -> None:
    args = [
        tool("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={config}",
        f"--verify.receivers={','.join(receivers)}",
        *(f"{k}={v}" for k, v in sorted(labels.items())),
    ]
    result = run(args)
    assert result.returncode == 0, f"{labels} -> {receivers}: {result.stdout}{result.stderr}"


# Business rules, written out: (alert labels, receivers in notification order).
EXPLICIT_CASES: list[tuple[Labels, list[str]]] = [
    ({"alertname": "Watchdog", "severity": "none", "category": "meta"}, [HEARTBEAT]),
    ({"alertname": "Other", "severity": "none"}, [BLACKHOLE]),
    ({"alertname": "Other", "severity": "info", "category": "system"}, [BLACKHOLE]),
    ({"alertname": "ExporterDown", "severity": "critical", "category": "meta"}, [WEBHOOK, ONCALL]),
    (
        {"alertname": "StaleMarketData", "severity": "critical", "category": "data_quality"}
        | {"market": "kr"},
        [WEBHOOK, ONCALL],
    ),
    (
        {"alertname": "StaleMarketData", "severity": "warning", "category": "data_quality"}
        | {"market": "kr"},
        [WEBHOOK, TEAM],
    ),
    ({"alertname": "TargetDown", "severity": "warning", "category": "system"}, [WEBHOOK, TEAM]),
    ({"alertname": "Unlabelled"}, [TEAM]),
]


def test_every_route_and_receiver_has_an_amtool_case(
    settings: ContentSettings, full_config: Path
) -> None:
    model = notification_model(settings)
    cases = _route_cases(model.route, {})
    # Root, 5 routes; the team and default routes mute data warnings per market.
    assert len(cases) == 1 + 5 + 2 * len(settings.markets)
    covered: set[str] = set()
    for labels in cases:
        receivers = _expected_receivers(model.route, labels, model.route.receiver or "")
        covered.update(receivers)
        _amtool_route(full_config, labels, receivers)
    for labels, receivers in EXPLICIT_CASES:
        assert _expected_receivers(model.route, labels, TEAM) == receivers
        covered.update(receivers)
        _amtool_route(full_config, labels, receivers)
    assert covered == {r.name for r in model.receivers}


def _grafana_matches(policy: GrafanaPolicy, labels: Labels) -> bool:
    route = Route(None, tuple(Matcher(m.label, m.match, m.value) for m in policy.matchers))  # type: ignore[arg-type]
    return _matches(route, labels)


def _grafana_deliveries(
    policy: GrafanaPolicy, labels: Labels, inherited: str, always_muted: set[str]
) -> list[str]:
    """Grafana's routing, like Alertmanager's; a policy under an always-active mute timing
    delivers nothing. (Market-hours mute timings are ignored: both sides share them.)"""
    contact_point = policy.contact_point or inherited
    found: list[str] = []
    for child in policy.policies:
        if _grafana_matches(child, labels):
            found += _grafana_deliveries(child, labels, contact_point, always_muted)
            if not child.continue_:
                break
    if found or any(_grafana_matches(c, labels) for c in policy.policies):
        return found
    return [] if always_muted & set(policy.mute_timings) else [contact_point]


RECEIVER_SETS = {
    "all": ALL_RECEIVERS,
    "no heartbeat, no webhook": Receivers(slack_channel="#a", email_to="a@example.test"),
    "pagerduty only": Receivers(pagerduty=True),
    "heartbeat only": Receivers(heartbeat=True),
}


@pytest.mark.parametrize("receivers", list(RECEIVER_SETS), ids=list(RECEIVER_SETS))
def test_grafana_policy_delivers_like_alertmanager(receivers: str) -> None:
    """For every route case, Grafana notifies the same receivers as Alertmanager, minus those
    without integrations (Alertmanager discards what they get; Grafana must not re-route it)."""
    settings = make_settings(receivers=RECEIVER_SETS[receivers])
    model = notification_model(settings)
    assert_grafana_delivers_like_alertmanager(
        model, grafana_notification_model(settings), [labels for labels, _ in EXPLICIT_CASES]
    )


def assert_grafana_delivers_like_alertmanager(
    model: NotificationModel, grafana: GrafanaNotificationModel, extra_cases: list[Labels]
) -> None:
    """Every route case (and `extra_cases`) reaches the same receivers with integrations."""
    assert grafana.policy is not None
    enabled = {r.name for r in model.receivers if r.integrations}
    always_muted = {
        t.name
        for t in grafana.mute_timings
        if any(not (i.weekdays or i.times) for i in t.intervals)
    }
    root = model.route.receiver or ""
    for labels in _route_cases(model.route, {}) + extra_cases:
        alertmanager = [r for r in route_receivers(model.route, labels, root) if r in enabled]
        delivered = _grafana_deliveries(grafana.policy, labels, "", always_muted)
        assert delivered == alertmanager, labels


def test_minimal_routes(minimal_settings: ContentSettings, minimal_config: Path) -> None:
    """Without a webhook there is no webhook route; the rest routes the same."""
    model = notification_model(minimal_settings)
    for labels in _route_cases(model.route, {}):
        receivers = _expected_receivers(model.route, labels, TEAM)
        assert WEBHOOK not in receivers
        _amtool_route(minimal_config, labels, receivers)


def test_amtool_route_check_can_fail(full_config: Path) -> None:
    args = [
        tool("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={full_config}",
        f"--verify.receivers={TEAM}",
        "alertname=Watchdog",
        "severity=none",
    ]
    assert run(args).returncode != 0


# --- Message templates ------------------------------------------------------------------------

TEMPLATE_DATA = {
    "receiver": "team",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "StaleMarketData", "severity": "warning", "market": "kr"},
            "annotations": {
                "summary": "Market data of kr is stale",
                "description": "The newest bar is 40m old.",
                "runbook_url": "https://runbooks.example.test/runbooks.md#stalemarketdata",
                "dashboard_url": "https://grafana.example.test/d/tm-market-kr",
            },
            "startsAt": "2026-11-23T01:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus-0:9090/graph",
            "fingerprint": "abc",
        }
    ],
    "groupLabels": {"alertname": "StaleMarketData"},
    "commonLabels": {"alertname": "StaleMarketData", "severity": "warning", "market": "kr"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager-0:9093",
}


def test_message_templates_render_with_alertmanager(
    settings: ContentSettings, tmp_path: Path
) -> None:
    """The shared Go templates (Slack title/text, email subject) render real alert data."""
    template = grafana_notification_model(settings).message_templates[0]
    (tmp_path / "tm.tmpl").write_text(template.template)
    data = tmp_path / "data.json"
    data.write_text(json.dumps(TEMPLATE_DATA))
    rendered = {}
    for part in ("title", "text"):
        result = run(
            [
                tool("amtool"),
                "template",
                "render",
                f"--template.glob={tmp_path / 'tm.tmpl'}",
                f'--template.text={{{{ template "{template.name}.{part}" . }}}}',
                f"--template.data={data}",
            ]
        )
        assert result.returncode == 0, result.stdout + result.stderr
        rendered[part] = result.stdout
    assert rendered["title"].strip() == "[FIRING:1] StaleMarketData (kr)"
    assert "*warning* Market data of kr is stale" in rendered["text"]
    assert "Runbook: https://runbooks.example.test/runbooks.md#stalemarketdata" in rendered["text"]
