"""Per-alert tuning from stack config (`alerts.disabled`, `alerts.overrides`), as data.

Applied to the rule groups (`all_rule_groups`), hence to everything derived from them: the
rule files, the inhibition rules, the alert catalog. `tune_rule_tests` applies the same
tuning to a promtool test file's expectations.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitoring.rules import AlertRule, RuleGroup, Severity


@dataclass(frozen=True)
class AlertOverride:
    for_: str | None = None
    severity: Severity | None = None


@dataclass(frozen=True)
class AlertTuning:
    disabled: frozenset[str] = frozenset()
    overrides: Mapping[str, AlertOverride] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.disabled, tuple(sorted(self.overrides.items()))))


def tune_rule(rule: AlertRule, tuning: AlertTuning) -> AlertRule:
    override = tuning.overrides.get(rule.name)
    if override is None:
        return rule
    return dataclasses.replace(
        rule,
        for_=override.for_ if override.for_ is not None else rule.for_,
        severity=override.severity if override.severity is not None else rule.severity,
    )


def tune_groups(groups: tuple[RuleGroup, ...], tuning: AlertTuning | None) -> tuple[RuleGroup, ...]:
    """The groups without disabled alerts and with overrides applied (recording rules stay;
    a group left without any rule is dropped)."""
    if tuning is None or not (tuning.disabled or tuning.overrides):
        return groups
    tuned: list[RuleGroup] = []
    for group in groups:
        rules = tuple(
            tune_rule(r, tuning) if isinstance(r, AlertRule) else r
            for r in group.rules
            if not (isinstance(r, AlertRule) and r.name in tuning.disabled)
        )
        if rules:
            tuned.append(dataclasses.replace(group, rules=rules))
    return tuple(tuned)


def tune_rule_tests(doc: Mapping[str, Any], tuning: AlertTuning) -> dict[str, Any]:
    """A promtool test file with the tuning's expectations: a disabled alert never fires; an
    overridden severity is the expected one. Cases of an alert whose `for` changed are dropped
    (their timing no longer holds; test the new `for` in a case of its own)."""
    out = copy.deepcopy(dict(doc))
    for test in out.get("tests", []):
        cases = []
        for case in test.get("alert_rule_test", []):
            name = case["alertname"]
            override = tuning.overrides.get(name, AlertOverride())
            if name in tuning.disabled:
                case["exp_alerts"] = []
            elif override.for_ is not None:
                continue
            elif override.severity is not None:
                for alert in case.get("exp_alerts") or []:
                    alert["exp_labels"]["severity"] = override.severity
            cases.append(case)
        if "alert_rule_test" in test:
            test["alert_rule_test"] = cases
    return out
