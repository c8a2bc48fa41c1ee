"""The notification model: named receivers, one route tree, inhibition and mute times.

One definition (`notification_model`) renders both `alertmanager.yml` (`alertmanager_config`)
and the Grafana alerting inputs (`grafana_model`). Its input is `Notifications` (validated from
stack config by `monitoring/notification_config.py`, or derived from the legacy `receivers.*`
settings by `legacy_notifications`). Secrets never appear in the model, only their stack config
keys: Alertmanager reads a secret from `<secrets_dir>/<snake_case key>` wherever the configured
Alertmanager version has a `*_file` field, otherwise the value is passed to the renderer and
the rendered file is a secret as a whole. Grafana integrations name the secret infra fills.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from monitoring.alerts import all_rule_groups
from monitoring.market_hours import TimeInterval, closed_interval_name, closed_intervals
from monitoring.rules import AlertRule
from monitoring.settings import ContentSettings, Receivers
from monitoring.thirdparty.model import Components
from monitoring.thirdparty.rules import TARGET_DOWN, down_alert_name
from monitoring.thirdparty.scrape import COMPONENT_LABEL, NAME_LABEL
from monitoring.tuning import AlertTuning

# Stack config secret keys of the legacy `receivers.*` shorthand.
LEGACY_SLACK_URL: Final = "slackApiUrl"
LEGACY_PAGERDUTY_KEY: Final = "pagerdutyRoutingKey"
LEGACY_SMTP_PASSWORD: Final = "smtpPassword"
LEGACY_WEBHOOK_URL: Final = "webhookUrl"
LEGACY_HEARTBEAT_URL: Final = "heartbeatUrl"


def secret_file_name(key: str) -> str:
    """A secret's file name under the secrets dir, and its name in the Grafana model:
    the stack config key in snake_case ("slackApiUrl" -> "slack_api_url")."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


SLACK_API_URL: Final = secret_file_name(LEGACY_SLACK_URL)
PAGERDUTY_ROUTING_KEY: Final = secret_file_name(LEGACY_PAGERDUTY_KEY)
SMTP_PASSWORD: Final = secret_file_name(LEGACY_SMTP_PASSWORD)
WEBHOOK_URL: Final = secret_file_name(LEGACY_WEBHOOK_URL)
HEARTBEAT_URL: Final = secret_file_name(LEGACY_HEARTBEAT_URL)

# Receiver names of the legacy shorthand; BLACKHOLE is built in (no integrations).
TEAM = "team"  # warnings and everything unrouted: Slack channel + email
ONCALL = "oncall"  # critical: PagerDuty + critical Slack channel + email
WEBHOOK = "webhook"  # generic webhook: a copy of every warning and critical alert
HEARTBEAT = "heartbeat"  # dead man's switch: only the Watchdog
BLACKHOLE = "blackhole"  # severities "info" and "none" (dashboards only), and the unrouted

GROUP_BY: tuple[str, ...] = ("alertname", "category", "market")
# Warnings of these categories that carry a market are muted while that market is closed.
MUTED_WHEN_CLOSED: tuple[str, ...] = ("data_quality",)
MUTED_SEVERITY = "warning"
# Shown on dashboards and in the Alertmanager UI, never sent.
SILENT_SEVERITIES: tuple[str, ...] = ("info", "none")
HEARTBEAT_REPEAT = "1m"
# Labels a route may match on: the labels our alerts carry.
MATCH_LABELS: tuple[str, ...] = (
    "severity",
    "category",
    "market",
    "service",
    "team",
    "alertname",
    "component",
)

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
        # A quoted matcher value: `\` and `"` escaped (a route may match any service name).
        value = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.label}{self.op}"{value}"'


def match_values(label: str, values: tuple[str, ...]) -> Matcher:
    """`label` equal to one of `values` (a regex alternation for several)."""
    if len(values) == 1:
        return Matcher(label, "=", values[0])
    return Matcher(label, "=~", "|".join(re.escape(v) for v in values))


# --- Integrations (one entry of a receiver; `*_secret` fields are stack config keys) --------


@dataclass(frozen=True)
class Slack:
    url_secret: str
    channel: str | None = None  # Slack app webhooks post to their own channel only


@dataclass(frozen=True)
class Email:
    to: tuple[str, ...]


@dataclass(frozen=True)
class PagerDuty:
    routing_key_secret: str


