"""`notifications` and `alerts` in stack config: validated before any resource, secrets named
by the config, Grafana contact points of every kind, and what `python -m infra drill` reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.settings.stack import load_stack_config
from infra.synth import SECRET, SynthError, write
from monitoring.drill import plan_from_json
from monitoring.notifications import Discord, MSTeams, Telegram
from tests.infra.harness import new_monitor, plain_strings, run_stack, stack_config
from tests.infra.test_synth_artifacts import SCHEMA_CHECK, SCHEMAS
from tests.monitoring.conftest import EXAMPLE_CONFIG

EXAMPLE = yaml.safe_load(EXAMPLE_CONFIG)
SCHEMA_ARGS = ("--schemas", str(SCHEMAS))
# Real-looking values of the example's secrets: none may appear in plain text.
SECRETS = {
    "pagerdutyOncall": "PdOncallR0utingKey0123456789abcd",
    "slackTrading": "https://hooks.slack.com/services/T0/B1/tradingS3cretToken",
    "discordData": "https://discord.com/api/webhooks/123/discordS3cretToken",
    "telegramBot": "123456789:TelegramBotS3cretToken",
    "opsgenieKey": "0psgenie-api-key-s3cret",
    "teamsWebhook": "https://example.webhook.office.com/webhookb2/teamsS3cret",
    "archiveWebhook": "https://archive.example.net/hooks/archiveS3cret",
    "deadmanUrl": "https://hc-ping.com/deadman-s3cret-check",
}


# The example plus the two kinds it lacks, so that every kind reaches the providers.
EVERY_KIND = {
    **EXAMPLE["notifications"],
    "receivers": [
        *EXAMPLE["notifications"]["receivers"],
        {"name": "archive", "webhook": {"urlSecret": "archiveWebhook"}},
        {"name": "deadman", "heartbeat": {"urlSecret": "deadmanUrl"}},
    ],
}


def _overrides(**changes: Any) -> dict[str, Any]:
    """The dev stack with the issue's example instead of the `receivers` shorthand."""
    return {"notifications": EVERY_KIND, "alerts": EXAMPLE["alerts"], **changes}


def _without_receivers(raw: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in raw.items() if k != "receivers"}


def _run(overrides: dict[str, Any], secrets: dict[str, str]) -> Any:
    raw = _without_receivers(stack_config("dev", overrides))
    from infra.synth import run_program

    return run_program("dev", raw, dict(secrets), monitor=new_monitor())


