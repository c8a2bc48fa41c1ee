"""Every metric a rule or a dashboard query names really exists.

A name is known if the exporter catalog exposes it (counters with `_total`, histograms with
`_bucket`/`_sum`/`_count`, info with `_info`), a standard exporter we scrape lists it
(`monitoring/standard_metrics.py`), or one of our recording rules records it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import promql_parser
import pytest

from dashboards import build_dashboards, expand_variables, panel_queries
from dashboards.boards.service import service_dashboards
from exporter import catalog
from monitoring.alerts import GATING_COLLECTORS, all_rule_groups
from monitoring.availability import collector_families, exposed_names
from monitoring.notifications import notification_model
from monitoring.rules import AlertRule, RecordingRule
from monitoring.service_rules import BLACKBOX_METRICS, service_rule_groups
from monitoring.services import Service
from monitoring.settings import ContentSettings
from monitoring.standard_metrics import all_standard_metric_names
from tests.monitoring.service_config import SERVICES, THRESHOLDS

_LABEL_VALUES = re.compile(r"^label_values\((.+),\s*\w+\s*\)$")
_PLAIN_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_EXPOSED_SUFFIXES: dict[str, tuple[str, ...]] = {
    "gauge": ("",),
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def exposed_catalog_names() -> set[str]:
    return {spec.name + suffix for spec in catalog.ALL for suffix in _EXPOSED_SUFFIXES[spec.type]}


def recorded_names(settings: ContentSettings) -> set[str]:
    return {
        rule.record
        for group in all_rule_groups(settings)
        for rule in group.rules
        if isinstance(rule, RecordingRule)
    }


def known_names(settings: ContentSettings) -> set[str]:
    return exposed_catalog_names() | all_standard_metric_names() | recorded_names(settings)


def metric_names(expr: str) -> set[str]:
    """Metric names of every selector in a PromQL expression (from the name or `__name__`)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if not isinstance(node, promql_parser.VectorSelector):
            return
        if node.name:
            names.add(node.name)
        for matcher in node.matchers.matchers:
            if matcher.name != "__name__":
                continue
            if matcher.op == promql_parser.MatchOp.Equal:
                names.add(matcher.value)
            elif matcher.op == promql_parser.MatchOp.Re:
                alternatives = matcher.value.split("|")
                if not all(_PLAIN_NAME.match(a) for a in alternatives):
                    raise ValueError(f"cannot check a __name__ pattern: {matcher.value!r}")
                names.update(alternatives)
            else:
                raise ValueError(f"cannot check a negative __name__ matcher in {expr!r}")

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def unknown_metrics(expr: str, known: set[str]) -> set[str]:
    return metric_names(expr) - known


def test_metric_names_walks_every_selector() -> None:
    expr = (
        'sum by (le) (rate(a_bucket{x="1"}[5m])) / on () group_left b'
        ' and {__name__="c"} or max_over_time(d[1h:1m]) + absent(e) - -f'
        ' + {__name__=~"g|h"}'
    )
    assert metric_names(expr) == set("abcdefgh") - {"a"} | {"a_bucket"}


@pytest.mark.parametrize(
    ("expr", "unknown"),
    [
        ("rate(trading_api_requests_total[5m])", set()),
        ("trading_api_requests[5m]", {"trading_api_requests"}),  # counter without _total
        ("trading_api_request_duration_seconds_bucket", set()),
        ("trading_api_request_duration_seconds", {"trading_api_request_duration_seconds"}),
        ("trading_exporter_build_info", set()),
        ('{__name__="trading_orders_total"} / trading_no_such_metric', {"trading_no_such_metric"}),
        ("node_memory_MemAvailable_bytes / node_memory_Mem_bytes", {"node_memory_Mem_bytes"}),
        (
            "market:trading_orders_failed:ratio_rate5m > market:not_recorded:ratio",
            {"market:not_recorded:ratio"},
        ),
    ],
)
def test_checker_finds_unknown_metrics(
    expr: str, unknown: set[str], settings: ContentSettings
) -> None:
    assert unknown_metrics(expr, known_names(settings)) == unknown


def test_checker_refuses_unverifiable_name_patterns() -> None:
    with pytest.raises(ValueError, match="__name__"):
        metric_names('{__name__=~"trading_.*"}')


def test_every_rule_names_known_metrics(settings: ContentSettings) -> None:
    known = known_names(settings)
    checked = 0
    for group in all_rule_groups(settings):
        for rule in group.rules:
            name = rule.name if isinstance(rule, AlertRule) else rule.record
            missing = unknown_metrics(rule.expr, known)
            assert not missing, f"{group.file} {name}: unknown metrics {sorted(missing)}"
            checked += 1
    assert checked > 50


def _variable_values(model: dict[str, Any]) -> dict[str, str]:
    """One plausible value per dashboard variable (the names do not matter for the check)."""
    values: dict[str, str] = {}
    for var in model.get("templating", {}).get("list", []):
        if var.get("type") == "datasource":
            values[var["name"]] = str(var.get("current", {}).get("value", "prometheus"))
        elif var.get("type") in ("query", "custom"):
            values[var["name"]] = "kr"
        else:
            values[var["name"]] = str(var.get("query", "") or "x")
    return values