@dataclass(frozen=True)
class Webhook:
    url_secret: str
    send_resolved: bool = True


@dataclass(frozen=True)
class Heartbeat:
    """A dead man's switch URL: receives only the Watchdog, every HEARTBEAT_REPEAT."""

    url_secret: str


@dataclass(frozen=True)
class Discord:
    url_secret: str


@dataclass(frozen=True)
class Telegram:
    token_secret: str
    chat_id: int


@dataclass(frozen=True)
class OpsGenie:
    api_key_secret: str


@dataclass(frozen=True)
class MSTeams:
    url_secret: str


Integration = (
    Slack | Email | PagerDuty | Webhook | Heartbeat | Discord | Telegram | OpsGenie | MSTeams
)

# Config key of each kind (`notifications.receivers[].<kind>`).
KIND_NAMES: dict[type, str] = {
    Slack: "slack",
    Email: "email",
    PagerDuty: "pagerduty",
    Webhook: "webhook",
    Heartbeat: "heartbeat",
    Discord: "discord",
    Telegram: "telegram",
    OpsGenie: "opsgenie",
    MSTeams: "msteams",
}


@dataclass(frozen=True)
class Receiver:
    name: str
    integrations: tuple[Integration, ...] = ()


@dataclass(frozen=True)
class Smtp:
    """The relay of every email integration (Alertmanager's and Grafana's)."""

    sender: str = "alertmanager@localhost"
    smarthost: str = "localhost:587"
    username: str | None = None
    password_secret: str | None = None
    require_tls: bool = True  # False only for a local mail catcher without STARTTLS


@dataclass(frozen=True)
class Timings:
    group_wait: str | None = None
    group_interval: str | None = None
    repeat_interval: str | None = None


@dataclass(frozen=True)
class UserRoute:
    """`notifications.routes[]`: alerts whose labels match (each label: one of its values)."""

    match: tuple[tuple[str, tuple[str, ...]], ...]
    receiver: str
    continue_: bool = False
    timings: Timings = field(default_factory=Timings)
    # False: also deliver market-scoped data warnings while the market is closed.
    mute_when_market_closed: bool = True


@dataclass(frozen=True)
class Notifications:
    """Everything stack config says about notifications (validated)."""

    receivers: tuple[Receiver, ...] = ()
    routes: tuple[UserRoute, ...] = ()
    default_receiver: str | None = None  # None: unrouted alerts are dropped (blackhole)
    default_timings: Timings = field(default_factory=Timings)
    smtp: Smtp = field(default_factory=Smtp)
    secrets_dir: str = "/etc/alertmanager/secrets"
    alertmanager_version: tuple[int, int] = (0, 25)  # decides *_file fields and msteams


def legacy_notifications(receivers: Receivers) -> Notifications:
    """The legacy `receivers.*` settings, as the named receivers and routes they stand for."""
    r = receivers
    team: list[Integration] = []
    oncall: list[Integration] = []
    if r.slack_channel:
        team.append(Slack(LEGACY_SLACK_URL, r.slack_channel))
        oncall.append(Slack(LEGACY_SLACK_URL, r.slack_critical_channel or r.slack_channel))
    if r.pagerduty:
        oncall.append(PagerDuty(LEGACY_PAGERDUTY_KEY))
    if r.email_to:
        team.append(Email((r.email_to,)))
        oncall.append(Email((r.email_to,)))
    routes: list[UserRoute] = []
    if r.webhook:
        # A copy of everything, closed markets included.
        routes.append(
            UserRoute(
                (("severity", ("critical", "warning")),),
                WEBHOOK,
                True,
                mute_when_market_closed=False,
            )
        )
    routes += [
        UserRoute(
            (("severity", ("critical",)),),
            ONCALL,
            timings=Timings(group_wait="10s", repeat_interval="1h"),
        ),
        UserRoute((("severity", ("warning",)),), TEAM),
    ]
    return Notifications(
        receivers=(
            Receiver(TEAM, tuple(team)),
            Receiver(ONCALL, tuple(oncall)),
            Receiver(WEBHOOK, (Webhook(LEGACY_WEBHOOK_URL),) if r.webhook else ()),
            Receiver(HEARTBEAT, (Heartbeat(LEGACY_HEARTBEAT_URL),) if r.heartbeat else ()),
        ),
        routes=tuple(routes),
        default_receiver=TEAM,
        smtp=Smtp(
            sender=r.email_from,
            smarthost=r.email_smarthost,
            username=r.email_auth_username,
            password_secret=LEGACY_SMTP_PASSWORD if r.email_auth_username else None,
            require_tls=r.email_require_tls,
        ),
        secrets_dir=r.secrets_dir,
    )


