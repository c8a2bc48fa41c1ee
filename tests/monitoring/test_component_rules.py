"""The PostgreSQL, Redis and NGINX rules and alertmanager.yml, checked by the real promtool and
amtool; every component alert fires and stays quiet in the checked-in promtool cases."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.notifications import INHIBITIONS, component_inhibitions
from monitoring.render import (
    render_alertmanager_config,
    render_prometheus_config,
    render_rule_files,
)
from monitoring.settings import ContentSettings
from monitoring.thirdparty.model import Components, parse_components
from monitoring.thirdparty.rules import FILES, component_rule_groups
from tests.monitoring.conftest import (
    HEARTBEAT_URL,
    RULE_TESTS_DIR,
    TARGETS,
    WEBHOOK_URL,
    run,
    tool,
)
from tests.monitoring.test_promtool import assert_firing_and_quiet_cases, rule_test_cases

COMPONENT_TESTS_DIR = RULE_TESTS_DIR / "components"

# Seed 003's stack with two databases: the trading database (read by the bundled exporter)
# and its replica, one cache, one proxy.
COMPONENTS: dict[str, Any] = {
    "postgres": [
        {
            "name": "trading-db",
            "address": "db.internal:5432",
            "database": "trading",
            "user": "exporter",
            "passwordSecret": "tradingDbPassword",
            "replicationLagQueries": True,
            "exporterDatabase": True,
        },
        {
            "name": "replica",
            "address": "replica.internal:5432",
            "database": "trading",
            "user": "exporter",
            "passwordSecret": "tradingDbPassword",
            "replicationLagQueries": True,
        },
    ],
    "redis": [
        {"name": "cache", "address": "redis://cache.internal:6379", "passwordSecret": "cachePw"}
    ],
    "nginx": [{"name": "edge", "statusUrl": "http://nginx.internal:8080/stub_status"}],
}


def with_components(settings: ContentSettings, raw: dict[str, Any]) -> ContentSettings:
    """`settings` with the components of `raw`, each exporter at `<type>-exporter-<name>`."""
    components = parse_components(raw)
    targets = tuple(
        (kind, instance.name, f"{kind}-exporter-{instance.name}:9100")
        for kind in components.kinds
        for instance in components.of(kind)
    )
    return dataclasses.replace(
        settings,
        components=components,
        targets=dataclasses.replace(TARGETS, components=targets),
    )


@pytest.fixture(scope="module")
def component_settings(settings: ContentSettings) -> ContentSettings:
    return with_components(settings, COMPONENTS)


@pytest.fixture(scope="module")
def components(component_settings: ContentSettings) -> Components:
    return component_settings.components


@pytest.fixture(scope="module")
def component_rules_dir(
    tmp_path_factory: pytest.TempPathFactory, component_settings: ContentSettings
) -> Path:
    root = tmp_path_factory.mktemp("component-rules")
    (root / "rules").mkdir()
    rendered = render_rule_files(component_settings)
    for name in FILES.values():
        (root / "rules" / name).write_text(rendered[name])
    for test_file in sorted(COMPONENT_TESTS_DIR.glob("*.yml")):
        shutil.copy(test_file, root / test_file.name)
    return root


def test_one_rule_file_per_declared_type(settings: ContentSettings) -> None:
    only_redis = with_components(settings, {"redis": COMPONENTS["redis"]})
    files = set(FILES.values())
    assert files & set(render_rule_files(only_redis)) == {"redis.yml"}
    assert not files & set(render_rule_files(settings))


def test_promtool_check_rules(component_rules_dir: Path) -> None:
    files = sorted(str(p) for p in (component_rules_dir / "rules").glob("*.yml"))
    assert len(files) == 3
    result = run([tool("promtool"), "check", "rules", *files])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules(component_rules_dir: Path) -> None:
    files = sorted(p.name for p in COMPONENT_TESTS_DIR.glob("*.yml"))
    assert files == ["nginx.yml", "postgres.yml", "redis.yml"]
    result = run([tool("promtool"), "test", "rules", *files], timeout=120, cwd=component_rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files), result.stdout


def test_every_component_alert_has_firing_and_quiet_cases(
    component_settings: ContentSettings, components: Components
) -> None:
    groups = component_rule_groups(components, component_settings.component_thresholds)
    assert_firing_and_quiet_cases(groups, COMPONENT_TESTS_DIR)
    _, _, used = rule_test_cases(COMPONENT_TESTS_DIR)
    assert used == {"rules/postgres.yml", "rules/redis.yml", "rules/nginx.yml"}


def test_prometheus_config_with_components_passes_promtool(
    component_settings: ContentSettings, tmp_path: Path
) -> None:
    # Static discovery: Debian's promtool 2.42 has no Kubernetes SD (test_promtool.py checks it).
    text = render_prometheus_config(dataclasses.replace(component_settings, discovery="static"))
    config = yaml.safe_load(text)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert [sc["labels"] for sc in jobs["postgres"]["static_configs"]] == [
        {"component": "postgres", "name": "trading-db"},
        {"component": "postgres", "name": "replica"},
    ]
    config["rule_files"] = []
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = run([tool("promtool"), "check", "config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_with_components_passes_amtool(
    component_settings: ContentSettings, components: Components, tmp_path: Path
) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager_config(component_settings, WEBHOOK_URL, HEARTBEAT_URL))
    result = run([tool("amtool"), "check-config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    inhibit = yaml.safe_load(path.read_text())["inhibit_rules"]
    base = 1 + len(INHIBITIONS)  # critical-mutes-warning, then our specs
    assert len(inhibit) == len(component_inhibitions(components)) + base  # after the base
