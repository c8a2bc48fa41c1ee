"""Bad config: one message naming the key, the value and what is allowed; nothing registered."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import synth
from infra.synth import SynthError
from tests.infra.harness import REAL_SECRETS, new_monitor, run_stack, stack_config

DEV_MARKETS: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "Pulumi.dev.yaml").read_text()
)["config"]["trading-monitoring:markets"]


def _markets_with(index: int, **changes: Any) -> list[dict[str, Any]]:
    markets = copy.deepcopy(DEV_MARKETS)
    markets[index].update(changes)
    return markets


# (overrides, secrets, substrings the message must contain: key, value, allowed)
CASES: list[tuple[str, dict[str, Any], dict[str, str], tuple[str, ...]]] = [
    ("target", {"target": "swarm"}, {}, ("target", "'swarm'", "'docker' or 'kubernetes'")),
    (
        "unknown threshold",
        {"thresholds": {"orderFailureRate": 0.2}},
        {},
        ("thresholds.orderFailureRate", "0.2", "orderFailureRatio"),
    ),
    (
        "threshold type",
        {"thresholds": {"orderFailureFor": 5}},
        {},
        ("thresholds.orderFailureFor", "5", "a duration"),
    ),
    (
        "threshold range",
        {"thresholds": {"orderFailureRatio": 1.5}},
        {},
        ("thresholds.orderFailureRatio", "1.5", "ratio in (0, 1]"),
    ),
    (
        "SLO period interval",
        {"thresholds": {"sloPeriodInterval": "20s"}},
        {},
        ("thresholds.sloPeriodInterval", "'20s'", "two scrape intervals (15s)"),
    ),
    (
        "external label",
        {"externalLabels": {"env": "x"}},
        {},
        ("externalLabels.env", "'x'", "other than env, replica, market"),
    ),
    ("duration", {"scrapeInterval": "15x"}, {}, ("scrapeInterval", "'15x'", "Prometheus duration")),
    (
        "timeout above interval",
        {"scrapeTimeout": "30s"},
        {},
        ("scrapeTimeout", "'30s'", "<= scrapeInterval (15s)"),
    ),
    ("size", {"retentionSize": "20 GB"}, {}, ("retentionSize", "'20 GB'", '"20GB"')),
    ("log retention", {"logRetentionTime": "7d"}, {}, ("logRetentionTime", "'7d'", "whole hours")),
    (
        "latest image",
        {"images": {"grafana": "grafana/grafana:latest"}},
        {},
        ("images.grafana", "'grafana/grafana:latest'", "pinned image"),
    ),
    (
        "untagged image",
        {"images": {"loki": "grafana/loki"}},
        {},
        ("images.loki", "'grafana/loki'", "pinned image"),
    ),
    (
        "admin user",
        {"grafanaAdminUser": "admin"},
        {},
        ("grafanaAdminUser", "'admin'", "not 'admin'"),
    ),
    (
        "timezone",
        {"markets": _markets_with(0, timezone="Mars/Olympus")},
        {},
        ("markets.0.timezone", "'Mars/Olympus'", "IANA time zone"),
    ),
    (
        "calendar",
        {"markets": _markets_with(1, calendar="XXXX")},
        {},
        ("markets.1.calendar", "'XXXX'", "XKRX"),
    ),
    (
        "session",
        {"markets": _markets_with(5, sessions=["14:45-13:00"])},
        {},
        ("markets.5.sessions", "'14:45-13:00'", "start before end"),
    ),
    (
        "duplicate market",
        {"markets": [*DEV_MARKETS, DEV_MARKETS[0]]},
        {},
        ("markets", "'kr'", "unique market codes"),
    ),
    (
        "host port",
        {"docker": {"ports": {"grafana": 80}}},
        {},
        ("docker.ports.grafana", "80", "1024 to 65535"),
    ),
    (
        "port clash",
        {"docker": {"ports": {"grafana": 9090}}},
        {},
        ("docker.ports.prometheus", "9090", "not already used by ports.grafana"),
    ),
    (
        "docker resources",
        {
            "docker": {
                "resources": {
                    "grafana": {
                        "cpuRequest": "1",
                        "memoryRequest": "1Gi",
                        "cpuLimit": "500m",
                        "memoryLimit": "2Gi",
                    }
                }
            }
        },
        {},
        ("docker.resources.grafana.cpuLimit", "'500m'", ">= cpuRequest (1)"),
    ),
    (
        "host root propagation",
        {"docker": {"hostRootPropagation": "shared"}},
        {},
        ("docker.hostRootPropagation", "'shared'", "'rslave'", "'none'"),
    ),
    (
        "unknown key",
        {"scrapeIntervall": "15s"},
        {},
        ("scrapeIntervall", "'15s'", "allowed keys are"),
    ),
    (
        "unknown nested key",
        {"receivers": {"slackChanel": "#x"}},
        {},
        ("receivers.slackChanel", "'#x'", "not a known key"),
    ),
    (
        "slack channel",
        {"receivers": {"slackChannel": "trading alerts"}},
        {"slackApiUrl": REAL_SECRETS["slackApiUrl"]},
        ("receivers.slackChannel", "'trading alerts'", "#trading-alerts"),
    ),
    (
        "missing secret",
        {"receivers": {"pagerduty": True}},
        {},
        ("pagerdutyRoutingKey", "receivers.pagerduty", "pulumi config set --secret"),
    ),
    (
        "bad secret",
        {"receivers": {"webhook": True}},
        {"webhookUrl": "http://insecure.example.com/hook"},
        ("webhookUrl", "'[secret]'", "https:// URL"),
    ),
    (
        "secret URL port",
        {"receivers": {"webhook": True}},
        {"webhookUrl": "https://alerts.example.net:0/hooks/8f3c2a9e-webhook-token"},
        ("webhookUrl", "'[secret]'", "port 1-65535"),
    ),
    (
        "demo database off without a URL",
        {"docker": {"exporterDemoDatabase": False}},
        {},
        ("exporterDatabaseDsn", "docker.exporterDemoDatabase = false", "--secret"),
    ),
    (
        "service objective",
        {
            "services": [
                {
                    "name": "api",
                    "metrics": {"targets": ["api:3000"]},
                    "slo": {
                        "requests": {"metric": "api_requests_total"},
                        "errors": {"metric": "api_errors_total"},
                        "objectives": {"availability": 100},
                    },
                }
            ]
        },
        {},
        ("services[0].slo.objectives.availability", "100", "strictly between 0 and 100"),
    ),
    (
        "service market",
        {"services": [{"name": "api", "market": "de", "probes": [{"name": "h", "tcp": "a:1"}]}]},
        {},
        ("services[0].market", "'de'", "a configured market"),
    ),
    (
        "service alert expression",
        {
            "services": [
                {
                    "name": "api",
                    "metrics": {"targets": ["api:3000"]},
                    "alerts": [
                        {"name": "Down", "expr": "up ==", "severity": "critical", "summary": "down"}
                    ],
                }
            ]
        },
        {},
        ("services[0].alerts[0].expr", "'up =='", "a PromQL expression that parses"),
    ),
    (
        "missing rule file",
        {"rules": {"files": ["rules/nope.yml"]}},
        {},
        ("rules.files[0]", "'rules/nope.yml'", "a readable file"),
    ),
    (
        "broken dashboard file",
        {"dashboards": {"files": ["tests/monitoring/custom/team_rules.yml"]}},
        {},
        ("dashboards.files[0]", "team_rules.yml'", "a Grafana dashboard JSON file (JSON:"),
    ),
    (
        "runbook URL with credentials",
        {"runbookBaseUrl": "https://wiki:Rb-S3cret@runbooks.example.com/runbooks.md"},
        {},
        ("runbookBaseUrl", "'https://wiki:***@runbooks.example.com/runbooks.md'", "user:password@"),
    ),
    (
        "kubernetes without its settings",
        {"target": "kubernetes"},
        {},
        ("kubernetes", "None", "an object when target is kubernetes"),
    ),
]


@pytest.mark.parametrize(
    ("overrides", "secrets", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_config_is_one_clear_error_before_any_resource(
    overrides: dict[str, Any], secrets: dict[str, str], expected: tuple[str, ...]
) -> None:
    monitor = new_monitor()
    with pytest.raises(SynthError) as raised:
        run_stack("dev", overrides=overrides, secrets=secrets, monitor=monitor)
    message = str(raised.value)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert message.startswith("trading-monitoring:")
    assert monitor.recorded == [], "resources were registered before the config error"
    for secret in secrets.values():
        assert secret not in message


def test_the_good_config_registers_resources() -> None:
    """The same path with a valid config does register: the empty check above can fail."""
    monitor = new_monitor()
    run_stack("dev", monitor=monitor)
    assert len(monitor.recorded) > 40


def test_synth_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert synth.main(["synth", "--stack", "nope", "--out", str(tmp_path / "a")]) == 2
    assert "'nope' is unknown: allowed dev, prod" in capsys.readouterr().err

    bad = stack_config("dev", {"grafanaAdminUser": "admin"})
    document = {"config": {f"trading-monitoring:{k}": v for k, v in bad.items()}}
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(document))
    args = ["synth", "--stack", "bad", "--out", str(tmp_path / "b"), "--project-dir", str(tmp_path)]
    assert synth.main(args) == 2
    assert "grafanaAdminUser = 'admin' is invalid" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_the_pulumi_program_stops_with_a_clean_error_before_any_resource() -> None:
    """`pulumi up` path (infra.stack.run): RunError (no traceback), nothing registered."""
    import pulumi

    from infra.stack import run

    monitor = new_monitor()
    pulumi.runtime.set_mocks(
        monitor.mocks, project="trading-monitoring", stack="dev", monitor=monitor
    )
    bad = stack_config("dev", {"retentionTime": "forever"})
    pulumi.runtime.set_all_config({f"trading-monitoring:{k}": v for k, v in bad.items()}, [])
    with pytest.raises(pulumi.RunError) as raised:
        run()
    assert "trading-monitoring:retentionTime = 'forever' is invalid" in str(raised.value)
    assert monitor.recorded == []


def test_a_secret_stored_in_plain_text_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pulumi config set webhookUrl ...` without --secret leaves it readable in the repo."""
    config = stack_config("dev", {"receivers": {"webhook": True}})
    document = {"config": {f"trading-monitoring:{k}": v for k, v in config.items()}}
    document["config"]["trading-monitoring:webhookUrl"] = REAL_SECRETS["webhookUrl"]
    (tmp_path / "Pulumi.plain.yaml").write_text(yaml.safe_dump(document))
    args = [
        "synth",
        "--stack",
        "plain",
        "--out",
        str(tmp_path / "o"),
        "--project-dir",
        str(tmp_path),
    ]
    assert synth.main(args) == 2
    error = capsys.readouterr().err
    assert "trading-monitoring:webhookUrl = '[secret]' is stored in plain text" in error
    assert "pulumi config set --secret webhookUrl" in error
    assert REAL_SECRETS["webhookUrl"] not in error


def test_synth_never_replaces_a_directory_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    assert synth.main(["synth", "--stack", "dev", "--out", str(tmp_path)]) == 2
    assert "allowed a new or empty directory" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_the_pulumi_program_refuses_a_namespace_that_looks_like_ours() -> None:
    """`pulumi up` hands the program every key of the stack file, a misspelt namespace too
    (the program would otherwise read the default silently)."""
    import pulumi

    from infra.stack import run

    monitor = new_monitor()
    pulumi.runtime.set_mocks(
        monitor.mocks, project="trading-monitoring", stack="dev", monitor=monitor
    )
    config = {f"trading-monitoring:{k}": v for k, v in stack_config("dev").items()}
    config["trading-monitorng:retentionTime"] = "90d"
    config["docker:host"] = "unix:///var/run/docker.sock"  # a provider's key: not ours
    pulumi.runtime.set_all_config(config, [])
    with pytest.raises(pulumi.RunError) as raised:
        run()
    header, line = str(raised.value).strip().splitlines()
    assert header == "invalid stack config:"
    assert line.startswith("trading-monitorng:retentionTime = '90d' is invalid: allowed ")
    assert "trading-monitoring:retentionTime" in line
    assert monitor.recorded == []