# --- The model ------------------------------------------------------------------------------


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
class InhibitionSpec:
    """An inhibition as data: alerts named `source_alerts` (and matching `source`) mute the
    alerts matching `target` that share `equal`. Disabled source alerts drop out; a rule
    without any source alert left is not rendered."""

    source_alerts: tuple[str, ...]
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


# A down adapter mutes the data alerts of its market; a down exporter (or its database) mutes
# the alerts computed from its metrics. Other modules may add their own specs.
INHIBITIONS: tuple[InhibitionSpec, ...] = (
    InhibitionSpec(
        ("TargetDown",),
        (Matcher("job", "=", "adapter"),),
        (Matcher("category", "=", "data_quality"),),
        ("market",),
    ),
    InhibitionSpec(
        ("ExporterDown", "ExporterDatabaseDown"),
        (),
        (Matcher("category", "=~", "data_quality|api|trading"),),
        ("job",),
    ),
    # A down target of one of the user's services mutes that service's SLO and probe alerts.
    InhibitionSpec(
        ("TargetDown",),
        (Matcher("service", "=~", ".+"),),
        (Matcher("category", "=~", "slo|probe"),),
        ("service",),
    ),
)


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
    smtp: Smtp = field(default_factory=Smtp)
    secrets_dir: str = "/etc/alertmanager/secrets"
    alertmanager_version: tuple[int, int] = (0, 25)


_LABEL_REFERENCE = re.compile(r"\$labels\.(\w+)")


def _alert_rules(settings: ContentSettings, tuning: AlertTuning | None) -> list[AlertRule]:
    return [
        rule
        for group in all_rule_groups(settings, tuning)
        for rule in group.rules
        if isinstance(rule, AlertRule)
    ]


def severity_inhibit_equal(
    settings: ContentSettings, tuning: AlertTuning | None = None
) -> tuple[str, ...]:
    """The labels a critical and a warning must share for the critical to mute the warning.

    Derived from the alerts that exist at both severities: every label their annotations name
    (what tells one firing series from another: market, endpoint, mountpoint...) and their
    static labels (e.g. `slo`). A label missing on both sides counts as equal.
    """
    severities: dict[str, set[str]] = {}
    labels: dict[str, set[str]] = {}
    for rule in _alert_rules(settings, tuning):
        severities.setdefault(rule.name, set()).add(rule.severity)
        named = labels.setdefault(rule.name, set())
        named.update(_LABEL_REFERENCE.findall(rule.summary + rule.description))
        named.update(name for name, _ in rule.labels)
    shared = set().union(*(labels[n] for n, sev in severities.items() if len(sev) > 1))
    return ("alertname", *sorted(shared - {"alertname", "severity", "category"}))


def _market_mutes(settings: ContentSettings, match: Mapping[str, tuple[str, ...]]) -> list[Route]:
    """Children of a route that mute its market-scoped warnings while the market is closed;
    only those its own matchers let through."""

    def allows(label: str, value: str) -> bool:
        return label not in match or value in match[label]

    categories = tuple(c for c in MUTED_WHEN_CLOSED if allows("category", c))
    if not categories or not allows("severity", MUTED_SEVERITY):
        return []
    # Only what the route's own matchers do not already pin down.
    common = [
        match_values(label, values)
        for label, values in (("severity", (MUTED_SEVERITY,)), ("category", categories))
        if match.get(label) != values
    ]
    return [
        Route(
            None,
            (*common, Matcher("market", "=", m.code)),
            mute_time_intervals=(closed_interval_name(m.code),),
        )
        for m in settings.markets
        # Always-open markets (24/7) have no closed interval: nothing mutes their warnings.
        if allows("market", m.code) and closed_intervals(m)
    ]


def _user_route(settings: ContentSettings, route: UserRoute) -> Route:
    match = dict(route.match)
    return Route(
        route.receiver,
        tuple(match_values(label, values) for label, values in route.match),
        continue_=route.continue_,
        group_wait=route.timings.group_wait,
        group_interval=route.timings.group_interval,
        repeat_interval=route.timings.repeat_interval,
        routes=tuple(_market_mutes(settings, match) if route.mute_when_market_closed else ()),
    )


