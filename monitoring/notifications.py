"""The notification model: receivers, one route tree, inhibition and mute times.

One definition (`notification_model`) renders both `alertmanager.yml` (`alertmanager_config`)
and the Grafana alerting inputs (`grafana_model`). Secrets never appear here: Alertmanager reads
Slack, PagerDuty and SMTP secrets from files under `settings.receivers.secrets_dir`; webhook and
heartbeat URLs are arguments of the renderer; Grafana integrations name the secret infra fills.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from monitoring.alerts import all_rule_groups
from monitoring.market_hours import TimeInterval, closed_interval_name, closed_intervals
from monitoring.rules import AlertRule
from monitoring.settings import ContentSettings

# Secret file names under settings.receivers.secrets_dir (and Grafana secret names).
SLACK_API_URL = "slack_api_url"
PAGERDUTY_ROUTING_KEY = "pagerduty_routing_key"
SMTP_PASSWORD = "smtp_password"
# Secrets passed to the renderer (Alertmanager 0.25 has no webhook `url_file`).
WEBHOOK_URL: Final = "webhook_url"
HEARTBEAT_URL: Final = "heartbeat_url"

# Receiver names.
TEAM = "team"  # warnings and everything unrouted: Slack channel + email
ONCALL = "oncall"  # critical: PagerDuty + critical Slack channel + email
WEBHOOK = "webhook"  # generic webhook: a copy of every warning and critical alert
HEARTBEAT = "heartbeat"  # dead man's switch: only the Watchdog
BLACKHOLE = "blackhole"  # severity "none" other than the Watchdog

GROUP_BY: tuple[str, ...] = ("alertname", "category", "market")
# Market-scoped warnings of these categories are muted while the market is closed.
MUTED_WHEN_CLOSED: tuple[str, ...] = ("data_quality",)
HEARTBEAT_REPEAT = "1m"

# Go templates, valid for both Alertmanager and Grafana notification data.
TITLE_TEMPLATE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}]'
    " {{ .CommonLabels.alertname }}{{ with .CommonLabels.market }} ({{ . }}){{ end }}"
)
TEXT_TEMPLATE = (
    "{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}\n"
    "{{ .Annotations.description }}\n"
    "Runbook: {{ .Annotations.runbook_url }} | Dashboard: {{ .Annotations.dashboard_url }}\n"
    "{{ end }}"
)
TEMPLATE_NAME = "trading-monitoring"


MatchOp = Literal["=", "!=", "=~", "!~"]


@dataclass(frozen=True)
class Matcher:
    label: str
    op: MatchOp
    value: str

    def render(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'


@dataclass(frozen=True)
class Slack:
    channel: str


@dataclass(frozen=True)
class Email:
    to: str


@dataclass(frozen=True)
class PagerDuty:
    pass


@dataclass(frozen=True)
class Webhook:
    secret: Literal["webhook_url", "heartbeat_url"]
    send_resolved: bool = True


Integration = Slack | Email | PagerDuty | Webhook


@dataclass(frozen=True)
class Receiver:
    name: str
    integrations: tuple[Integration, ...] = ()


@dataclass(frozen=True)
class Route:
    receiver: str | None  # None: inherit the parent's
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    group_by: tuple[str, ...] | None = None
    group_wait: str | None = None
    group_interval: str | None = None
    repeat_interval: str | None = None
    mute_time_intervals: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


@dataclass(frozen=True)
class NamedTimeInterval:
    name: str
    intervals: tuple[TimeInterval, ...]


@dataclass(frozen=True)
class NotificationModel:
    receivers: tuple[Receiver, ...]
    route: Route
    inhibit_rules: tuple[InhibitRule, ...]
    time_intervals: tuple[NamedTimeInterval, ...] = ()


def _receivers(settings: ContentSettings) -> tuple[Receiver, ...]:
    r = settings.receivers
    team: list[Integration] = []
    oncall: list[Integration] = []
    if r.slack_channel:
        team.append(Slack(r.slack_channel))
    if r.slack_critical_channel or r.slack_channel:
        oncall.append(Slack(r.slack_critical_channel or r.slack_channel or ""))
    if r.pagerduty:
        oncall.append(PagerDuty())
    if r.email_to:
        team.append(Email(r.email_to))
        oncall.append(Email(r.email_to))
    return (
        Receiver(TEAM, tuple(team)),
        Receiver(ONCALL, tuple(oncall)),
        Receiver(WEBHOOK, (Webhook(WEBHOOK_URL),) if r.webhook else ()),
        Receiver(HEARTBEAT, (Webhook(HEARTBEAT_URL, send_resolved=False),) if r.heartbeat else ()),
        Receiver(BLACKHOLE),
    )


_LABEL_REFERENCE = re.compile(r"\$labels\.(\w+)")


def severity_inhibit_equal(settings: ContentSettings) -> tuple[str, ...]:
    """The labels a critical and a warning must share for the critical to mute the warning.

    Derived from the alerts that exist at both severities: every label their annotations name
    (what tells one firing series from another: market, endpoint, mountpoint...) and their
    static labels (e.g. `slo`). A label missing on both sides counts as equal.
    """
    severities: dict[str, set[str]] = {}
    labels: dict[str, set[str]] = {}
    for group in all_rule_groups(settings):
        for rule in group.rules:
            if not isinstance(rule, AlertRule):
                continue
            severities.setdefault(rule.name, set()).add(rule.severity)
            named = labels.setdefault(rule.name, set())
            named.update(_LABEL_REFERENCE.findall(rule.summary + rule.description))
            named.update(name for name, _ in rule.labels)
    shared = set().union(*(labels[n] for n, sev in severities.items() if len(sev) > 1))
    return ("alertname", *sorted(shared - {"alertname", "severity", "category"}))


# Derived once per settings (alertmanager.yml, the Grafana model and the alert catalog read it).
@functools.lru_cache(maxsize=8)
def notification_model(settings: ContentSettings) -> NotificationModel:
    routes: list[Route] = [
        Route(
            HEARTBEAT,
            (Matcher("alertname", "=", "Watchdog"),),
            group_by=("alertname",),
            group_wait="0s",
            group_interval=HEARTBEAT_REPEAT,
            repeat_interval=HEARTBEAT_REPEAT,
        ),
        Route(BLACKHOLE, (Matcher("severity", "=", "none"),)),
    ]
    if settings.receivers.webhook:
        routes.append(
            Route(WEBHOOK, (Matcher("severity", "=~", "critical|warning"),), continue_=True)
        )
    routes.append(
        Route(
            ONCALL,
            (Matcher("severity", "=", "critical"),),
            group_wait="10s",
            repeat_interval="1h",
        )
    )
    for category in MUTED_WHEN_CLOSED:
        routes.append(
            Route(
                TEAM,
                (Matcher("severity", "=", "warning"), Matcher("category", "=", category)),
                routes=tuple(
                    Route(
                        None,
                        (Matcher("market", "=", m.code),),
                        mute_time_intervals=(closed_interval_name(m.code),),
                    )
                    for m in settings.markets
                ),
            )
        )
    # Explicit, because a match of the `continue` webhook route keeps the root from handling it.
    routes.append(Route(TEAM, (Matcher("severity", "=", "warning"),)))
    root = Route(
        TEAM,
        group_by=GROUP_BY,
        group_wait=settings.group_wait,
        group_interval=settings.group_interval,
        repeat_interval=settings.repeat_interval,
        routes=tuple(routes),
    )
    inhibit = (
        # A critical alert mutes the warning of the same alert on the same series (market,
        # endpoint, instance and mountpoint, SLO...): never a sibling endpoint or filesystem.
        InhibitRule(
            (Matcher("severity", "=", "critical"),),
            (Matcher("severity", "=", "warning"),),
            severity_inhibit_equal(settings),
        ),
        # A down adapter mutes the data alerts of its market.
        InhibitRule(
            (Matcher("alertname", "=", "TargetDown"), Matcher("job", "=", "adapter")),
            (Matcher("category", "=", "data_quality"),),
            ("market",),
        ),
        # A down exporter (or its database) mutes the alerts computed from its metrics.
        InhibitRule(
            (Matcher("alertname", "=~", "ExporterDown|ExporterDatabaseDown"),),
            (Matcher("category", "=~", "data_quality|api|trading"),),
            ("job",),
        ),
    )
    intervals = tuple(
        NamedTimeInterval(closed_interval_name(m.code), closed_intervals(m))
        for m in settings.markets
    )
    return NotificationModel(_receivers(settings), root, inhibit, intervals)


# --- Alertmanager ---------------------------------------------------------------------------


def _secret_file(settings: ContentSettings, name: str) -> str:
    return f"{settings.receivers.secrets_dir.rstrip('/')}/{name}"


def _am_integrations(
    settings: ContentSettings,
    receiver: Receiver,
    webhook_url: str | None,
    heartbeat_url: str | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver.name}
    urls = {WEBHOOK_URL: webhook_url, HEARTBEAT_URL: heartbeat_url}
    for integration in receiver.integrations:
        if isinstance(integration, Slack):
            out.setdefault("slack_configs", []).append(
                {
                    "api_url_file": _secret_file(settings, SLACK_API_URL),
                    "channel": integration.channel,
                    "send_resolved": True,
                    "title": TITLE_TEMPLATE,
                    "text": TEXT_TEMPLATE,
                }
            )
        elif isinstance(integration, Email):
            email: dict[str, Any] = {
                "to": integration.to,
                "from": settings.receivers.email_from,
                "smarthost": settings.receivers.email_smarthost,
                "send_resolved": True,
                "require_tls": settings.receivers.email_require_tls,
                "headers": {"Subject": TITLE_TEMPLATE},
            }
            if settings.receivers.email_auth_username:
                email["auth_username"] = settings.receivers.email_auth_username
                email["auth_password_file"] = _secret_file(settings, SMTP_PASSWORD)
            out.setdefault("email_configs", []).append(email)
        elif isinstance(integration, PagerDuty):
            out.setdefault("pagerduty_configs", []).append(
                {
                    "routing_key_file": _secret_file(settings, PAGERDUTY_ROUTING_KEY),
                    "severity": "critical",  # only the on-call (critical) receiver pages
                    "send_resolved": True,
                    "description": TITLE_TEMPLATE,
                }
            )
        else:
            url = urls[integration.secret]
            if not url:
                raise ValueError(
                    f"receivers.{receiver.name}: {integration.secret} is required when the"
                    f" {receiver.name} receiver is enabled; got {url!r}"
                )
            out.setdefault("webhook_configs", []).append(
                {"url": url, "send_resolved": integration.send_resolved}
            )
    return out


def _am_route(route: Route) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if route.receiver:
        out["receiver"] = route.receiver
    if route.matchers:
        out["matchers"] = [m.render() for m in route.matchers]
    if route.continue_:
        out["continue"] = True
    for key, value in (
        ("group_by", list(route.group_by) if route.group_by is not None else None),
        ("group_wait", route.group_wait),
        ("group_interval", route.group_interval),
        ("repeat_interval", route.repeat_interval),
    ):
        if value is not None:
            out[key] = value
    if route.mute_time_intervals:
        out["mute_time_intervals"] = list(route.mute_time_intervals)
    if route.routes:
        out["routes"] = [_am_route(r) for r in route.routes]
    return out


def _am_interval(interval: TimeInterval) -> dict[str, Any]:
    out: dict[str, Any] = {"weekdays": list(interval.weekdays)}
    if interval.times:
        out["times"] = [{"start_time": t.start, "end_time": t.end} for t in interval.times]
    if interval.location:
        out["location"] = interval.location
    return out


def am_inhibit_rule(rule: InhibitRule) -> dict[str, Any]:
    return {
        "source_matchers": [m.render() for m in rule.source],
        "target_matchers": [m.render() for m in rule.target],
        **({"equal": list(rule.equal)} if rule.equal else {}),
    }


def alertmanager_config(
    settings: ContentSettings, webhook_url: str | None, heartbeat_url: str | None
) -> dict[str, Any]:
    model = notification_model(settings)
    config: dict[str, Any] = {
        "global": {"resolve_timeout": "5m"},
        "route": _am_route(model.route),
        "inhibit_rules": [am_inhibit_rule(rule) for rule in model.inhibit_rules],
        "receivers": [
            _am_integrations(settings, r, webhook_url, heartbeat_url) for r in model.receivers
        ],
    }
    if model.time_intervals:
        config["time_intervals"] = [
            {"name": t.name, "time_intervals": [_am_interval(i) for i in t.intervals]}
            for t in model.time_intervals
        ]
    return config


# --- Grafana (inputs of pulumiverse_grafana.alerting.*) ---------------------------------------


@dataclass(frozen=True)
class GrafanaIntegration:
    """One entry of a `ContactPoint` list argument (`kind`: slacks, emails, pagerduties,
    webhooks). `settings` are plain arguments; `secrets` maps an argument to the secret infra
    must pass as a Pulumi secret (e.g. {"url": "slack_api_url"})."""

    kind: Literal["slacks", "emails", "pagerduties", "webhooks"]
    settings: dict[str, Any]
    secrets: dict[str, str]


@dataclass(frozen=True)
class GrafanaContactPoint:
    name: str
    integrations: tuple[GrafanaIntegration, ...]


@dataclass(frozen=True)
class GrafanaMatcher:
    label: str
    match: str  # "=", "!=", "=~", "!~"
    value: str


@dataclass(frozen=True)
class GrafanaPolicy:
    """`NotificationPolicy` (root) and its nested `policies` entries."""

    contact_point: str | None
    group_by: tuple[str, ...] | None = None  # argument `group_bies`
    matchers: tuple[GrafanaMatcher, ...] = ()
    continue_: bool = False
    group_wait: str | None = None
    group_interval: str | None = None
    repeat_interval: str | None = None
    mute_timings: tuple[str, ...] = ()
    policies: tuple[GrafanaPolicy, ...] = ()


@dataclass(frozen=True)
class GrafanaMuteTimeRange:
    start: str
    end: str


@dataclass(frozen=True)
class GrafanaMuteInterval:
    weekdays: tuple[str, ...]
    times: tuple[GrafanaMuteTimeRange, ...] = ()
    location: str | None = None


@dataclass(frozen=True)
class GrafanaMuteTiming:
    name: str
    intervals: tuple[GrafanaMuteInterval, ...]


@dataclass(frozen=True)
class GrafanaMessageTemplate:
    name: str
    template: str


@dataclass(frozen=True)
class GrafanaNotificationModel:
    contact_points: tuple[GrafanaContactPoint, ...]
    # None when no receiver has an integration: keep Grafana's default policy then.
    policy: GrafanaPolicy | None
    mute_timings: tuple[GrafanaMuteTiming, ...]
    message_templates: tuple[GrafanaMessageTemplate, ...]


_GRAFANA_TITLE = f'{{{{ template "{TEMPLATE_NAME}.title" . }}}}'
_GRAFANA_TEXT = f'{{{{ template "{TEMPLATE_NAME}.text" . }}}}'


def _grafana_integration(integration: Integration) -> GrafanaIntegration:
    if isinstance(integration, Slack):
        return GrafanaIntegration(
            "slacks",
            {"recipient": integration.channel, "title": _GRAFANA_TITLE, "text": _GRAFANA_TEXT},
            {"url": SLACK_API_URL},
        )
    if isinstance(integration, Email):
        return GrafanaIntegration(
            "emails",
            {"addresses": [integration.to], "subject": _GRAFANA_TITLE, "message": _GRAFANA_TEXT},
            {},
        )
    if isinstance(integration, PagerDuty):
        return GrafanaIntegration(
            "pagerduties",
            {"summary": _GRAFANA_TITLE, "severity": "critical"},
            {"integration_key": PAGERDUTY_ROUTING_KEY},
        )
    return GrafanaIntegration(
        "webhooks",
        {"disable_resolve_message": not integration.send_resolved},
        {"url": integration.secret},
    )


# Grafana has no contact point without integrations. Where Alertmanager routes to such a
# receiver (it discards the alert), the Grafana policy routes to an existing contact point
# under this always-active mute timing: matched, so it cannot fall through, and never sent.
DISCARD_TIMING = "discard-always"


def _grafana_policy(
    route: Route, enabled: set[str], inherited: str, fallback: str
) -> GrafanaPolicy:
    effective = route.receiver or inherited
    discard = effective not in enabled
    contact_point = route.receiver
    if route.receiver is not None and discard:
        contact_point = fallback
    return GrafanaPolicy(
        contact_point=contact_point,
        group_by=route.group_by,
        matchers=tuple(GrafanaMatcher(m.label, m.op, m.value) for m in route.matchers),
        continue_=route.continue_,
        group_wait=route.group_wait,
        group_interval=route.group_interval,
        repeat_interval=route.repeat_interval,
        mute_timings=route.mute_time_intervals + ((DISCARD_TIMING,) if discard else ()),
        policies=tuple(
            _grafana_policy(child, enabled, effective, fallback) for child in route.routes
        ),
    )


def _grafana_root(route: Route, enabled: set[str], order: list[str]) -> GrafanaPolicy | None:
    """The root policy. It takes no mute timing: with a root receiver without integrations,
    a last catch-all child discards what Alertmanager's root would."""
    if not enabled:
        return None
    root_receiver = route.receiver or ""
    fallback = root_receiver if root_receiver in enabled else order[0]
    policy = _grafana_policy(route, enabled, root_receiver, fallback)
    if root_receiver in enabled:
        return policy
    catch_all = GrafanaPolicy(contact_point=None, mute_timings=(DISCARD_TIMING,))
    return GrafanaPolicy(
        contact_point=fallback,
        group_by=policy.group_by,
        group_wait=policy.group_wait,
        group_interval=policy.group_interval,
        repeat_interval=policy.repeat_interval,
        policies=(*policy.policies, catch_all),
    )