def test_example_deploys_every_kind_without_a_plain_secret(tmp_path: Path) -> None:
    result, monitor, _stack = _run(_overrides(), SECRETS)
    points = {
        r.inputs["name"]: r.inputs for r in result.resources if r.type.endswith("ContactPoint")
    }
    assert set(points) == {
        "oncall",
        "trading-slack",
        "data-discord",
        "ops-telegram",
        "ops-genie",
        "teams",
        "leads",
        "archive",
        "deadman",
    }
    assert points["ops-telegram"]["telegrams"][0]["chatId"] == "-1001234567890"
    for name, kind, argument in (
        ("data-discord", "discords", "url"),
        ("ops-telegram", "telegrams", "token"),
        ("ops-genie", "opsgenies", "apiKey"),
        ("teams", "teams", "url"),
        ("oncall", "pagerduties", "integrationKey"),
    ):
        value = points[name][kind][0][argument]
        assert value == SECRET, (name, argument)  # a Pulumi secret (the plan shows the marker)
    for resource in monitor.recorded:
        strings = set(plain_strings(resource.wire_inputs))
        for secret in SECRETS.values():
            assert not any(secret in s for s in strings), resource.name
    # The review copy holds placeholders only; with v0.28 the Teams URL, the PagerDuty,
    # Slack and OpsGenie keys are files, the rest inline (what 0.25 reads too): without the
    # Teams entry the file passes Debian's amtool 0.25.
    alertmanager_yml = result.files["alertmanager.yml"]
    for secret in SECRETS.values():
        assert secret not in alertmanager_yml
    config = yaml.safe_load(alertmanager_yml)
    teams = next(r for r in config["receivers"] if r["name"] == "teams")
    assert teams["msteams_configs"][0]["webhook_url_file"].endswith("/teams_webhook")
    names = ("pagerduty_oncall", "slack_trading", "opsgenie_key", "teams_webhook")
    assert {f"alertmanager-secrets/{name}" for name in names} <= set(result.files)
    teams.pop("msteams_configs")
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    amtool = subprocess.run(
        ["amtool", "check-config", str(tmp_path / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert amtool.returncode == 0, amtool.stdout + amtool.stderr
    # The disabled alert is gone; the drill plan covers every route and the default.
    assert "RapidDatabaseGrowth" not in "".join(
        text for name, text in result.files.items() if name.startswith("rules/")
    )
    plan = plan_from_json(result.outputs["drillPlan"])
    assert [c.route for c in plan] == [
        "routes[0]:severity=critical",
        "routes[1]:category=data_quality",
        "routes[2]:category=trading",
        "default",
    ]
    # Every resource input passes the providers' schemas.
    write(result, tmp_path / "out")
    check = subprocess.run(
        [
            sys.executable,
            str(SCHEMA_CHECK),
            str(tmp_path / "out" / "plan.json"),
            "--schemas",
            str(SCHEMAS),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_content_settings_carry_the_model() -> None:
    raw = _without_receivers(stack_config("dev", _overrides()))
    raw |= SECRETS
    config, _ = load_stack_config(raw)
    notifications = config.content.notifications
    assert notifications is not None and notifications.alertmanager_version == (0, 28)
    kinds = {type(i) for r in notifications.receivers for i in r.integrations}
    assert {Discord, Telegram, MSTeams} <= kinds
    assert config.content.alerts is not None
    assert "RapidDatabaseGrowth" in config.content.alerts.disabled


CASES: list[tuple[str, dict[str, Any], dict[str, str], bool, str]] = [
    (
        "both forms",
        _overrides(receivers={"emailTo": "a@example.com"}),
        SECRETS,
        True,
        "trading-monitoring:receivers = '(set)' is invalid: allowed unset when notifications"
        " is set",
    ),
    (
        "secret not set",
        _overrides(),
        {k: v for k, v in SECRETS.items() if k != "discordData"},
        False,
        "trading-monitoring:discordData is not set: required by"
        " notifications.receivers.data-discord",
    ),
    (
        "unknown receiver",
        _overrides(notifications={**EVERY_KIND, "default": {"receiver": "nobody"}}),
        SECRETS,
        False,
        "trading-monitoring:notifications.default.receiver = 'nobody' is invalid: allowed a"
        " receiver of notifications.receivers:",
    ),
    (
        "match label",
        _overrides(
            notifications={
                **EVERY_KIND,
                "routes": [{"match": {"instance": "x"}, "receiver": "leads"}],
            }
        ),
        SECRETS,
        False,
        "trading-monitoring:notifications.routes[0].match.instance = 'x' is invalid: allowed"
        " keys severity, category, market, service, team, alertname, component",
    ),
    (
        "a secret nothing names",
        _overrides(),
        {**SECRETS, "unusedKey": "https://unused.example.net/s3cret-value"},
        False,
        "trading-monitoring:unusedKey = '[secret]' is not a known key",
    ),
    (
        "unknown alert",
        _overrides(alerts={"overrides": {"NoSuchAlert": {"for": "5m"}}}),
        SECRETS,
        False,
        "trading-monitoring:alerts.overrides = 'NoSuchAlert' is invalid: allowed an alert of"
        " docs/alerts.md",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "secrets", "keep_receivers", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_notifications_are_one_line_before_any_resource(
    overrides: dict[str, Any], secrets: dict[str, str], keep_receivers: bool, expected: str
) -> None:
    from infra.synth import run_program

    raw = stack_config("dev", overrides)
    if not keep_receivers:
        raw = _without_receivers(raw)
    monitor = new_monitor()
    with pytest.raises(SynthError) as raised:
        run_program("dev", raw, dict(secrets), monitor=monitor)
    message = str(raised.value)
    assert message.startswith(expected), message
    assert "\n" not in message
    assert monitor.recorded == []
    for secret in secrets.values():
        assert secret not in message


def test_a_named_secret_in_plain_text_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from infra import synth

    raw = _without_receivers(stack_config("dev", _overrides()))
    document = {"config": {f"trading-monitoring:{k}": v for k, v in raw.items()}}
    for key, value in SECRETS.items():
        document["config"][f"trading-monitoring:{key}"] = value  # none set with --secret
    (tmp_path / "Pulumi.plain.yaml").write_text(yaml.safe_dump(document))
    args = ["synth", "--stack", "plain", "--out", str(tmp_path / "o")]
    assert synth.main([*args, "--project-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "trading-monitoring:discordData = '[secret]' is stored in plain text" in error
    assert not any(value in error for value in SECRETS.values())


def test_the_legacy_shorthand_still_deploys() -> None:
    """The dev stack file's `receivers` (email to a local mail catcher) as before."""
    result = run_stack("dev").result
    points = {r.inputs["name"] for r in result.resources if r.type.endswith("ContactPoint")}
    assert points == {"team", "oncall"}
    assert json.loads(result.outputs["drillPlan"])[-1]["route"] == "default"


@pytest.mark.parametrize("value", ["", "null"])
def test_a_null_structured_key_is_unset(value: str) -> None:
    """The stack files show `notifications: null`; however the CLI hands it over, it is unset."""
    raw = stack_config("dev")
    raw["notifications"] = value
    config, _ = load_stack_config(raw)
    assert config.notifications is None
    legacy = config.content.notifications  # the `receivers` shorthand, expanded
    assert legacy is not None
    assert [r.name for r in legacy.receivers] == ["team", "oncall", "webhook", "heartbeat"]
