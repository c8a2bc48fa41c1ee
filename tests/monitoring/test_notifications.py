"""The `notifications` / `alerts` stack config: validation, rendering for every receiver kind
(amtool 0.25, and the newer Alertmanager's documented fields), routing and Grafana parity."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.drill import DRILL_ALERTNAME, drill_plan, plan_from_json, plan_to_json
from monitoring.notification_config import (
    alertmanager_version,
    parse_alerts,
    parse_notifications,
    referenced_secret_keys,
    secret_keys_needed,
)
from monitoring.notifications import (
    BLACKHOLE,
    KIND_NAMES,
    Notifications,
    Receiver,
    UserRoute,
    alertmanager_secret_files,
    inline_secret_keys,
    notification_model,
    route_receivers,
)
from monitoring.render import grafana_notification_model, render_alertmanager
from monitoring.settings import ContentSettings
from monitoring.tuning import AlertTuning
from tests.monitoring.conftest import EXAMPLE_CONFIG, EXAMPLE_SECRETS, run, tool
from tests.monitoring.test_amtool import (
    Labels,
    _amtool_route,
    _route_cases,
    assert_grafana_delivers_like_alertmanager,
)
from validation import InvalidValue

V025 = (0, 25)
V028 = (0, 28)
SECRET_KEYS = frozenset(EXAMPLE_SECRETS)


def _example(settings: ContentSettings, version: tuple[int, int]) -> Notifications:
    """The example, rendered for `version`. Validation refuses its Teams receiver below 0.26,
    so it is validated for the pinned 0.28 image; for 0.25 the renderer leaves Teams out."""
    raw = yaml.safe_load(EXAMPLE_CONFIG)
    tuning = parse_alerts(raw["alerts"], settings)
    parsed = parse_notifications(raw["notifications"], settings, SECRET_KEYS, (), V028, tuning)
    return dataclasses.replace(parsed, alertmanager_version=version)


def _tuning(settings: ContentSettings) -> AlertTuning:
    return parse_alerts(yaml.safe_load(EXAMPLE_CONFIG)["alerts"], settings)


def _check_config(tmp_path: Path, text: str) -> dict[str, Any]:
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    result = run([tool("amtool"), "check-config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    config: dict[str, Any] = yaml.safe_load(text)
    return config


# --- The example on Alertmanager 0.25 -------------------------------------------------

# (alert labels, receivers in notification order) for the example.
EXAMPLE_CASES: list[tuple[Labels, list[str]]] = [
    ({"alertname": "Watchdog", "severity": "none"}, [BLACKHOLE]),  # no heartbeat receiver
    ({"alertname": "X", "severity": "info", "category": "trading"}, [BLACKHOLE]),
    ({"alertname": "ExporterDown", "severity": "critical", "category": "meta"}, ["oncall"]),
    (
        {"alertname": "HighOrderFailureRate", "severity": "critical", "category": "trading"},
        ["oncall", "trading-slack"],
    ),
    (
        {"alertname": "StaleMarketData", "severity": "warning", "category": "data_quality"}
        | {"market": "kr"},
        ["data-discord"],
    ),
    (
        {"alertname": "HighOrderFailureRate", "severity": "warning", "category": "trading"},
        ["trading-slack"],
    ),
    ({"alertname": "TargetDown", "severity": "warning", "category": "system"}, ["leads"]),
    ({"alertname": "Unlabelled"}, ["leads"]),
]


def test_example_passes_amtool_and_routes_as_written(
    settings: ContentSettings, tmp_path: Path
) -> None:
    notifications = _example(settings, V025)
    tuning = _tuning(settings)
    text = render_alertmanager(settings, notifications, EXAMPLE_SECRETS, tuning)
    config = _check_config(tmp_path, text)
    kinds = {k for r in config["receivers"] for k in r if k.endswith("_configs")}
    # msteams_configs is 0.26+: not rendered for 0.25 (Grafana still gets the Teams point).
    assert kinds == {
        "pagerduty_configs",
        "slack_configs",
        "discord_configs",
        "telegram_configs",
        "opsgenie_configs",
        "email_configs",
    }
    teams = next(r for r in config["receivers"] if r["name"] == "teams")
    assert teams == {"name": "teams"}
    path = tmp_path / "alertmanager.yml"
    model = notification_model(settings, notifications, tuning)
    root = model.route.receiver or ""
    cases = _route_cases(model.route, {})
    for labels in cases:
        _amtool_route(path, labels, route_receivers(model.route, labels, root))
    for labels, receivers in EXAMPLE_CASES:
        assert route_receivers(model.route, labels, root) == receivers, labels
        _amtool_route(path, labels, receivers)
    # Per-route timings as configured.
    routes = config["route"]["routes"]
    oncall = next(r for r in routes if r.get("receiver") == "oncall")
    assert oncall["continue"] is True and oncall["repeat_interval"] == "1h"
    trading = next(r for r in routes if r.get("receiver") == "trading-slack")
    assert trading["group_wait"] == "0s"
    assert config["route"]["receiver"] == "leads"
    assert config["route"]["repeat_interval"] == "6h"


def test_user_routes_keep_market_closed_mutes(settings: ContentSettings) -> None:
    """A data-quality warning of a market goes through a child route muted while that
    market is closed, on the user's route and on the default alike."""
    model = notification_model(settings, _example(settings, V025), _tuning(settings))
    discord = next(r for r in model.route.routes if r.receiver == "data-discord")
    assert [c.mute_time_intervals for c in discord.routes] == [
        (f"market-closed-{m.code}",) for m in settings.markets
    ]
    assert all(c.receiver is None for c in discord.routes)  # inherits data-discord
    trading = next(r for r in model.route.routes if r.receiver == "trading-slack")
    assert trading.routes == ()  # trading alerts are not data quality: nothing to mute
    oncall = next(r for r in model.route.routes if r.receiver == "oncall")
    assert oncall.routes == ()  # critical only: never muted
    tail = [r for r in model.route.routes if r.mute_time_intervals]
    assert len(tail) == len(settings.markets)


