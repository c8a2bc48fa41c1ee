"""Only what you have: drop the rules, inhibitions and panels built on metrics nobody exposes.

The stack knows which exporter metric families exist (the `exporter` section: the exporter on
or off, collectors and metrics disabled). Everything that names a missing family goes, and so
does everything built on what went (a recording rule's consumers, an inhibition whose source
alerts are gone), so nothing pages for a table the team does not have.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import Any

from exporter import catalog
from exporter.catalog import MetricSpec
from exporter.layout import SQL_COLLECTORS
from monitoring.rules import AlertRule, RecordingRule, RuleGroup

_SUFFIXES: dict[str, tuple[str, ...]] = {
    "gauge": ("",),
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "info": ("_info",),
}
# Families of the exporter's non-SQL collectors (the SQL ones are in exporter/layout.py).
OTHER_COLLECTOR_FAMILIES: dict[str, tuple[MetricSpec, ...]] = {
    "market_status": (catalog.MARKET_OPEN,),
    "host": (
        catalog.HOST_MEMORY_AVAILABLE,
        catalog.HOST_MEMORY_TOTAL,
        catalog.HOST_DISK_FREE,
        catalog.HOST_CPU_USAGE,
    ),
}
# Expressions about the exporter target itself (`up{job="exporter"}`...).
EXPORTER_JOB = re.compile(r'job\s*=~?\s*"exporter"')


def collector_families(collector: str) -> tuple[str, ...]:
    specs = {**SQL_COLLECTORS, **OTHER_COLLECTOR_FAMILIES}[collector]
    return tuple(spec.name for spec in specs)


def exposed_names(families: Iterable[str]) -> frozenset[str]:
    """Series names of metric families as Prometheus stores them (`_total`, `_bucket`...)."""
    wanted = set(families)
    return frozenset(
        spec.name + suffix
        for spec in catalog.ALL
        if spec.name in wanted
        for suffix in _SUFFIXES[spec.type]
    )


def _names_pattern(names: Collection[str]) -> re.Pattern[str] | None:
    if not names:
        return None
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_:])(?:{alternatives})(?![A-Za-z0-9_:])")


def refers_to(expr: str, names: Collection[str], exporter_job: bool = False) -> bool:
    """Whether a PromQL expression names one of `names` (or the exporter job)."""
    pattern = _names_pattern(names)
    if pattern is not None and pattern.search(expr):
        return True
    return exporter_job and EXPORTER_JOB.search(expr) is not None


def prune_rule_groups(
    groups: Iterable[RuleGroup], missing: Collection[str], exporter_job: bool = False
) -> tuple[tuple[RuleGroup, ...], frozenset[str]]:
    """Groups without the rules that name a missing series, repeated until nothing else
    depends on a dropped recording rule (empty groups go too), and every series now missing:
    `missing` plus the dropped recordings (panels must not read them either)."""
    gone = set(missing)
    kept = list(groups)
    while True:
        dropped: list[RecordingRule] = []
        result = []
        for group in kept:
            rules = []
            for rule in group.rules:
                if refers_to(rule.expr, gone, exporter_job):
                    if isinstance(rule, RecordingRule):
                        dropped.append(rule)
                    continue
                rules.append(rule)
            if rules:
                result.append(replace(group, rules=tuple(rules)))
        kept = result
        recorded = {r.record for g in kept for r in g.rules if isinstance(r, RecordingRule)}
        # A name still recorded with other labels (one SLO of two) is gone only as the
        # selector of the dropped labels, e.g. `slo:sli_error:ratio_rate5m{slo="api-availability"`.
        new = {
            rule.record
            if rule.record not in recorded or not rule.labels
            else rule.record + "{" + ",".join(f'{k}="{v}"' for k, v in rule.labels)
            for rule in dropped
        }
        if not new - gone:
            return tuple(kept), frozenset(gone)
        gone |= new


def alert_names(groups: Iterable[RuleGroup]) -> frozenset[str]:
    return frozenset(r.name for g in groups for r in g.rules if isinstance(r, AlertRule))


def prune_panels(
    model: dict[str, Any], missing: Collection[str], exporter_job: bool = False
) -> dict[str, Any]:
    """A dashboard JSON model without the panels whose queries name a missing series, and
    without rows left empty. Grafana floats the remaining panels up."""

    def keep(panel: dict[str, Any]) -> bool:
        exprs = [str(t.get("expr", "")) for t in panel.get("targets", [])]
        return not any(refers_to(expr, missing, exporter_job) for expr in exprs)

    panels: list[dict[str, Any]] = []
    for panel in model.get("panels", []):
        if panel.get("type") == "row":
            nested = [p for p in panel.get("panels", []) if keep(p)]
            panels.append({**panel, "panels": nested} if "panels" in panel else panel)
        elif keep(panel):
            panels.append(panel)
    # A row is empty when the next entry is another row (or nothing) and it holds no panels.
    result = [
        panel
        for i, panel in enumerate(panels)
        if panel.get("type") != "row"
        or panel.get("panels")
        or (i + 1 < len(panels) and panels[i + 1].get("type") != "row")
    ]
    return {**model, "panels": result}
