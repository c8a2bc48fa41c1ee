"""Markets (any calendar, custom schedules, 24/7) and the `exporter` section, under mocks."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components import exporter as exporter_component
from exporter import catalog
from exporter.config import ConfigError, parse_config
from infra.synth import SynthError
from monitoring.alerts import alert_names, all_rule_groups
from monitoring.availability import exposed_names, refers_to
from tests.infra.harness import REAL_SECRETS, StackRun, new_monitor, run_stack

CONTAINER = "docker:index/container:Container"
DASHBOARD = "grafana:oss/dashboard:Dashboard"
VIETNAM: dict[str, Any] = {
    "code": "hose-vn",
    "name": "Vietnam (HOSE)",
    "timezone": "Asia/Ho_Chi_Minh",
    "sessions": ["09:00-11:30", "13:00-14:45"],
    "weekdays": ["mon", "tue", "wed", "thu", "fri"],
    "holidays": ["2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20"],
    "earlyCloses": [{"date": "2026-12-31", "close": "11:30"}],
}
CRYPTO: dict[str, Any] = {
    "code": "hyperliquid",
    "name": "Hyperliquid (24/7)",
    "calendar": "24/7",
    "timezone": "UTC",
}
SEED_MARKETS: list[dict[str, Any]] = [
    {"code": "kr", "name": "Korea", "calendar": "XKRX", "timezone": "Asia/Seoul"},
    {"code": "us", "name": "US", "calendar": "XNYS", "timezone": "America/New_York"},
    {"code": "cn", "name": "China", "calendar": "XSHG", "timezone": "Asia/Shanghai"},
    {"code": "hk", "name": "Hong Kong", "calendar": "XHKG", "timezone": "Asia/Hong_Kong"},
    {"code": "jp", "name": "Japan", "calendar": "XTKS", "timezone": "Asia/Tokyo"},
    VIETNAM,
    CRYPTO,
]


@pytest.fixture(scope="module")
def seed_run() -> StackRun:
    """Every seed's markets, declared in stack config alone."""
    return run_stack("dev", overrides={"markets": SEED_MARKETS})


def _upload(run: StackRun, container: str, path: str) -> str:
    inputs = run.named(CONTAINER, container).inputs
    return next(str(u["content"]) for u in inputs.get("uploads", []) if u["file"] == path)


def test_seed_markets_flow_into_exporter_mute_times_and_dashboards(seed_run: StackRun) -> None:
    exporter_yml = yaml.safe_load(_upload(seed_run, "exporter", exporter_component.CONFIG_PATH))
    markets = {m["code"]: m for m in exporter_yml["markets"]}
    assert markets["hose-vn"]["holidays"] == VIETNAM["holidays"]
    assert markets["hose-vn"]["early_closes"] == [{"date": "2026-12-31", "close": "11:30"}]
    assert markets["hose-vn"]["weekdays"] == ["mon", "tue", "wed", "thu", "fri"]
    assert markets["hyperliquid"] == {"code": "hyperliquid", "timezone": "UTC", "calendar": "24/7"}
    parse_config(exporter_yml)  # the exporter itself accepts it
    settings = seed_run.stack.content.settings
    assert [m.code for m in settings.markets][-2:] == ["hose-vn", "hyperliquid"]
    uids = {r.inputs.get("configJson", "") for r in seed_run.of_type(DASHBOARD)}
    for uid in ("tm-market-hose-vn", "tm-market-hyperliquid"):
        assert any(f'"uid": "{uid}"' in text for text in uids), uid


def test_holidays_reach_grafana_mute_timings(seed_run: StackRun) -> None:
    timings = {
        r.inputs["name"]: r.inputs["intervals"]
        for r in seed_run.of_type("grafana:alerting/muteTiming:MuteTiming")
    }
    assert "market-closed-hyperliquid" not in timings  # always open: nothing to mute
    vietnam = timings["market-closed-hose-vn"]
    tet = [i for i in vietnam if i.get("months") == ["2"]]
    assert tet and tet[0]["daysOfMonths"] == ["16", "17", "18", "19", "20"]
    assert tet[0]["years"] == ["2026"] and tet[0]["location"] == "Asia/Ho_Chi_Minh"
    # A dated interval never comes without its dates (it would mute every day).
    for name, intervals in timings.items():
        for interval in intervals if name.startswith("market-closed-") else ():
            assert interval.get("weekdays") or interval.get("years"), interval


def test_exporter_section_reaches_exporter_yml() -> None:
    section = {
        "metrics": {
            "trading_ohlcv_rows": {
                "sql": "SELECT venue AS market, COUNT(*) AS value FROM bars GROUP BY venue"
            },
            "trading_orders": {"enabled": False},
        },
        "collectors": {"api": {"enabled": False}},
        "refresh_interval": 30,
    }
    run = run_stack("dev", overrides={"exporter": {"enabled": True, **section}})
    rendered = yaml.safe_load(_upload(run, "exporter", exporter_component.CONFIG_PATH))
    assert rendered["metrics"] == section["metrics"]
    assert rendered["collectors"] == section["collectors"]
    assert rendered["refresh_interval"] == 30 and "enabled" not in rendered
    # Only what you have: no alert on the disabled API collector or the orders family.
    names = set(alert_names(run.stack.content.settings))
    assert "HighAPIErrorRate" not in names and "HighOrderFailureRate" not in names
    assert "StaleMarketData" in names