def test_every_dashboard_query_names_known_metrics(settings: ContentSettings) -> None:
    known = known_names(settings)
    checked = 0
    for dashboard in build_dashboards(settings):
        values = _variable_values(dashboard.model)
        for query in panel_queries(dashboard.model):
            if query.datasource_type != "prometheus":
                continue
            expr = expand_variables(query.expr, values)
            missing = unknown_metrics(expr, known)
            assert not missing, (
                f"dashboard {dashboard.uid} panel {query.panel_title!r}:"
                f" unknown metrics {sorted(missing)} in {expr}"
            )
            checked += 1
        for var in dashboard.model.get("templating", {}).get("list", []):
            # label_values(<selector>, <label>); the one-argument form names a label only.
            match = _LABEL_VALUES.match(str(var.get("query") or ""))
            if var.get("type") == "query" and match:
                missing = unknown_metrics(match.group(1), known)
                assert not missing, f"{dashboard.uid} variable {var['name']}: {sorted(missing)}"
    assert checked > 50


def _dashboard_exprs(settings: ContentSettings) -> list[str]:
    exprs: list[str] = []
    for dashboard in build_dashboards(settings):
        values = _variable_values(dashboard.model)
        exprs += [
            expand_variables(query.expr, values)
            for query in panel_queries(dashboard.model)
            if query.datasource_type == "prometheus"
        ]
    return exprs


def test_every_recording_rule_is_used(settings: ContentSettings) -> None:
    """Each recording rule feeds an alert or a dashboard query, directly or through another
    recording rule that does: nothing is evaluated for nobody."""
    groups = all_rule_groups(settings)
    used: set[str] = set()
    for expr in _dashboard_exprs(settings) + [
        rule.expr for g in groups for rule in g.rules if isinstance(rule, AlertRule)
    ]:
        used |= metric_names(expr)
    records = [rule for g in groups for rule in g.rules if isinstance(rule, RecordingRule)]
    while True:
        grown = used.union(*(metric_names(r.expr) for r in records if r.record in used))
        if grown == used:
            break
        used = grown
    unused = sorted({r.record for r in records} - used)
    assert not unused, f"recording rules no alert or dashboard reads: {unused}"


def test_alerts_read_recording_rules_of_their_own_group(settings: ContentSettings) -> None:
    """A recording rule an alert reads is evaluated earlier in the alert's own group, so the
    alert sees this evaluation's value, not the previous one of another group (one interval
    of latency more)."""
    recorded = recorded_names(settings)
    for group in all_rule_groups(settings):
        earlier: set[str] = set()
        for rule in group.rules:
            if isinstance(rule, RecordingRule):
                earlier.add(rule.record)
                continue
            late = sorted((metric_names(rule.expr) & recorded) - earlier)
            assert not late, f"{group.name} {rule.name} reads {late} from another group or later"


def test_gating_collectors_are_exporter_collectors() -> None:
    from exporter.layout import COLLECTORS, SQL_COLLECTORS

    assert set(GATING_COLLECTORS) <= set(COLLECTORS)
    gated = {spec.name for spec in SQL_COLLECTORS["data_quality"]}
    assert {catalog.OHLCV_ROWS.name, catalog.OHLCV_LAST_UPDATE.name} <= gated


# --- Only what you have: removed families leave nothing behind, and nothing more goes -----


