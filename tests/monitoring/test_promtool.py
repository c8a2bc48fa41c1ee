"""The rendered Prometheus config and rules, checked and unit-tested by the real promtool."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.alerts import all_rule_groups
from monitoring.jobs import SERVICE_ACCOUNT_DIR
from monitoring.render import render_prometheus_config, render_rule_files
from monitoring.rules import AlertRule, RuleGroup
from monitoring.settings import ContentSettings
from monitoring.tuning import AlertOverride, AlertTuning, tune_rule_tests
from tests.monitoring.conftest import RULE_TESTS_DIR, run, tool, with_services

# vector(1) can never be quiet; its tests assert it fires at several times instead.
ALWAYS_FIRING = frozenset({"Watchdog"})


# Debian's promtool/prometheus 2.42 are built without Kubernetes service discovery ("field
# kubernetes_sd_configs not found"). For the Kubernetes rendering we check the discovery blocks
# against Prometheus' documented schema here, then let promtool check everything else (relabel
# rules, TLS, authorization, alerting) with each discovery block swapped for an empty static one.
K8S_SD_KEYS = {
    "role",
    "namespaces",
    "selectors",
    "api_server",
    "kubeconfig_file",
    "attach_metadata",
}
K8S_ROLES = {"node", "pod", "service", "endpoints", "endpointslice", "ingress"}


def _without_kubernetes_sd(config: dict[str, Any]) -> int:
    swapped = 0
    for job in config["scrape_configs"]:
        for sd in job.pop("kubernetes_sd_configs", []):
            assert set(sd) <= K8S_SD_KEYS, (
                f"{job['job_name']}: unknown keys {set(sd) - K8S_SD_KEYS}"
            )
            assert sd["role"] in K8S_ROLES, f"{job['job_name']}: role {sd['role']!r}"
            if "namespaces" in sd:
                assert set(sd["namespaces"]) <= {"names", "own_namespace"}
                assert all(isinstance(n, str) and n for n in sd["namespaces"]["names"])
            job.setdefault("static_configs", []).append({"targets": []})
            swapped += 1
    return swapped


@pytest.mark.parametrize("discovery", ["static", "kubernetes"])
def test_promtool_check_config(
    discovery: str, settings: ContentSettings, rules_dir: Path, tmp_path: Path
) -> None:
    rendered = dataclasses.replace(
        settings,
        discovery=discovery,  # type: ignore[arg-type]
        rule_files_dir=str(rules_dir / "rules"),
        remote_write_url="https://remote.example.test/api/v1/write",
        kubelet_insecure_skip_verify=discovery == "kubernetes",
    )
    # promtool stats the service-account files a pod would have: give it stand-ins.
    service_account = tmp_path / "serviceaccount"
    service_account.mkdir()
    (service_account / "token").write_text("not-a-token")
    (service_account / "ca.crt").write_text("")
    text = render_prometheus_config(rendered).replace(SERVICE_ACCOUNT_DIR, str(service_account))
    config: dict[str, Any] = yaml.safe_load(text)
    swapped = _without_kubernetes_sd(config)
    # node, cadvisor, alloy, kube-state-metrics, kubelet
    assert swapped == (5 if discovery == "kubernetes" else 0)
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = run([tool("promtool"), "check", "config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    rule_files = len(list((rules_dir / "rules").glob("*.yml")))
    assert f"SUCCESS: {rule_files} rule files found" in result.stdout


def test_promtool_rejects_a_broken_config(tmp_path: Path) -> None:
    """The check above can fail: promtool rejects a relabel rule with a bad regex."""
    path = tmp_path / "prometheus.yml"
    bad = {"scrape_configs": [{"job_name": "x", "relabel_configs": [{"regex": "("}]}]}
    path.write_text(yaml.safe_dump(bad))
    assert run([tool("promtool"), "check", "config", str(path)]).returncode != 0


def test_promtool_check_rules(rules_dir: Path) -> None:
    files = sorted(str(p) for p in (rules_dir / "rules").glob("*.yml"))
    assert files
    result = run([tool("promtool"), "check", "rules", *files])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files)


def test_promtool_test_rules(rules_dir: Path) -> None:
    """Every checked-in test file in one promtool run, against the rendered rules."""
    files = sorted(p.name for p in RULE_TESTS_DIR.glob("*.yml"))
    assert files
    result = run([tool("promtool"), "test", "rules", *files], timeout=120, cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files), result.stdout


def rule_test_cases(
    directory: Path = RULE_TESTS_DIR,
) -> tuple[set[tuple[str, str]], set[str], set[str]]:
    """(alert name, severity) pairs seen firing, alert names asserted quiet, rule files used."""
    firing: set[tuple[str, str]] = set()
    quiet: set[str] = set()
    rule_files: set[str] = set()
    for path in sorted(directory.glob("*.yml")):
        doc: dict[str, Any] = yaml.safe_load(path.read_text())
        rule_files.update(doc["rule_files"])
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                if not case.get("exp_alerts"):
                    quiet.add(case["alertname"])
                for alert in case.get("exp_alerts") or []:
                    assert alert.get("exp_labels") and alert.get("exp_annotations"), (
                        f"{path.name}: {case['alertname']} asserts no labels or annotations"
                    )
                    firing.add((case["alertname"], alert["exp_labels"]["severity"]))
    return firing, quiet, rule_files


def test_every_alert_has_firing_and_quiet_cases(settings: ContentSettings) -> None:
    """Each alert fires in a case at each of its severities, and is asserted quiet."""
    assert_firing_and_quiet_cases(all_rule_groups(with_services(settings)), RULE_TESTS_DIR)


def assert_firing_and_quiet_cases(groups: tuple[RuleGroup, ...], directory: Path) -> None:
    firing, quiet, _ = rule_test_cases(directory)
    alerts = {
        (rule.name, rule.severity)
        for group in groups
        for rule in group.rules
        if isinstance(rule, AlertRule)
    }
    names = {name for name, _ in alerts}
    missing_firing = sorted(alerts - firing)
    missing_quiet = sorted(names - quiet - ALWAYS_FIRING)
    assert not missing_firing, f"alerts without a firing promtool case: {missing_firing}"
    assert not missing_quiet, f"alerts without a quiet promtool case: {missing_quiet}"
    unknown = sorted((firing - alerts) | (quiet - names))
    assert not unknown, f"promtool cases for alerts that do not exist: {unknown}"


def test_rule_tests_load_every_rendered_rule_file(rules_dir: Path) -> None:
    _, _, used = rule_test_cases()
    rendered = {f"rules/{p.name}" for p in (rules_dir / "rules").glob("*.yml")}
    assert rendered <= used, f"rule files no promtool test loads: {sorted(rendered - used)}"


# --- Per-alert tuning -------------------------------------------------------------------------

TUNED_TESTS_DIR = RULE_TESTS_DIR / "tuned"
TUNING = AlertTuning(
    disabled=frozenset({"RapidDatabaseGrowth"}),
    overrides={
        "ExporterDown": AlertOverride(for_="5m", severity="warning"),
        "HighMemoryUsage": AlertOverride(for_="10m"),
    },
)


def _tuned_dir(root: Path, settings: ContentSettings, tuning: AlertTuning | None) -> Path:
    (root / "rules").mkdir(parents=True)
    for name, text in render_rule_files(settings, tuning).items():
        (root / "rules" / name).write_text(text)
    return root


@pytest.mark.parametrize("tuned", [True, False], ids=["tuned", "default rules"])
def test_promtool_tuned_alerts(tuned: bool, settings: ContentSettings, tmp_path: Path) -> None:
    """The tuned rules pass the tuned cases; the default rules fail them (each case can fail)."""
    root = _tuned_dir(tmp_path, settings, TUNING if tuned else None)
    shutil.copy(TUNED_TESTS_DIR / "overrides.yml", root / "overrides.yml")
    result = run([tool("promtool"), "test", "rules", "overrides.yml"], timeout=120, cwd=root)
    if tuned:
        assert result.returncode == 0, result.stdout + result.stderr
        return
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for name in ("ExporterDown", "HighMemoryUsage", "RapidDatabaseGrowth"):
        assert f"alertname: {name}" in output, (name, output)


def test_checked_in_cases_follow_the_tuning(settings: ContentSettings, tmp_path: Path) -> None:
    """Every checked-in case, with the tuning applied to its expectations, passes against
    the tuned rules: a disabled alert is asserted silent, an overridden severity expected."""
    tuning = AlertTuning(
        disabled=frozenset({"RapidDatabaseGrowth", "TargetDown"}),
        overrides={"HighAPILatency": AlertOverride(severity="critical")},
    )
    root = _tuned_dir(tmp_path, with_services(settings), tuning)
    rendered = "".join((root / "rules" / n).read_text() for n in os.listdir(root / "rules"))
    assert "alert: RapidDatabaseGrowth" not in rendered and "alert: TargetDown" not in rendered
    names = []
    for path in sorted(RULE_TESTS_DIR.glob("*.yml")):
        doc = tune_rule_tests(yaml.safe_load(path.read_text()), tuning)
        (root / path.name).write_text(yaml.safe_dump(doc, sort_keys=False))
        names.append(path.name)
    result = run([tool("promtool"), "test", "rules", *names], timeout=180, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_remote_write_credentials_as_files_pass_promtool(
    auth: str, settings: ContentSettings, rules_dir: Path, tmp_path: Path
) -> None:
    rendered = dataclasses.replace(
        settings,
        discovery="static",
        rule_files_dir=str(rules_dir / "rules"),
        remote_write_url="https://remote.example.test/api/v1/write",
        remote_write_auth=auth,  # type: ignore[arg-type]
        remote_write_username="tenant-1" if auth == "basic" else None,
    )
    text = render_prometheus_config(rendered)
    (entry,) = yaml.safe_load(text)["remote_write"]
    assert set(entry) == {"url", "basic_auth" if auth == "basic" else "authorization"}
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    result = run([tool("promtool"), "check", "config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
