"""Rule model: alert and recording rules as plain data, rendered to Prometheus rule files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from monitoring.settings import ContentSettings

Severity = Literal["critical", "warning", "info", "none"]
Category = Literal[
    "data_quality", "api", "performance", "system", "trading", "meta", "slo", "service", "probe"
]

# "info": shown on dashboards and in the Alertmanager UI, never notified.
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info", "none")
CATEGORIES: tuple[Category, ...] = (
    "data_quality",
    "api",
    "performance",
    "system",
    "trading",
    "meta",
    "slo",
    "service",  # the user's own services (`services[].alerts`)
    "probe",  # blackbox probes of those services
)


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    severity: Severity
    category: Category
    summary: str  # Go template over $labels / $value, one line
    description: str
    dashboard_uid: str  # may use `{{ $labels.market }}`, e.g. "tm-market-{{ $labels.market }}"
    for_: str = "0s"
    labels: tuple[tuple[str, str], ...] = ()  # extra static labels
    runbook: str | None = None  # a full URL; None: our runbooks.md section of `name`


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RuleGroup:
    name: str
    file: str  # rule file name under settings.rule_files_dir, e.g. "api.yml"
    rules: tuple[AlertRule | RecordingRule, ...]
    interval: str | None = None


def num(value: float) -> str:
    """A threshold as rule expressions and annotations show it: 0.8, 150, 1e+08."""
    return f"{value:.6g}"


def runbook_url(settings: ContentSettings, alertname: str) -> str:
    return f"{settings.runbook_base_url}#{alertname.lower()}"


def dashboard_url(settings: ContentSettings, uid: str) -> str:
    return f"{settings.grafana_url.rstrip('/')}/d/{uid}"


def alert_to_dict(settings: ContentSettings, rule: AlertRule) -> dict[str, Any]:
    labels: dict[str, str] = {"severity": rule.severity, "category": rule.category}
    labels.update(dict(rule.labels))
    out: dict[str, Any] = {"alert": rule.name, "expr": rule.expr}
    if rule.for_ not in ("0s", "0m", "0"):
        out["for"] = rule.for_
    out["labels"] = labels
    out["annotations"] = {
        "summary": rule.summary,
        "description": rule.description,
        "runbook_url": rule.runbook or runbook_url(settings, rule.name),
        "dashboard_url": dashboard_url(settings, rule.dashboard_uid),
    }
    return out


def recording_to_dict(rule: RecordingRule) -> dict[str, Any]:
    out: dict[str, Any] = {"record": rule.record, "expr": rule.expr}
    if rule.labels:
        out["labels"] = dict(rule.labels)
    return out


def group_to_dict(settings: ContentSettings, group: RuleGroup) -> dict[str, Any]:
    rules = [
        alert_to_dict(settings, r) if isinstance(r, AlertRule) else recording_to_dict(r)
        for r in group.rules
    ]
    out: dict[str, Any] = {"name": group.name}
    if group.interval:
        out["interval"] = group.interval
    out["rules"] = rules
    return out


def groups_by_file(
    settings: ContentSettings, groups: tuple[RuleGroup, ...]
) -> Mapping[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    for group in groups:
        files.setdefault(group.file, []).append(group_to_dict(settings, group))
    return files
