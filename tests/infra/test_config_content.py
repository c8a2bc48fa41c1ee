"""Content keys of the stack config reach the rendered files."""

from __future__ import annotations

from pathlib import Path

import yaml

from infra.content import grafana_smtp_env
from infra.settings.stack import content_settings, load_stack_config
from monitoring.render import (
    render_alertmanager_config,
    render_prometheus_config,
    render_rule_files,
)
from tests.infra.harness import REAL_SECRETS, stack_config


def _rules(overrides: dict[str, object]) -> dict[str, dict[str, object]]:
    config, _ = load_stack_config({**stack_config("dev", overrides), **REAL_SECRETS})
    rules: dict[str, dict[str, object]] = {}
    for text in render_rule_files(content_settings(config)).values():
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rules[f"{rule['alert']}/{rule['labels']['severity']}"] = rule
    return rules


def test_threshold_overrides_change_the_alert_rules() -> None:
    default = _rules({})["HighOrderFailureRate/warning"]
    changed = _rules({"thresholds": {"orderFailureRatio": 0.25, "orderFailureFor": "7m"}})[
        "HighOrderFailureRate/warning"
    ]
    assert "0.25" not in str(default["expr"])
    assert "0.25" in str(changed["expr"])
    assert changed["for"] == "7m"


def test_external_labels_and_kubelet_tls_reach_prometheus_yml() -> None:
    overrides = {"externalLabels": {"desk": "asia"}}
    config, _ = load_stack_config({**stack_config("dev", overrides), **REAL_SECRETS})
    prometheus = yaml.safe_load(render_prometheus_config(content_settings(config)))
    assert prometheus["global"]["external_labels"]["desk"] == "asia"

    for skip in (False, True):
        prod_overrides = {"kubernetes": {**_prod_kubernetes(), "kubeletInsecureSkipVerify": skip}}
        config, _ = load_stack_config({**stack_config("prod", prod_overrides), **REAL_SECRETS})
        prometheus = yaml.safe_load(render_prometheus_config(content_settings(config)))
        (cadvisor,) = [job for job in prometheus["scrape_configs"] if job["job_name"] == "cadvisor"]
        assert cadvisor["tls_config"].get("insecure_skip_verify", False) is skip


def _prod_kubernetes() -> dict[str, object]:
    document = yaml.safe_load(Path("Pulumi.prod.yaml").read_text())["config"]
    kubernetes: dict[str, object] = document["trading-monitoring:kubernetes"]
    return kubernetes


def test_smtp_require_tls_reaches_alertmanager_and_grafana() -> None:
    for require_tls, policy in ((False, "OpportunisticStartTLS"), (True, "MandatoryStartTLS")):
        overrides = {
            "receivers": {"emailTo": "desk@example.com", "smtpRequireTls": require_tls},
        }
        config, _ = load_stack_config({**stack_config("dev", overrides), **REAL_SECRETS})
        rendered = yaml.safe_load(render_alertmanager_config(content_settings(config), None, None))
        emails = [
            email
            for receiver in rendered["receivers"]
            for email in receiver.get("email_configs", [])
        ]
        assert emails
        assert all(email["require_tls"] is require_tls for email in emails)
        assert grafana_smtp_env(config)["GF_SMTP_STARTTLS_POLICY"] == policy
