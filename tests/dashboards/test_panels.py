"""Every panel: a datasource variable, a unit, thresholds, a query that parses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from dashboards import (
    Dashboard,
    all_selected_values,
    build_dashboards,
    expand_variables,
    iter_panels,
    panel_queries,
)
from dashboards.panels import LOKI_UID, PROMETHEUS_UID, Levels
from monitoring.thresholds import AlertThresholds
from tests.dashboards.conftest import make_settings

# Datasource type -> (variable name, the provisioned datasource uid it defaults to).
DATASOURCE_VARIABLES = {"prometheus": ("datasource", PROMETHEUS_UID), "loki": ("loki", LOKI_UID)}
PANELS_WITHOUT_UNIT = {"logs"}  # raw log lines have no unit
MARKETS_VALUE = "kr|us|cn|hk|jp|vn"


def _variables(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in model["templating"]["list"]}


def _variable_values(model: dict[str, Any]) -> dict[str, str]:
    """What Grafana substitutes with "All" selected (a regex alternation) or a text box empty."""
    values: dict[str, str] = {}
    for name, var in _variables(model).items():
        if var["type"] == "datasource":
            values[name] = var["current"]["value"]
        elif var["type"] == "query":
            values[name] = MARKETS_VALUE if name == "market" else "a|b"
        else:
            values[name] = str(var.get("query", ""))
    return values


def test_every_panel_uses_a_datasource_variable(dashboards: list[Dashboard]) -> None:
    for d in dashboards:
        variables = _variables(d.model)
        for panel in iter_panels(d.model):
            ref = panel["datasource"]
            name, default_uid = DATASOURCE_VARIABLES[ref["type"]]
            assert ref["uid"] == "${" + name + "}", (d.uid, panel["title"])
            var = variables[name]
            assert var["type"] == "datasource" and var["query"] == ref["type"], d.uid
            assert var["current"]["value"] == default_uid, d.uid
            for target in panel["targets"]:
                assert target["datasource"] == ref, (d.uid, panel["title"])


def _datasource_uids(node: object) -> list[str]:
    """Every `datasource.uid` anywhere in a JSON tree."""
    found: list[str] = []
    if isinstance(node, dict):
        ref = node.get("datasource")
        if isinstance(ref, dict) and "uid" in ref:
            found.append(str(ref["uid"]))
        for value in node.values():
            found += _datasource_uids(value)
    elif isinstance(node, list):
        for value in node:
            found += _datasource_uids(value)
    return found


def test_no_concrete_datasource_uid_anywhere(dashboards: list[Dashboard]) -> None:
    """Only variable references; the variables default to the provisioned uids."""
    for d in dashboards:
        uids = _datasource_uids(d.model)
        assert uids, d.uid
        assert {u for u in uids if not u.startswith("${")} == set(), d.uid


def test_no_secrets_in_dashboards(dashboards: list[Dashboard]) -> None:
    text = json.dumps([d.model for d in dashboards]).lower()
    for word in ("password", "token", "apikey", "api_key", "secret", "basicauth"):
        assert word not in text, word


def test_every_panel_has_a_unit_thresholds_and_a_query(dashboards: list[Dashboard]) -> None:
    for d in dashboards:
        for panel in iter_panels(d.model):
            where = (d.uid, panel["title"])
            assert panel["targets"], where
            assert all(t["expr"].strip() and t["refId"] for t in panel["targets"]), where
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids)), where
            if panel["type"] in PANELS_WITHOUT_UNIT:
                continue
            defaults = panel["fieldConfig"]["defaults"]
            assert defaults.get("unit"), where
            steps = defaults["thresholds"]["steps"]
            assert steps[0]["value"] is None, where  # the base step
            values = [s["value"] for s in steps[1:]]
            assert values == sorted(values), where


# Panel expression fragment -> the alert threshold fields its panels must show:
# (warning field, critical field or None, high is bad).
LEVELS_BY_SIGNAL: dict[str, tuple[str, str | None, bool]] = {
    "trading_api_failures_total": ("api_error_ratio_warning", "api_error_ratio_critical", True),
    "trading_api_rate_limit_usage_ratio": ("api_rate_limit_ratio", None, True),
    "trading_api_request_duration_seconds_bucket": ("api_latency_p95_seconds", None, True),
    "trading_collection_attempts_total": ("collection_success_ratio_min", None, False),
    "trading_orders_failed_total": ("order_failure_ratio", None, True),
    "trading_position_limit_usage_ratio": (
        "position_limit_ratio_warning",
        "position_limit_ratio_critical",
        True,
    ),
    "time() - max by (market) (trading_ohlcv_last_update": (
        "stale_data_warning_seconds",
        "stale_data_critical_seconds",
        True,
    ),
    "time() - max(trading_database_last_backup": ("backup_max_age_seconds", None, True),
    "trading_exporter_collector_duration_seconds": ("collector_duration_seconds", None, True),
    "deriv(trading_database_size_bytes": ("database_growth_bytes_per_day", None, True),
    "node_memory_MemAvailable_bytes": ("memory_usage_ratio", None, True),
    "container_spec_memory_limit_bytes": ("container_memory_limit_ratio", None, True),
    "node_filesystem_avail_bytes": ("disk_free_ratio_warning", "disk_free_ratio_critical", False),
    '{status_code=~"5.."}': ("component_error_ratio", None, True),
}

# Every value differs from the defaults, so a panel with a hard-coded level fails.
ODD_THRESHOLDS = AlertThresholds(
    api_error_ratio_warning=0.07,
    api_error_ratio_critical=0.31,
    api_rate_limit_ratio=0.77,
    api_latency_p95_seconds=1.7,
    collection_success_ratio_min=0.73,
    order_failure_ratio=0.13,
    position_limit_ratio_warning=0.83,
    position_limit_ratio_critical=0.97,
    stale_data_warning_seconds=1234,
    stale_data_critical_seconds=5678,
    backup_max_age_seconds=99999,
    collector_duration_seconds=2.5,
    database_growth_bytes_per_day=123e6,
    memory_usage_ratio=0.71,
    container_memory_limit_ratio=0.93,
    disk_free_ratio_warning=0.21,
    disk_free_ratio_critical=0.03,
    component_error_ratio=0.09,
)


def test_panels_show_the_alert_thresholds_from_settings() -> None:
    settings = replace(make_settings(), thresholds=ODD_THRESHOLDS)
    checked: set[str] = set()
    for d in build_dashboards(settings):
        for panel in iter_panels(d.model):
            exprs = " ".join(t["expr"] for t in panel["targets"])
            matching = [s for s in LEVELS_BY_SIGNAL if s in exprs]
            if not matching or (panel["type"] == "table" and "topk" in exprs):
                continue  # the topk table counts failures, it is not a ratio
            if panel["type"] == "heatmap":
                continue  # a distribution: its cells are request rates, not the p95
            assert len(matching) == 1, (d.uid, panel["title"], matching)
            warning, critical, high_is_bad = LEVELS_BY_SIGNAL[matching[0]]
            expected = Levels(
                getattr(ODD_THRESHOLDS, warning),
                getattr(ODD_THRESHOLDS, critical) if critical else None,
                high_is_bad,
            ).steps()
            steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            got = tuple((s["value"], s["color"]) for s in steps)
            assert got == expected, (d.uid, panel["title"])
            checked.add(matching[0])
    assert checked == set(LEVELS_BY_SIGNAL)


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        (Levels(0.8, 0.9), ((None, "green"), (0.8, "orange"), (0.9, "red"))),
        (Levels(0.8), ((None, "green"), (0.8, "orange"))),
        (Levels(0.2, 0.1, high_is_bad=False), ((None, "red"), (0.1, "orange"), (0.2, "green"))),
        (Levels(0.2, high_is_bad=False), ((None, "orange"), (0.2, "green"))),
    ],
)
def test_levels_steps(levels: Levels, expected: tuple[tuple[float | None, str], ...]) -> None:
    assert levels.steps() == expected


def test_levels_in_the_wrong_order_are_refused() -> None:
    with pytest.raises(ValueError, match="warning level must come before critical"):
        Levels(0.9, 0.8)
    with pytest.raises(ValueError, match="warning level must come before critical"):
        Levels(0.1, 0.2, high_is_bad=False)


RATIO_TITLE = re.compile(r"\b(ratio|usage)\b", re.IGNORECASE)


def test_ratios_are_percentunit(dashboards: list[Dashboard]) -> None:
    for d in dashboards:
        for panel in iter_panels(d.model):
            if panel["type"] in PANELS_WITHOUT_UNIT:
                continue
            unit = panel["fieldConfig"]["defaults"]["unit"]
            exprs = " ".join(t["expr"] for t in panel["targets"])
            if RATIO_TITLE.search(panel["title"]):
                assert unit == "percentunit", (d.uid, panel["title"])
            if "_timestamp_seconds" in exprs and "time() -" not in exprs:
                if " - " in exprs:  # a time minus a time is a duration
                    assert unit == "s", (d.uid, panel["title"])
                else:
                    assert unit == "dateTimeFromNow" and "* 1000" in exprs, (d.uid, panel["title"])


def test_market_variable_where_markets_are_shown(dashboards: list[Dashboard]) -> None:
    for d in dashboards:
        variables = _variables(d.model)
        exprs = [q.expr for q in panel_queries(d.model)]
        if any("$market" in e for e in exprs):
            market = variables["market"]
            assert market["query"] == "label_values(trading_market_open, market)"
            assert market["multi"] is True and market["includeAll"] is True
            assert market["datasource"]["uid"] == "${datasource}"


def test_every_variable_used_is_defined(dashboards: list[Dashboard]) -> None:
    for d in dashboards:
        values = _variable_values(d.model)
        for q in panel_queries(d.model):
            expand_variables(q.expr, values)  # raises on an undefined variable
        for var in _variables(d.model).values():
            if var["type"] == "query":
                expand_variables(var["query"], values)


def test_every_prometheus_query_parses(dashboards: list[Dashboard]) -> None:
    count = 0
    for d in dashboards:
        values = _variable_values(d.model)
        for q in panel_queries(d.model):
            if q.datasource_type != "prometheus":
                continue
            expr = expand_variables(q.expr, values)
            assert "$" not in expr, expr
            promql_parser.parse(expr)
            count += 1
    assert count > 50


LOGQL_SELECTOR = re.compile(r'\{\s*\w+\s*(=~|=|!=|!~)\s*"[^"]*"')


def test_loki_queries_have_a_non_empty_stream_selector(dashboards: list[Dashboard]) -> None:
    logs = next(d for d in dashboards if d.uid == "tm-logs")
    values = {**_variable_values(logs.model), "container": ".+", "search": ""}
    queries = [q for q in panel_queries(logs.model) if q.datasource_type == "loki"]
    assert queries
    for q in queries:
        expr = expand_variables(q.expr, values)
        match = LOGQL_SELECTOR.search(expr)
        assert match, expr
        # Loki refuses selectors that match the empty string only (`=~".*"`).
        assert '=~".*"' not in expr, expr
        assert expr.count("(") == expr.count(")"), expr


@pytest.mark.parametrize(
    ("expr", "values", "expected"),
    [
        ('x{market=~"$market"}', {"market": "kr|us"}, 'x{market=~"kr|us"}'),
        ('x{market=~"${market}"}', {"market": "kr"}, 'x{market=~"kr"}'),
        ('x{market=~"${market:regex}"}', {"market": "kr"}, 'x{market=~"kr"}'),
        ("rate(x[$__rate_interval])", {}, "rate(x[1m])"),
        ("rate(x[$__rate_interval])", {"__rate_interval": "5m"}, "rate(x[5m])"),
        ("x[$__range] / $__range_s", {}, "x[1h] / 3600"),
        ('count_over_time({a="b"}[$__interval])', {}, 'count_over_time({a="b"}[15s])'),
        ("$marketing", {"market": "kr", "marketing": "m"}, "m"),
    ],
)
def test_expand_variables(expr: str, values: dict[str, str], expected: str) -> None:
    assert expand_variables(expr, values) == expected


def test_expand_variables_names_a_missing_variable() -> None:
    with pytest.raises(ValueError, match=r"\$endpoint"):
        expand_variables('x{endpoint=~"$endpoint"}', {"market": "kr"})


def test_prometheus_accepts_every_query(dashboards: list[Dashboard], tmp_path: Path) -> None:
    """promtool (Prometheus' own parser, the 2.42 we test against) checks each expanded query
    as a recording rule: catches what promql_parser is lenient about."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: run `make tools`")
    rules = []
    for d in dashboards:
        values = _variable_values(d.model)
        for i, q in enumerate(panel_queries(d.model)):
            if q.datasource_type == "prometheus":
                record = f"dashboard:{d.uid.replace('-', '_')}:q{i}"
                rules.append({"record": record, "expr": expand_variables(q.expr, values)})
    rule_file = tmp_path / "dashboard_queries.yml"
    rule_file.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout


def test_tables_query_now_and_graphs_query_a_range(dashboards: list[Dashboard]) -> None:
    kinds: set[str] = set()
    for d in dashboards:
        for panel in iter_panels(d.model):
            for target in panel["targets"]:
                if panel["datasource"]["type"] != "prometheus":
                    continue
                kinds.add(panel["type"])
                if panel["type"] == "table":
                    assert target["instant"] is True and target["range"] is False
                    assert target["format"] == "table", (d.uid, panel["title"])
                elif panel["type"] == "heatmap":
                    assert target["range"] is True and target["format"] == "heatmap"
                    assert "by (le)" in target["expr"] and target["legendFormat"] == "{{le}}"
                else:
                    assert target["range"] is True and target["instant"] is False
                    assert target.get("format", "time_series") == "time_series"
    assert {"table", "timeseries", "stat", "state-timeline", "heatmap"} <= kinds


GRAPH_PANELS = ("timeseries", "state-timeline", "heatmap")


def test_graphs_do_not_look_back_the_whole_range(dashboards: list[Dashboard]) -> None:
    """`[$__range]` in a graph makes every point cover the whole dashboard range."""
    for d in dashboards:
        for panel in iter_panels(d.model):
            if panel["type"] in GRAPH_PANELS:
                for target in panel["targets"]:
                    assert "[$__range]" not in target["expr"], (d.uid, panel["title"])


def test_all_selected_values(dashboards: list[Dashboard]) -> None:
    by_uid = {d.uid: d for d in dashboards}
    assert all_selected_values(by_uid["tm-logs"].model) == {
        "loki": "loki",
        "datasource": "prometheus",
        "container": ".+",
        "search": "",
    }
    assert all_selected_values(by_uid["tm-api"].model) == {
        "datasource": "prometheus",
        "market": ".+",
        "endpoint": ".+",
    }
    # Enough to expand every query of every dashboard.
    for d in dashboards:
        values = all_selected_values(d.model)
        for q in panel_queries(d.model):
            assert "$" not in expand_variables(q.expr, values), q.expr