def test_inhibitions_follow_disabled_alerts(settings: ContentSettings) -> None:
    """A disabled alert leaves no inhibition rule naming it."""
    tuning = AlertTuning(disabled=frozenset({"ExporterDown", "TargetDown"}))
    model = notification_model(settings, _example(settings, V025), tuning)
    sources = [m.render() for rule in model.inhibit_rules for m in rule.source]
    assert 'alertname="ExporterDatabaseDown"' in sources
    assert not any("ExporterDown" in s or "TargetDown" in s for s in sources)


# --- Each receiver kind alone -------------------------------------------------------------------

ALONE: dict[str, dict[str, Any]] = {
    "slack": {"urlSecret": "slackTrading", "channel": "#alerts"},
    "email": {"to": ["a@example.com", "b@example.com"]},
    "pagerduty": {"routingKeySecret": "pagerdutyOncall"},
    "webhook": {"urlSecret": "webhookUrl"},
    "heartbeat": {"urlSecret": "heartbeatUrl"},
    "discord": {"urlSecret": "discordData"},
    "telegram": {"tokenSecret": "telegramBot", "chatId": -1001234567890},
    "opsgenie": {"apiKeySecret": "opsgenieKey"},
    "msteams": {"urlSecret": "teamsWebhook"},
}


def _alone(kind: str, settings: ContentSettings, version: tuple[int, int]) -> Notifications:
    raw: dict[str, Any] = {"receivers": [{"name": "only", kind: ALONE[kind]}]}
    if kind != "heartbeat":
        raw["default"] = {"receiver": "only"}
    return parse_notifications(raw, settings, SECRET_KEYS, (), version)


@pytest.mark.parametrize("kind", [k for k in ALONE if k != "msteams"])
def test_each_receiver_kind_alone_passes_amtool(
    kind: str, settings: ContentSettings, tmp_path: Path
) -> None:
    notifications = _alone(kind, settings, V025)
    config = _check_config(tmp_path, render_alertmanager(settings, notifications, EXAMPLE_SECRETS))
    only = next(r for r in config["receivers"] if r["name"] == "only")
    key = "webhook_configs" if kind == "heartbeat" else f"{kind}_configs"
    assert set(only) == {"name", key}
    labels = {"alertname": "Watchdog"} if kind == "heartbeat" else {"alertname": "Any"}
    _amtool_route(tmp_path / "alertmanager.yml", labels, ["only"])
    if kind == "telegram":
        assert only[key][0]["chat_id"] == -1001234567890  # an integer, as 0.25 requires