def _inhibit_rules(
    settings: ContentSettings, tuning: AlertTuning | None, specs: tuple[InhibitionSpec, ...]
) -> tuple[InhibitRule, ...]:
    present = {rule.name for rule in _alert_rules(settings, tuning)}
    rules = [
        # A critical alert mutes the warning of the same alert on the same series (market,
        # endpoint, instance and mountpoint, SLO...): never a sibling endpoint or filesystem.
        InhibitRule(
            (Matcher("severity", "=", "critical"),),
            (Matcher("severity", "=", "warning"),),
            severity_inhibit_equal(settings, tuning),
        )
    ]
    for spec in specs:
        names = tuple(n for n in spec.source_alerts if n in present)
        if names:
            source = (match_values("alertname", names), *spec.source)
            rules.append(InhibitRule(source, spec.target, spec.equal))
    return tuple(rules)


# Derived once per settings (alertmanager.yml, the Grafana model and the alert catalog read it).
@functools.lru_cache(maxsize=8)
def notification_model(
    settings: ContentSettings,
    notifications: Notifications | None = None,
    tuning: AlertTuning | None = None,
) -> NotificationModel:
    """The route tree: the Watchdog to the heartbeat receivers, `info`/`none` to nothing, then
    the user's routes in order (first match wins unless `continue`), then the default."""
    n = notifications or settings.notifications or legacy_notifications(settings.receivers)
    tuning = tuning if tuning is not None else settings.alerts
    heartbeats = [
        r.name for r in n.receivers if any(isinstance(i, Heartbeat) for i in r.integrations)
    ]
    watchdog = Matcher("alertname", "=", "Watchdog")
    heartbeat_timing: dict[str, Any] = {
        "group_by": ("alertname",),
        "group_wait": "0s",
        "group_interval": HEARTBEAT_REPEAT,
        "repeat_interval": HEARTBEAT_REPEAT,
    }
    routes: list[Route] = [
        Route(name, (watchdog,), continue_=i < len(heartbeats) - 1, **heartbeat_timing)
        for i, name in enumerate(heartbeats)
    ] or [Route(BLACKHOLE, (watchdog,))]
    routes.append(Route(BLACKHOLE, (match_values("severity", SILENT_SEVERITIES),)))
    routes += [_user_route(settings, r) for r in n.routes]
    # What no route took goes to the default receiver, muted the same way.
    routes += _market_mutes(settings, {})
    root = Route(
        n.default_receiver or BLACKHOLE,
        group_by=GROUP_BY,
        group_wait=n.default_timings.group_wait or settings.group_wait,
        group_interval=n.default_timings.group_interval or settings.group_interval,
        repeat_interval=n.default_timings.repeat_interval or settings.repeat_interval,
        routes=tuple(routes),
    )
    intervals = tuple(
        NamedTimeInterval(closed_interval_name(m.code), closed_intervals(m))
        for m in settings.markets
        if closed_intervals(m)
    )
    return NotificationModel(
        receivers=(*n.receivers, Receiver(BLACKHOLE)),
        route=root,
        inhibit_rules=_inhibit_rules(
            settings, tuning, INHIBITIONS + component_inhibitions(settings.components)
        ),
        time_intervals=intervals,
        smtp=n.smtp,
        secrets_dir=n.secrets_dir,
        alertmanager_version=n.alertmanager_version,
    )


def route_matches(route: Route, labels: Mapping[str, str]) -> bool:
    for m in route.matchers:
        actual = labels.get(m.label, "")
        # Alertmanager anchors regex matchers: the whole value must match.
        positive = actual == m.value if m.op in ("=", "!=") else bool(re.fullmatch(m.value, actual))
        if positive != (m.op in ("=", "=~")):
            return False
    return True


def route_receivers(route: Route, labels: Mapping[str, str], inherited: str = "") -> list[str]:
    """Alertmanager's routing of an alert with `labels`: depth first, the first matching
    child wins unless it says `continue`; a route no child takes handles the alert itself."""
    receiver = route.receiver or inherited
    found: list[str] = []
    for child in route.routes:
        if route_matches(child, labels):
            found += route_receivers(child, labels, receiver)
            if not child.continue_:
                break
    return found or [receiver]


