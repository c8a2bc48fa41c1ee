"""The alert catalogue as Markdown (docs/alerts.md is this output; a test keeps them equal).

Regenerate: `.venv/bin/python -m monitoring.catalogue > docs/alerts.md`
"""

from __future__ import annotations

from monitoring.alerts import all_rule_groups
from monitoring.rules import AlertRule, RecordingRule
from monitoring.settings import ContentSettings, Market, Targets

HEADER = """# Alert catalogue

Generated from `monitoring/alerts.py` and `monitoring/slo.py` with the default thresholds
(`monitoring/thresholds.py`); regenerate with `.venv/bin/python -m monitoring.catalogue >
docs/alerts.md`. Every alert carries the labels `severity` and `category` (and `market`,
`job`, ... where its series have them) and the annotations `summary`, `description`,
`runbook_url` (`docs/runbooks.md#<alertname>`) and `dashboard_url`. Each one is unit-tested
firing and quiet with `promtool test rules` (`tests/monitoring/rules/`).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def catalogue_markdown(settings: ContentSettings) -> str:
    lines = [HEADER, "## Alerts", ""]
    lines.append("| Alert | Severity | Category | For | Expression | Dashboard |")
    lines.append("|---|---|---|---|---|---|")
    records: list[RecordingRule] = []
    for group in all_rule_groups(settings):
        for rule in group.rules:
            if isinstance(rule, AlertRule):
                lines.append(
                    f"| [{rule.name}](runbooks.md#{rule.name.lower()}) | {rule.severity}"
                    f" | {rule.category} | {rule.for_} | `{_cell(rule.expr)}`"
                    f" | `{_cell(rule.dashboard_uid)}` |"
                )
            else:
                records.append(rule)
    lines += ["", "## Recording rules", "", "| Record | Expression |", "|---|---|"]
    for record in records:
        labels = ",".join(f'{k}="{v}"' for k, v in record.labels)
        name = f"{record.record}{{{labels}}}" if labels else record.record
        lines.append(f"| `{_cell(name)}` | `{_cell(record.expr)}` |")
    return "\n".join(lines) + "\n"


def default_settings() -> ContentSettings:
    """Rule content does not depend on markets or targets: any valid settings do."""
    one = ("localhost:9",)
    return ContentSettings(
        markets=(Market("kr", "Korea (KRX)", "XKRX", "Asia/Seoul"),),
        targets=Targets(one, one, one, one, one, one, one, one),
    )


if __name__ == "__main__":
    print(catalogue_markdown(default_settings()), end="")