def test_msteams_needs_alertmanager_0_26(settings: ContentSettings) -> None:
    with pytest.raises(InvalidValue, match=r"msteams = .* allowed Alertmanager >= 0\.26"):
        _alone("msteams", settings, V025)


# MSTeamsConfig fields of Alertmanager's config/notifiers.go (prometheus/alertmanager, commit
# 00077d70eac957777820a180631ef04e5cbee024, read through the code search): NotifierConfig
# (send_resolved), http_config, webhook_url, webhook_url_file, title, summary, text; one of
# webhook_url / webhook_url_file, not both. The *_file fields of the other kinds by version
# are in ../shared/NOTES.md (0.26: webhook url_file, telegram bot_token_file; 0.27: discord and
# msteams webhook_url_file); those of receivers 0.25 knows are rendered as 0.25 reads them.
NEWER_FIELDS: dict[str, set[str]] = {
    "msteams_configs": {
        "send_resolved",
        "http_config",
        "webhook_url",
        "webhook_url_file",
        "title",
        "summary",
        "text",
    },
}


def test_the_pinned_alertmanager_rendering_also_loads_in_0_25(
    settings: ContentSettings, tmp_path: Path
) -> None:
    """For the pinned image (0.28): the receivers 0.25 knows use only fields 0.25 reads
    (webhook, discord and telegram secrets inline, the file a secret as a whole), so the file
    without its Teams entries passes amtool 0.25; the Teams entry reads its URL from a file and
    uses only MSTeamsConfig's documented fields."""
    notifications = _example(settings, V028)
    model = notification_model(settings, notifications, _tuning(settings))
    assert inline_secret_keys(model) == ("discordData", "telegramBot")
    files = alertmanager_secret_files(model)
    assert files == {
        "pagerdutyOncall": "pagerduty_oncall",
        "slackTrading": "slack_trading",
        "opsgenieKey": "opsgenie_key",
        "teamsWebhook": "teams_webhook",
    }
    assert set(files) | set(inline_secret_keys(model)) == set(secret_keys_needed(notifications))
    text = render_alertmanager(settings, notifications, EXAMPLE_SECRETS, _tuning(settings))
    for key, value in EXAMPLE_SECRETS.items():
        assert (value in text) == (key in inline_secret_keys(model)), key
    config = yaml.safe_load(text)
    teams = next(r for r in config["receivers"] if r["name"] == "teams")["msteams_configs"]
    assert len(teams) == 1
    assert set(teams[0]) <= NEWER_FIELDS["msteams_configs"]
    assert teams[0]["webhook_url_file"].endswith("/teams_webhook")
    for receiver in config["receivers"]:
        receiver.pop("msteams_configs", None)
    _check_config(tmp_path, yaml.safe_dump(config))
    # The check can fail: 0.25 does not know the Teams entry.
    (tmp_path / "teams.yml").write_text(text)
    assert run([tool("amtool"), "check-config", str(tmp_path / "teams.yml")]).returncode != 0


def test_every_kind_has_a_renderer_and_a_grafana_integration(settings: ContentSettings) -> None:
    """Each kind alone renders for 0.28 and maps onto a Grafana ContactPoint argument."""
    alerting = pytest.importorskip("pulumiverse_grafana.alerting")
    args = {
        "slacks": alerting.ContactPointSlackArgs,
        "emails": alerting.ContactPointEmailArgs,
        "pagerduties": alerting.ContactPointPagerdutyArgs,
        "webhooks": alerting.ContactPointWebhookArgs,
        "discords": alerting.ContactPointDiscordArgs,
        "telegrams": alerting.ContactPointTelegramArgs,
        "opsgenies": alerting.ContactPointOpsgenyArgs,
        "teams": alerting.ContactPointTeamArgs,
    }
    seen: set[str] = set()
    for kind in ALONE:
        notifications = _alone(kind, settings, V028)
        render_alertmanager(settings, notifications, EXAMPLE_SECRETS)
        grafana = grafana_notification_model(settings, notifications)
        (point,) = grafana.contact_points
        for integration in point.integrations:
            allowed = set(inspect.signature(args[integration.kind]).parameters)
            assert set(integration.settings) | set(integration.secrets) <= allowed, kind
            seen.add(integration.kind)
    assert seen == set(args)
    assert set(KIND_NAMES.values()) == set(ALONE)


