"""The PostgreSQL, Redis and NGINX rules and alertmanager.yml, checked by the real promtool and
amtool; every component alert fires and stays quiet in the checked-in promtool cases."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from monitoring.settings import ContentSettings
from monitoring.thirdparty.model import Components, parse_components
from monitoring.thirdparty.render import (
    render_alertmanager_config_with_components,
    render_component_rule_files,
    render_prometheus_config_with_components,
)
from monitoring.thirdparty.rules import component_inhibit_rules, component_rule_groups
from tests.monitoring.conftest import (
    HEARTBEAT_URL,
    RULE_TESTS_DIR,
    WEBHOOK_URL,
    run,
    tool,
)
from tests.monitoring.test_promtool import assert_firing_and_quiet_cases, rule_test_cases

COMPONENT_TESTS_DIR = RULE_TESTS_DIR / "components"

# Seed 003's stack with two databases: the trading database (read by the bundled exporter)
# and its replica, one cache, one proxy.
COMPONENTS = {
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


@pytest.fixture(scope="module")
def components() -> Components:
    return parse_components(COMPONENTS)


@pytest.fixture(scope="module")
def component_rules_dir(
    tmp_path_factory: pytest.TempPathFactory, settings: ContentSettings, components: Components
) -> Path:
    root = tmp_path_factory.mktemp("component-rules")
    (root / "rules").mkdir()
    for name, text in render_component_rule_files(settings, components).items():
        (root / "rules" / name).write_text(text)
    for test_file in sorted(COMPONENT_TESTS_DIR.glob("*.yml")):
        shutil.copy(test_file, root / test_file.name)
    return root


def test_one_rule_file_per_declared_type(settings: ContentSettings) -> None:
    only_redis = parse_components({"redis": COMPONENTS["redis"]})
    assert list(render_component_rule_files(settings, only_redis)) == ["redis.yml"]
    assert render_component_rule_files(settings, parse_components(None)) == {}


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


def test_every_component_alert_has_firing_and_quiet_cases(components: Components) -> None:
    assert_firing_and_quiet_cases(component_rule_groups(components), COMPONENT_TESTS_DIR)
    _, _, used = rule_test_cases(COMPONENT_TESTS_DIR)
    assert used == {"rules/postgres.yml", "rules/redis.yml", "rules/nginx.yml"}


def test_prometheus_config_with_components_passes_promtool(
    settings: ContentSettings, components: Components, tmp_path: Path
) -> None:
    text = render_prometheus_config_with_components(
        settings, components, lambda kind, name: f"{kind}-exporter-{name}:9187"
    )
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
    settings: ContentSettings, components: Components, tmp_path: Path
) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(
        render_alertmanager_config_with_components(settings, components, WEBHOOK_URL, HEARTBEAT_URL)
    )
    result = run([tool("amtool"), "check-config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    inhibit = yaml.safe_load(path.read_text())["inhibit_rules"]
    assert len(inhibit) == len(component_inhibit_rules(components)) + 3  # ours after the base