def _uses_timing(policy: GrafanaPolicy, name: str) -> bool:
    return name in policy.mute_timings or any(_uses_timing(p, name) for p in policy.policies)


def grafana_model(settings: ContentSettings) -> GrafanaNotificationModel:
    model = notification_model(settings)
    contact_points = tuple(
        GrafanaContactPoint(r.name, tuple(_grafana_integration(i) for i in r.integrations))
        for r in model.receivers
        if r.integrations
    )
    policy = _grafana_root(
        model.route, {cp.name for cp in contact_points}, [cp.name for cp in contact_points]
    )
    mute_timings = tuple(
        GrafanaMuteTiming(
            t.name,
            tuple(
                GrafanaMuteInterval(
                    i.weekdays,
                    tuple(GrafanaMuteTimeRange(r.start, r.end) for r in i.times),
                    i.location,
                )
                for i in t.intervals
            ),
        )
        for t in model.time_intervals
    )
    template = (
        f'{{{{ define "{TEMPLATE_NAME}.title" }}}}{TITLE_TEMPLATE}{{{{ end }}}}\n'
        f'{{{{ define "{TEMPLATE_NAME}.text" }}}}{TEXT_TEMPLATE}{{{{ end }}}}\n'
    )
    if policy is not None and _uses_timing(policy, DISCARD_TIMING):
        # One empty interval: muted all the time.
        mute_timings += (GrafanaMuteTiming(DISCARD_TIMING, (GrafanaMuteInterval(()),)),)
    return GrafanaNotificationModel(
        contact_points=contact_points,
        policy=policy,
        mute_timings=mute_timings,
        message_templates=(GrafanaMessageTemplate(TEMPLATE_NAME, template),),
    )