def _selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """(metric name, equality matchers) of every selector of an expression."""
    found: list[tuple[str, dict[str, str]]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            equal = {
                m.name: m.value
                for m in node.matchers.matchers
                if m.op == promql_parser.MatchOp.Equal and m.name != "__name__"
            }
            found.append((node.name, equal))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def _records(groups: Any) -> list[RecordingRule]:
    return [r for g in groups for r in g.rules if isinstance(r, RecordingRule)]


def _unmet(expr: str, gone: set[str], records: list[RecordingRule], recordable: set[str]) -> str:
    """Why `expr` still needs something removed ("" when it does not)."""
    for name, equal in _selectors(expr):
        if name in gone:
            return f"names removed {name}"
        if name in recordable and not any(
            r.record == name and all(dict(r.labels).get(k, v) == v for k, v in equal.items())
            for r in records
        ):
            return f"reads {name}{equal} that is no longer recorded"
    return ""


def _removal_cases() -> list[tuple[str, tuple[str, ...], bool]]:
    every = tuple(spec.name for spec in catalog.ALL)
    cases = [("exporter off", every, False)]
    cases += [(f"collector {c}", collector_families(c), True) for c in COLLECTORS_WITH_FAMILIES]
    cases += [(f"metric {spec.name}", (spec.name,), True) for spec in catalog.ALL]
    return cases


COLLECTORS_WITH_FAMILIES = ("data_quality", "collection", "api", "trading", "market_status", "host")


@pytest.mark.parametrize(("case", "missing", "enabled"), _removal_cases())
def test_removed_families_leave_no_rule_panel_or_inhibition(
    case: str, missing: tuple[str, ...], enabled: bool, settings: ContentSettings
) -> None:
    reduced = dataclasses.replace(
        settings, exporter_enabled=enabled, exporter_missing_families=missing
    )
    gone = set(exposed_names(missing))
    before, after = all_rule_groups(settings), all_rule_groups(reduced)
    kept_records = _records(after)
    recordable = {r.record for r in _records(before)}
    kept = [r for g in after for r in g.rules]
    for rule in kept:
        why = _unmet(rule.expr, gone, kept_records, recordable)
        name = rule.name if isinstance(rule, AlertRule) else rule.record
        assert not why, f"{case}: {name} {why}"
        if not enabled:
            assert 'job="exporter"' not in rule.expr, rule
    # Nothing more went than what depends on the removed families.
    dropped = [r for g in before for r in g.rules if r not in kept]
    for rule in dropped:
        needs = _unmet(rule.expr, gone, kept_records, recordable)
        assert needs or (not enabled and 'job="exporter"' in rule.expr), f"{case}: {rule}"
    names = {r.name for r in kept if isinstance(r, AlertRule)}
    for inhibit in notification_model(reduced).inhibit_rules:
        for matcher in inhibit.source:
            if matcher.label == "alertname":
                assert set(matcher.value.split("|")) & names, (case, inhibit)
    for dashboard in build_dashboards(reduced):
        values = _variable_values(dashboard.model)
        for query in panel_queries(dashboard.model):
            if query.datasource_type != "prometheus":
                continue
            why = _unmet(expand_variables(query.expr, values), gone, kept_records, recordable)
            assert not why, f"{case}: {dashboard.uid} {query.panel_title!r} {why}"


def test_a_disabled_collector_takes_exactly_its_alerts(settings: ContentSettings) -> None:
    reduced = dataclasses.replace(settings, exporter_missing_families=collector_families("trading"))
    before = {
        r.name for g in all_rule_groups(settings) for r in g.rules if isinstance(r, AlertRule)
    }
    after = {r.name for g in all_rule_groups(reduced) for r in g.rules if isinstance(r, AlertRule)}
    assert before - after == {"HighOrderFailureRate", "PositionLimitApproaching"}
    boards = {d.uid: d for d in build_dashboards(reduced)}
    titles = {q.panel_title for q in panel_queries(boards["tm-market-kr"].model)}
    assert "Order failure ratio" not in titles
    assert {"OHLCV rows", "Data age"} <= titles  # the market's other panels stay


# --- The user's services --------------------------------------------------------------------


def declared_names(service: Service) -> set[str]:
    """What a service's config declares: its SLO metrics (histograms with their series) and the
    metrics its own alerts and panels name (the team vouches for those)."""
    names: set[str] = set()
    if service.slo is not None:
        names.add(service.slo.requests.metric)
        if service.slo.errors is not None:
            names.add(service.slo.errors.metric)
        if service.slo.latency is not None:
            names |= {f"{service.slo.latency.metric}_{s}" for s in ("bucket", "count", "sum")}
    for expr in [a.expr for a in service.alerts] + [p.expr for p in service.panels]:
        names |= metric_names(expr)
    return names


def test_every_service_rule_names_declared_or_deployed_metrics(settings: ContentSettings) -> None:
    """Each service's generated rules name only its declared metrics, metrics of components we
    deploy (exporter, Prometheus, blackbox exporter) or recording rules."""
    all_groups = service_rule_groups(settings, SERVICES, THRESHOLDS)
    recorded = recorded_names(settings) | {
        r.record for g in all_groups for r in g.rules if isinstance(r, RecordingRule)
    }
    deployed = exposed_catalog_names() | all_standard_metric_names() | BLACKBOX_METRICS
    checked = 0
    for service in SERVICES:
        known = deployed | recorded | declared_names(service)
        for group in service_rule_groups(settings, (service,), THRESHOLDS):
            for rule in group.rules:
                missing = unknown_metrics(rule.expr, known)
                assert not missing, f"{service.name} {group.name}: unknown {sorted(missing)}"
                checked += 1
    assert checked > 40
    # The checker can fail: another service's metric is not declared by this one.
    assert unknown_metrics("investiq_requests_total", deployed | declared_names(SERVICES[1]))


def test_every_service_dashboard_query_names_declared_or_deployed_metrics(
    settings: ContentSettings,
) -> None:
    groups = service_rule_groups(settings, SERVICES, THRESHOLDS)
    recorded = recorded_names(settings) | {
        r.record for g in groups for r in g.rules if isinstance(r, RecordingRule)
    }
    deployed = exposed_catalog_names() | all_standard_metric_names() | BLACKBOX_METRICS
    checked = 0
    for service, board in zip(
        SERVICES, service_dashboards(settings, SERVICES, THRESHOLDS), strict=True
    ):
        known = deployed | recorded | declared_names(service)
        values = _variable_values(board.model)
        for query in panel_queries(board.model):
            expr = expand_variables(query.expr, values)
            missing = unknown_metrics(expr, known)
            assert not missing, f"{board.uid} {query.panel_title!r}: unknown {sorted(missing)}"
            checked += 1
    assert checked > 20