# --- Grafana delivers like Alertmanager for the example ------------------------------------------


@pytest.mark.parametrize("version", [V025, V028], ids=["0.25", "0.28"])
def test_grafana_policy_delivers_like_alertmanager_for_the_example(
    settings: ContentSettings, version: tuple[int, int]
) -> None:
    notifications = _example(settings, version)
    tuning = _tuning(settings)
    model = notification_model(settings, notifications, tuning)
    grafana = grafana_notification_model(settings, notifications, tuning)
    assert_grafana_delivers_like_alertmanager(
        model, grafana, [labels for labels, _ in EXAMPLE_CASES]
    )


# --- Validation: one line naming key, value and what is allowed ----------------------------------

BAD: list[tuple[dict[str, Any], str]] = [
    (
        {"receivers": [{"name": "a", "slack": {"urlSecret": "unsetKey"}}]},
        r"^notifications\.receivers\[0\]\.slack\.urlSecret = 'unsetKey' is invalid: allowed a"
        r" secret that is set: `pulumi config set --secret unsetKey <value>`$",
    ),
    (
        {
            "receivers": [{"name": "a", "email": {"to": ["a@example.com"]}}],
            "routes": [{"match": {"severity": "critical"}, "receiver": "nobody"}],
        },
        r"^notifications\.routes\[0\]\.receiver = 'nobody' is invalid: allowed a receiver of"
        r" notifications\.receivers: a \(or blackhole\)$",
    ),
    (
        {
            "receivers": [{"name": "a", "email": {"to": ["a@example.com"]}}],
            "routes": [{"match": {"instance": "x"}, "receiver": "a"}],
        },
        r"^notifications\.routes\[0\]\.match\.instance = 'x' is invalid: allowed keys severity,"
        r" category, market, service, team, alertname, component$",
    ),
    (
        {
            "receivers": [{"name": "a", "email": {"to": ["a@example.com"]}}],
            "routes": [{"match": {"severity": "page"}, "receiver": "a"}],
        },
        r"^notifications\.routes\[0\]\.match\.severity = 'page' is invalid: allowed one of"
        r" critical, warning, info, none \(or a list of them\)$",
    ),
    (
        {"receivers": [{"name": "t", "telegram": {"tokenSecret": "telegramBot", "chatId": "@x"}}]},
        r"^notifications\.receivers\[0\]\.telegram\.chatId = '@x' is invalid: allowed a"
        r" non-zero integer chat id$",
    ),
    (
        {"receivers": [{"name": "a", "email": {"to": ["a@example.com"]}}], "default": {"x": 1}},
        r"^notifications\.default\.x = 1 is invalid: allowed keys receiver, groupWait,"
        r" groupInterval, repeatInterval$",
    ),
    (
        {
            "receivers": [{"name": "a", "email": {"to": ["a@example.com"]}}],
            "default": {"receiver": "a", "groupWait": "soon"},
        },
        r"^notifications\.default\.groupWait = 'soon' is invalid: allowed a Prometheus duration",
    ),
]