def test_exporter_disabled_removes_the_exporter_everywhere() -> None:
    run = run_stack(
        "dev",
        overrides={"exporter": {"enabled": False}, "docker": {"exporterDemoDatabase": False}},
    )
    containers = {r.name for r in run.of_type(CONTAINER)}
    assert "exporter" not in containers and "prometheus" in containers
    assert not run.of_type("docker:index/image:Image")
    content = run.stack.content
    assert "job_name: exporter" not in content.prometheus_yml
    names = set(alert_names(content.settings))
    assert not {"ExporterDown", "StaleMarketData", "ExporterCollectorFailing"} & names
    assert "Watchdog" in names and "TargetDown" in names
    every_family = exposed_names(spec.name for spec in catalog.ALL)
    for group in all_rule_groups(content.settings):
        for rule in group.rules:
            assert not refers_to(rule.expr, every_family, exporter_job=True), rule
    # A disabled exporter needs no database secret (exporterDemoDatabase: false above).


def test_exporter_disabled_on_kubernetes_needs_no_registry_or_exporter() -> None:
    secrets = {k: v for k, v in REAL_SECRETS.items() if k != "registryPassword"}
    run = run_stack("prod", overrides={"exporter": {"enabled": False}}, secrets=secrets)
    names = {r.name for r in run.resources}
    assert not any("exporter" in n and "node-exporter" not in n for n in names), sorted(names)


def test_host_sqlite_file_is_mounted_read_only() -> None:
    run = run_stack("dev", overrides={"docker": {"exporterDatabasePath": "/srv/trading.db"}})
    inputs = run.named(CONTAINER, "exporter").inputs
    assert inputs["volumes"] == [
        {
            "hostPath": "/srv/trading.db",
            "containerPath": exporter_component.HOST_DATABASE_PATH,
            "readOnly": True,
        }
    ]
    assert f"--db={exporter_component.HOST_DATABASE_PATH}" in inputs["command"]
    assert "demo-db" not in " ".join(inputs["command"])
    # The demo database stays the default.
    default = run_stack("dev").named(CONTAINER, "exporter").inputs
    assert "demo-db" in " ".join(default["command"])
    # Only the demo database's volume, shared with the demo service.
    assert default["volumes"] == [{"volumeName": "tm-demo-data", "containerPath": "/demo"}]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"exporter": {"metrics": {"trading_made_up": {}}}}, "exporter.metrics.trading_made_up"),
        ({"exporter": {"enabled": "no"}}, "exporter.enabled = 'no'"),
        ({"exporter": {"markets": []}}, "exporter.markets"),
        ({"docker": {"exporterDatabasePath": "trading.db"}}, "exporterDatabasePath"),
        ({"markets": [{**CRYPTO, "calendar": "XXXX"}]}, "24/7"),
        ({"markets": [{**CRYPTO, "code": "a" * 25}]}, "1 to 24 of a-z"),
        ({"markets": [{**VIETNAM, "weekdays": ["mon", "funday"]}]}, "'funday'"),
        ({"markets": [{**VIETNAM, "holidays": ["17.02.2026"]}]}, "'17.02.2026'"),
        ({"markets": [{**CRYPTO, "holidays": ["2026-02-17"]}]}, "only with `sessions`"),
    ],
)
def test_bad_market_or_exporter_config_is_one_clear_error(
    overrides: dict[str, Any], expected: str
) -> None:
    monitor = new_monitor()
    with pytest.raises(SynthError) as raised:
        run_stack("dev", overrides=overrides, monitor=monitor)
    assert expected in str(raised.value)
    assert monitor.recorded == []


@pytest.mark.parametrize(
    ("stack_change", "exporter_change", "value"),
    [
        ({"timezone": "Mars/Olympus"}, {"timezone": "Mars/Olympus"}, "Mars/Olympus"),
        ({"sessions": ["11:30-09:00"]}, {"sessions": ["11:30-09:00"]}, "11:30-09:00"),
        ({"weekdays": ["funday"]}, {"weekdays": ["funday"]}, "funday"),
        ({"holidays": ["2026-02-30"]}, {"holidays": ["2026-02-30"]}, "2026-02-30"),
        (
            {"earlyCloses": [{"date": "2026-12-31", "close": "24:30"}]},
            {"early_closes": [{"date": "2026-12-31", "close": "24:30"}]},
            "24:30",
        ),
    ],
)
def test_stack_and_exporter_refuse_a_bad_market_time_alike(
    stack_change: dict[str, Any], exporter_change: dict[str, Any], value: str
) -> None:
    """One market vocabulary: `markets[]` and the exporter's own config name the same allowed
    values (both through `validation/`), each under its own key."""
    with pytest.raises(SynthError) as stack_error:
        run_stack("dev", overrides={"markets": [{**VIETNAM, **stack_change}]})
    stack_line = str(stack_error.value).splitlines()[0]
    exporter_market = {"code": "vn", "timezone": "UTC", "sessions": ["09:00-11:30"]}
    with pytest.raises(ConfigError) as exporter_error:
        parse_config({"markets": [{**exporter_market, **exporter_change}]})
    assert f"{value!r} is invalid: allowed " in stack_line
    assert stack_line.split(" is invalid: allowed ")[1] == exporter_error.value.allowed