def component_inhibitions(components: Components) -> tuple[InhibitionSpec, ...]:
    """A down component (or its exporter: TargetDown) mutes the other alerts of its instance;
    a down PostgreSQL marked `exporterDatabase` mutes the bundled exporter's database alerts."""
    if not components.kinds:
        return ()
    down = (TARGET_DOWN, *(down_alert_name(kind) for kind in components.kinds))
    specs = [
        InhibitionSpec(
            down,
            (),
            (
                Matcher(COMPONENT_LABEL, "=~", "|".join(components.kinds)),
                Matcher("alertname", "!~", "|".join(down)),
            ),
            (COMPONENT_LABEL, NAME_LABEL),
        )
    ]
    specs += [
        InhibitionSpec(
            (down_alert_name("postgres"),),
            (Matcher(NAME_LABEL, "=", instance.name),),
            (Matcher("alertname", "=~", "ExporterDatabaseDown|ExporterCollectorFailing"),),
            (),
        )
        for instance in components.postgres
        if instance.exporter_database
    ]
    return tuple(specs)


# --- Alertmanager ---------------------------------------------------------------------------

Version = tuple[int, int]
# Integration kind -> (inline secret field, its *_file field, first version with the file).
SECRET_FIELDS: dict[type, tuple[str, str, Version]] = {
    Slack: ("api_url", "api_url_file", (0, 22)),
    PagerDuty: ("routing_key", "routing_key_file", (0, 25)),
    OpsGenie: ("api_key", "api_key_file", (0, 25)),
    Webhook: ("url", "url_file", (0, 26)),
    Heartbeat: ("url", "url_file", (0, 26)),
    Telegram: ("bot_token", "bot_token_file", (0, 26)),
    Discord: ("webhook_url", "webhook_url_file", (0, 27)),
    MSTeams: ("webhook_url", "webhook_url_file", (0, 27)),
}
SMTP_PASSWORD_FIELDS: tuple[str, str, Version] = ("auth_password", "auth_password_file", (0, 25))
# Integrations a version lacks entirely (`msteams_configs` arrived in 0.26).
INTEGRATION_SINCE: dict[type, Version] = {MSTeams: (0, 26)}
AM_CONFIG_KEYS: dict[type, str] = {
    Slack: "slack_configs",
    Email: "email_configs",
    PagerDuty: "pagerduty_configs",
    Webhook: "webhook_configs",
    Heartbeat: "webhook_configs",
    Discord: "discord_configs",
    Telegram: "telegram_configs",
    OpsGenie: "opsgenie_configs",
    MSTeams: "msteams_configs",
}


def integration_secret(integration: Integration) -> str | None:
    """The stack config key of the integration's secret (None for email: SMTP's is global)."""
    for name in ("url_secret", "routing_key_secret", "token_secret", "api_key_secret"):
        value = getattr(integration, name, None)
        if value is not None:
            return str(value)
    return None


def supported(integration: Integration, version: Version) -> bool:
    return version >= INTEGRATION_SINCE.get(type(integration), (0, 0))


# The oldest Alertmanager the rendered file must load (Debian's 0.25 amtool checks it): for the
# receivers it knows, only fields it reads (webhook, discord and telegram secrets stay inline
# and the file a secret as a whole); newer integrations (msteams) follow the configured version.
COMPAT_VERSION: Version = (0, 25)


def field_version(model: NotificationModel, integration: Integration) -> Version:
    """The Alertmanager version whose fields `integration` is rendered with."""
    version = model.alertmanager_version
    if INTEGRATION_SINCE.get(type(integration), (0, 0)) > COMPAT_VERSION:
        return version
    return min(version, COMPAT_VERSION)


def alertmanager_secret_files(model: NotificationModel) -> dict[str, str]:
    """Secret key -> file name under `secrets_dir`, for every secret Alertmanager reads from a
    file; infra writes exactly these files."""
    files: dict[str, str] = {}
    version = model.alertmanager_version
    for receiver in model.receivers:
        for integration in receiver.integrations:
            key = integration_secret(integration)
            fields = SECRET_FIELDS.get(type(integration))
            readable = fields and field_version(model, integration) >= fields[2]
            if key and readable and supported(integration, version):
                files[key] = secret_file_name(key)
            if isinstance(integration, Email) and model.smtp.password_secret:
                files[model.smtp.password_secret] = secret_file_name(model.smtp.password_secret)
    return files


