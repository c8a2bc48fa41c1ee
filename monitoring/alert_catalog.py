"""The alert catalog as Markdown (docs/alerts.md is this output; a test keeps them equal).

Regenerate: `.venv/bin/python -m monitoring.alert_catalog > docs/alerts.md`
"""

from __future__ import annotations

from monitoring.alerts import HOLIDAY_WINDOW_END, all_rule_groups
from monitoring.notifications import (
    KIND_NAMES,
    SECRET_FIELDS,
    Email,
    Integration,
    NotificationModel,
    Notifications,
    Route,
    Slack,
    Telegram,
    field_version,
    integration_secret,
    notification_model,
    secret_file_name,
    supported,
)
from monitoring.rules import AlertRule, RecordingRule
from monitoring.settings import ContentSettings, Market, Receivers, Targets
from monitoring.tuning import AlertTuning

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


def alert_catalog_markdown(
    settings: ContentSettings,
    notifications: Notifications | None = None,
    tuning: AlertTuning | None = None,
) -> str:
    lines = [HEADER, "## Alerts", ""]
    if tuning is not None and tuning.disabled:
        lines += [f"Disabled by `alerts.disabled`: {', '.join(sorted(tuning.disabled))}.", ""]
    if tuning is not None and tuning.overrides:
        lines += [f"Tuned by `alerts.overrides`: {', '.join(sorted(tuning.overrides))}.", ""]
    lines.append("| Alert | Severity | Category | For | Expression | Dashboard |")
    lines.append("|---|---|---|---|---|---|")
    records: list[RecordingRule] = []
    for group in all_rule_groups(settings, tuning):
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
        if record.record == HOLIDAY_WINDOW_END:  # a timestamp that moves with the year
            record = RecordingRule(
                record.record, "vector(<end of its holiday window>)", record.labels
            )
        labels = ",".join(f'{k}="{v}"' for k, v in record.labels)
        name = f"{record.record}{{{labels}}}" if labels else record.record
        lines.append(f"| `{_cell(name)}` | `{_cell(record.expr)}` |")
    model_lines = _notification_lines(settings, notifications, tuning)
    return "\n".join(lines + model_lines) + "\n"


def _integration(integration: Integration, model: NotificationModel) -> str:
    kind = KIND_NAMES[type(integration)]
    if not supported(integration, model.alertmanager_version):
        return f"{kind} (not in this Alertmanager version: Grafana only)"
    details = ""
    if isinstance(integration, Slack) and integration.channel:
        details = f" `{integration.channel}`"
    elif isinstance(integration, Email):
        details = " " + ", ".join(f"`{a}`" for a in integration.to)
    elif isinstance(integration, Telegram):
        details = f" chat `{integration.chat_id}`"
    key = integration_secret(integration)
    if key is None:
        return kind + details
    inline, file_field, since = SECRET_FIELDS[type(integration)]
    readable = field_version(model, integration) >= since
    where = f"`{file_field}` {secret_file_name(key)}" if readable else f"inline `{inline}`"
    return f"{kind}{details} (secret `{key}`: {where})"


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


def _notification_lines(
    settings: ContentSettings, notifications: Notifications | None, tuning: AlertTuning | None
) -> list[str]:
    model = notification_model(settings, notifications, tuning)
    lines = [
        "",
        "## Notifications",
        "",
        "Receivers and routes of the stack config (`notifications`, or the `receivers.*`",
        "shorthand); a receiver without integrations drops what it gets. Routes match top to",
        "bottom; the first match wins unless it says `continue`.",
        "",
        "| Receiver | Integrations |",
        "|---|---|",
    ]
    for receiver in model.receivers:
        integrations = "; ".join(_integration(i, model) for i in receiver.integrations)
        lines.append(f"| {receiver.name} | {integrations or 'none'} |")
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
            if not interval.weekdays:  # dated: holidays and early closes (they move yearly)
                continue
            days = ", ".join(interval.weekdays)
            times = ", ".join(f"{t.start}-{t.end}" for t in interval.times) or "all day"
            parts.append(f"{days} {times}")
        if any(not interval.weekdays for interval in named.intervals):
            parts.append("holidays and early closes of the current and next year")
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
    """The six markets of the default config, every notification channel enabled; Kubernetes
    discovery, so the Kubernetes-only alerts are listed too."""
    one = ("localhost:9",)
    return ContentSettings(
        markets=DEFAULT_MARKETS,
        targets=Targets(one, one, one, one, one, one, one, one),
        discovery="kubernetes",
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