@pytest.mark.parametrize("raw, message", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_notifications_get_one_line(
    raw: dict[str, Any], message: str, settings: ContentSettings
) -> None:
    with pytest.raises(InvalidValue) as error:
        parse_notifications(raw, settings, SECRET_KEYS)
    assert "\n" not in str(error.value)
    assert re.match(message, str(error.value)), str(error.value)


def test_a_secret_in_plain_text_is_refused(settings: ContentSettings) -> None:
    raw = {"receivers": [{"name": "a", "discord": {"urlSecret": "discordData"}}]}
    with pytest.raises(InvalidValue, match=r"allowed a key set as a secret"):
        parse_notifications(raw, settings, (), plain_keys={"discordData"})


BAD_ALERTS: list[tuple[dict[str, Any], str]] = [
    (
        {"disabled": ["NoSuchAlert"]},
        r"^alerts\.disabled = 'NoSuchAlert' is invalid: allowed an alert of docs/alerts\.md",
    ),
    (
        {"overrides": {"NoSuchAlert": {"for": "5m"}}},
        r"^alerts\.overrides = 'NoSuchAlert' is invalid: allowed an alert of docs/alerts\.md",
    ),
    (
        {"overrides": {"ExporterDown": {"for": "soon"}}},
        r"^alerts\.overrides\.ExporterDown\.for = 'soon' is invalid: allowed a Prometheus duration",
    ),
    (
        {"overrides": {"ExporterDown": {"severity": "page"}}},
        r"^alerts\.overrides\.ExporterDown\.severity = 'page' is invalid: allowed one of"
        r" critical, warning, info$",
    ),
    (
        {"overrides": {"StaleMarketData": {"severity": "critical"}}},
        r"^alerts\.overrides\.StaleMarketData\.severity = 'critical' is invalid: allowed only"
        r" for alerts of one severity",
    ),
    ({"disabled": ["Watchdog"]}, r"^alerts\.disabled = 'Watchdog' is invalid"),
]


@pytest.mark.parametrize("raw, message", BAD_ALERTS, ids=[str(i) for i in range(len(BAD_ALERTS))])
def test_bad_alert_tuning_gets_one_line(
    raw: dict[str, Any], message: str, settings: ContentSettings
) -> None:
    with pytest.raises(InvalidValue) as error:
        parse_alerts(raw, settings)
    assert re.match(message, str(error.value)), str(error.value)


def test_alertmanager_version_of_the_image() -> None:
    assert alertmanager_version("prom/alertmanager:v0.28.1") == (0, 28)
    assert alertmanager_version("quay.io/prometheus/alertmanager:v0.25.0") == (0, 25)


def test_routes_name_existing_receivers_in_the_model() -> None:
    """The model itself keeps the receivers it was given, plus the built-in blackhole."""
    n = Notifications(
        receivers=(Receiver("a"),),
        routes=(UserRoute((("severity", ("critical",)),), "a"),),
        default_receiver="a",
    )
    assert n.routes[0].receiver in {r.name for r in n.receivers}


def test_drill_plan_covers_every_route_of_the_example(settings: ContentSettings) -> None:
    example = dataclasses.replace(
        settings, notifications=_example(settings, V028), alerts=_tuning(settings)
    )
    plan = drill_plan(example)
    reached = [
        (c.route, [(r.name, [i.kind for i in r.integrations]) for r in c.receivers]) for c in plan
    ]
    assert reached == [
        ("routes[0]:severity=critical", [("oncall", ["pagerduty"])]),
        ("routes[1]:category=data_quality", [("data-discord", ["discord"])]),
        ("routes[2]:category=trading", [("trading-slack", ["slack"])]),
        ("default", [("leads", ["email"])]),
    ]
    assert plan_from_json(plan_to_json(plan)) == plan
    assert all(c.labels["alertname"] == DRILL_ALERTNAME for c in plan)


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_plans() -> list[dict[str, Any]]:
    """The `notifications` examples of the README's Notifications section (seed plans)."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    plans = []
    for block in blocks:
        if "trading-monitoring:notifications:" in block:
            doc = yaml.safe_load(block)
            plans.append(doc["trading-monitoring:notifications"])
    return plans


def test_readme_plans_validate_and_pass_amtool(settings: ContentSettings, tmp_path: Path) -> None:
    """Each seed plan of the README is stack config alone: it validates, passes amtool and
    routes every route case as the model says."""
    plans = _readme_plans()
    assert len(plans) == 3  # the interface, severity+category channels, a Discord-only team
    for i, raw in enumerate(plans):
        keys = referenced_secret_keys(raw)
        parsed = parse_notifications(raw, settings, keys, (), V028)
        notifications = dataclasses.replace(parsed, alertmanager_version=V025)
        secrets = {key: f"https://secret.example.test/{key}" for key in keys}
        directory = tmp_path / str(i)
        directory.mkdir()
        _check_config(directory, render_alertmanager(settings, notifications, secrets))
        model = notification_model(settings, notifications)
        root = model.route.receiver or ""
        for labels in _route_cases(model.route, {}):
            receivers = route_receivers(model.route, labels, root)
            _amtool_route(directory / "alertmanager.yml", labels, receivers)