def inline_secret_keys(model: NotificationModel) -> tuple[str, ...]:
    """Secret keys whose values go inline into alertmanager.yml (no `*_file` field in the
    configured version): `alertmanager_config` needs their values."""
    files = alertmanager_secret_files(model)
    keys: list[str] = []
    for receiver in model.receivers:
        for integration in receiver.integrations:
            key = integration_secret(integration)
            if (
                key
                and key not in files
                and key not in keys
                and supported(integration, model.alertmanager_version)
            ):
                keys.append(key)
    return tuple(keys)


def _secret(
    model: NotificationModel,
    receiver: str,
    key: str,
    fields: tuple[str, str, Version],
    secrets: Mapping[str, str],
    version: Version,
) -> dict[str, str]:
    inline, file_field, since = fields
    if version >= since:
        return {file_field: f"{model.secrets_dir.rstrip('/')}/{secret_file_name(key)}"}
    value = secrets.get(key)
    if not value:
        shown = ".".join(map(str, version))
        raise ValueError(
            f"notifications.receivers.{receiver}: secret {key!r} goes inline into"
            f" alertmanager.yml (Alertmanager {shown} has no {file_field}); its value is"
            " required"
        )
    return {inline: value}


def _am_integration(
    model: NotificationModel, receiver: str, integration: Integration, secrets: Mapping[str, str]
) -> dict[str, Any]:
    key = integration_secret(integration)
    version = field_version(model, integration)
    out: dict[str, Any] = {}
    if key is not None:
        fields = SECRET_FIELDS[type(integration)]
        out.update(_secret(model, receiver, key, fields, secrets, version))
    if isinstance(integration, Slack):
        if integration.channel:
            out["channel"] = integration.channel
        out |= {"send_resolved": True, "title": TITLE_TEMPLATE, "text": TEXT_TEMPLATE}
    elif isinstance(integration, Email):
        smtp = model.smtp
        out |= {
            "to": ", ".join(integration.to),
            "from": smtp.sender,
            "smarthost": smtp.smarthost,
            "send_resolved": True,
            "require_tls": smtp.require_tls,
            "headers": {"Subject": TITLE_TEMPLATE},
        }
        if smtp.username:
            out["auth_username"] = smtp.username
            if smtp.password_secret:
                password = smtp.password_secret
                out |= _secret(model, receiver, password, SMTP_PASSWORD_FIELDS, secrets, version)
    elif isinstance(integration, PagerDuty):
        out |= {
            "severity": '{{ or .CommonLabels.severity "critical" }}',
            "send_resolved": True,
            "description": TITLE_TEMPLATE,
        }
    elif isinstance(integration, Webhook):
        out["send_resolved"] = integration.send_resolved
    elif isinstance(integration, Heartbeat):
        out["send_resolved"] = False
    elif isinstance(integration, Discord):
        out |= {"send_resolved": True, "title": TITLE_TEMPLATE, "message": TEXT_TEMPLATE}
    elif isinstance(integration, Telegram):
        # Plain text: the alert text is not escaped for Telegram's HTML or Markdown modes.
        message = TITLE_TEMPLATE + "\n" + TEXT_TEMPLATE
        out |= {"chat_id": integration.chat_id, "send_resolved": True, "message": message}
        out["parse_mode"] = ""
    elif isinstance(integration, OpsGenie):
        out |= {"send_resolved": True, "message": TITLE_TEMPLATE, "description": TEXT_TEMPLATE}
    else:
        out |= {
            "send_resolved": True,
            "title": TITLE_TEMPLATE,
            "summary": TITLE_TEMPLATE,
            "text": TEXT_TEMPLATE,
        }
    return out


