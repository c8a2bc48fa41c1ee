"""The alert catalog as Markdown (docs/alerts.md is this output; a test keeps them equal).

Regenerate: `.venv/bin/python -m monitoring.alert_catalog > docs/alerts.md`
"""

from __future__ import annotations

from monitoring.alerts import all_rule_groups
from monitoring.notifications import Email, PagerDuty, Route, Slack, Webhook, notification_model
from monitoring.rules import AlertRule, RecordingRule
from monitoring.settings import ContentSettings, Market, Receivers, Targets

HEADER = """# Alert catalog

Generated from `monitoring/alerts.py` and `monitoring/slo.py` with the default thresholds
(`monitoring/thresholds.py`); regenerate with `.venv/bin/python -m monitoring.alert_catalog >
docs/alerts.md`. Every alert carries the labels `severity` and `category` (and `market`,
`job`, ... where its series have them) and the annotations `summary`, `description`,
`runbook_url` (`docs/runbooks.md#<alertname>`) and `dashboard_url`. Each one is unit-tested
firing and quiet with `promtool test rules` (`tests/monitoring/rules/`).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def alert_catalog_markdown(settings: ContentSettings) -> str:
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
    return "\n".join(lines + _notification_lines(settings)) + "\n"


def _integration(integration: Slack | Email | PagerDuty | Webhook) -> str:
    if isinstance(integration, Slack):
        return f"Slack `{integration.channel}` (URL from file `slack_api_url`)"
    if isinstance(integration, Email):
        return f"email `{integration.to}` (SMTP password from file `smtp_password`)"
    if isinstance(integration, PagerDuty):
        return "PagerDuty (routing key from file `pagerduty_routing_key`)"
    return f"webhook (`{integration.secret}` argument of the renderer)"


def _route_rows(route: Route, depth: int, rows: list[str]) -> None:
    matchers = ", ".join(f"`{m.render()}`" for m in route.matchers) or "(everything else)"
    details = []
    if route.continue_:
        details.append("continue")
    if route.mute_time_intervals:
        details.append("muted: " + ", ".join(route.mute_time_intervals))
    for key in ("group_wait", "group_interval", "repeat_interval"):
        value = getattr(route, key)
        if value is not None:
            details.append(f"{key} {value}")
    receiver = route.receiver or "(parent's)"
    rows.append(f"| {'→ ' * depth}{_cell(matchers)} | {receiver} | {'; '.join(details)} |")
    for child in route.routes:
        _route_rows(child, depth + 1, rows)


def _notification_lines(settings: ContentSettings) -> list[str]:
    model = notification_model(settings)
    lines = [
        "",
        "## Notifications",
        "",
        "Every channel enabled (`Receivers` in `monitoring/settings.py`); a disabled channel",
        "leaves its receiver without integrations (Alertmanager drops what it gets). Routes",
        "match top to bottom; the first match wins unless it says `continue`.",
        "",
        "| Receiver | Integrations |",
        "|---|---|",
    ]
    for receiver in model.receivers:
        integrations = "; ".join(_integration(i) for i in receiver.integrations) or "none"
        lines.append(f"| {receiver.name} | {integrations} |")
    lines += ["", "| Route matchers | Receiver | Options |", "|---|---|---|"]
    _route_rows(model.route, 0, lines)
    lines += ["", "| Inhibition: source | mutes target | when equal |", "|---|---|---|"]
    for rule in model.inhibit_rules:
        source = ", ".join(f"`{m.render()}`" for m in rule.source)
        target = ", ".join(f"`{m.render()}`" for m in rule.target)
        lines.append(f"| {_cell(source)} | {_cell(target)} | {', '.join(rule.equal)} |")
    lines += ["", "| Mute timing | Muted (local time of the market) |", "|---|---|"]
    for named in model.time_intervals:
        parts = []
        for interval in named.intervals:
            days = ", ".join(interval.weekdays)
            times = ", ".join(f"{t.start}-{t.end}" for t in interval.times) or "all day"
            parts.append(f"{days} {times}")
        location = named.intervals[0].location if named.intervals else ""
        lines.append(f"| {named.name} | {'; '.join(parts)} ({location}) |")
    return lines


# The six markets of the default config.
DEFAULT_MARKETS = (
    Market("kr", "Korea (KRX)", "XKRX", "Asia/Seoul"),
    Market("us", "United States (NYSE)", "XNYS", "America/New_York"),
    Market("cn", "China (SSE)", "XSHG", "Asia/Shanghai"),
    Market("hk", "Hong Kong (HKEX)", "XHKG", "Asia/Hong_Kong"),
    Market("jp", "Japan (TSE)", "XTKS", "Asia/Tokyo"),
    Market("vn", "Vietnam (HOSE)", None, "Asia/Ho_Chi_Minh", ("09:00-11:30", "13:00-14:45")),
)


def default_settings() -> ContentSettings:
    """The six markets of the default config, every notification channel enabled."""
    one = ("localhost:9",)
    return ContentSettings(
        markets=DEFAULT_MARKETS,
        targets=Targets(one, one, one, one, one, one, one, one),
        receivers=Receivers(
            slack_channel="#trading-alerts",
            slack_critical_channel="#trading-oncall",
            email_to="oncall@example.com",
            pagerduty=True,
            webhook=True,
            heartbeat=True,
        ),
    )


if __name__ == "__main__":
    print(alert_catalog_markdown(default_settings()), end="")