def _am_receiver(
    model: NotificationModel, receiver: Receiver, secrets: Mapping[str, str]
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver.name}
    for integration in receiver.integrations:
        if supported(integration, model.alertmanager_version):
            out.setdefault(AM_CONFIG_KEYS[type(integration)], []).append(
                _am_integration(model, receiver.name, integration, secrets)
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
    out: dict[str, Any] = {}
    if interval.weekdays:
        out["weekdays"] = list(interval.weekdays)
    if interval.times:
        out["times"] = [{"start_time": t.start, "end_time": t.end} for t in interval.times]
    for key, values in (
        ("days_of_month", interval.days_of_month),
        ("months", interval.months),
        ("years", interval.years),
    ):
        if values:
            out[key] = list(values)
    if interval.location:
        out["location"] = interval.location
    return out


def am_inhibit_rule(rule: InhibitRule) -> dict[str, Any]:
    return {
        "source_matchers": [m.render() for m in rule.source],
        "target_matchers": [m.render() for m in rule.target],
        **({"equal": list(rule.equal)} if rule.equal else {}),
    }


def legacy_secret_values(webhook_url: str | None, heartbeat_url: str | None) -> dict[str, str]:
    """The inline secrets of the legacy renderer arguments, by stack config key."""
    return {LEGACY_WEBHOOK_URL: webhook_url or "", LEGACY_HEARTBEAT_URL: heartbeat_url or ""}


def alertmanager_config(model: NotificationModel, secrets: Mapping[str, str]) -> dict[str, Any]:
    """alertmanager.yml as data. `secrets`: stack config key -> value, needed only for
    `inline_secret_keys(model)`."""
    config: dict[str, Any] = {
        "global": {"resolve_timeout": "5m"},
        "route": _am_route(model.route),
        "inhibit_rules": [am_inhibit_rule(rule) for rule in model.inhibit_rules],
        "receivers": [_am_receiver(model, r, secrets) for r in model.receivers],
    }
    if model.time_intervals:
        config["time_intervals"] = [
            {"name": t.name, "time_intervals": [_am_interval(i) for i in t.intervals]}
            for t in model.time_intervals
        ]
    return config


# --- Grafana (inputs of pulumiverse_grafana.alerting.*) ---------------------------------------


GrafanaKind = Literal[
    "slacks",
    "emails",
    "pagerduties",
    "webhooks",
    "discords",
    "telegrams",
    "opsgenies",
    "teams",
]


@dataclass(frozen=True)
class GrafanaIntegration:
    """One entry of a `ContactPoint` list argument (`kind`). `settings` are plain arguments;
    `secrets` maps an argument to the secret infra must pass as a Pulumi secret, by its stack
    config key (e.g. {"url": "slackApiUrl"})."""

    kind: GrafanaKind
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
    days_of_month: tuple[str, ...] = ()  # argument `days_of_months`
    months: tuple[str, ...] = ()
    years: tuple[str, ...] = ()


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
    secret = integration_secret(integration) or ""
    if isinstance(integration, Slack):
        settings: dict[str, Any] = {"title": _GRAFANA_TITLE, "text": _GRAFANA_TEXT}
        if integration.channel:
            settings["recipient"] = integration.channel
        return GrafanaIntegration("slacks", settings, {"url": secret})
    if isinstance(integration, Email):
        return GrafanaIntegration(
            "emails",
            {
                "addresses": list(integration.to),
                "subject": _GRAFANA_TITLE,
                "message": _GRAFANA_TEXT,
            },
            {},
        )
    if isinstance(integration, PagerDuty):
        return GrafanaIntegration(
            "pagerduties",
            {"summary": _GRAFANA_TITLE, "severity": "critical"},
            {"integration_key": secret},
        )
    if isinstance(integration, Webhook | Heartbeat):
        resolved = isinstance(integration, Webhook) and integration.send_resolved
        return GrafanaIntegration(
            "webhooks", {"disable_resolve_message": not resolved}, {"url": secret}
        )
    if isinstance(integration, Discord):
        return GrafanaIntegration(
            "discords", {"title": _GRAFANA_TITLE, "message": _GRAFANA_TEXT}, {"url": secret}
        )
    if isinstance(integration, Telegram):
        return GrafanaIntegration(
            "telegrams",
            {"chat_id": str(integration.chat_id), "message": _GRAFANA_TEXT},
            {"token": secret},
        )
    if isinstance(integration, OpsGenie):
        return GrafanaIntegration(
            "opsgenies",
            {"message": _GRAFANA_TITLE, "description": _GRAFANA_TEXT},
            {"api_key": secret},
        )
    return GrafanaIntegration(
        "teams", {"title": _GRAFANA_TITLE, "message": _GRAFANA_TEXT}, {"url": secret}
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


def grafana_model(model: NotificationModel) -> GrafanaNotificationModel:
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
                    i.days_of_month,
                    i.months,
                    i.years,
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
