"""Stack config `notifications` and `alerts`, validated into `Notifications` and `AlertTuning`.

Plain data in, typed data out, before anything is registered. Every problem is ONE line
naming the key, the value and what is allowed (`validation.InvalidValue`). Keys are camelCase like
the rest of the stack config; secrets are named by their stack config key and must be set
with `pulumi config set --secret`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from monitoring.alerts import all_rule_groups
from monitoring.notifications import (
    BLACKHOLE,
    INTEGRATION_SINCE,
    KIND_NAMES,
    MATCH_LABELS,
    Discord,
    Email,
    Heartbeat,
    Integration,
    MSTeams,
    Notifications,
    OpsGenie,
    PagerDuty,
    Receiver,
    Slack,
    Smtp,
    Telegram,
    Timings,
    UserRoute,
    Webhook,
    integration_secret,
)
from monitoring.rules import CATEGORIES, SEVERITIES, AlertRule, Severity
from monitoring.settings import ContentSettings
from monitoring.tuning import AlertOverride, AlertTuning
from validation import (
    InvalidValue,
    check_bool,
    check_duration,
    check_host_port,
    check_keys,
    check_text,
    check_unique,
)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_SECRET_KEY = re.compile(r"^[a-z][a-zA-Z0-9]{0,63}$")
_EMAIL = re.compile(r"^[^@\s,{}]+@[^@\s,{}]+$")  # no template braces
_SLACK_CHANNEL = re.compile(r"^[#@][a-z0-9][a-z0-9._-]{0,79}$")
OVERRIDE_SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")


def _duration(key: str, value: object, positive: bool = False) -> str | None:
    return None if value is None else check_duration(key, value, positive)


@dataclass(frozen=True)
class _Secrets:
    """Which stack config keys are set, and which of them as secrets."""

    secret: Collection[str] | None  # None: presence is checked where values are loaded
    plain: Collection[str]

    def check(self, key: str, value: object) -> str:
        name = check_text(
            key, value, _SECRET_KEY, "a stack config key name such as pagerdutyOncall"
        )
        if self.secret is None:
            return name
        if name in self.plain:
            raise InvalidValue(
                key, name, f"a key set as a secret: `pulumi config set --secret {name} <value>`"
            )
        if name not in self.secret:
            raise InvalidValue(
                key, name, f"a secret that is set: `pulumi config set --secret {name} <value>`"
            )
        return name


def _slack(key: str, raw: Mapping[str, Any], secrets: _Secrets) -> Integration:
    channel = raw.get("channel")
    if channel is not None:
        check_text(f"{key}.channel", channel, _SLACK_CHANNEL, 'a channel such as "#trading-alerts"')
    return Slack(secrets.check(f"{key}.urlSecret", raw.get("urlSecret")), channel)


def _email(key: str, raw: Mapping[str, Any], secrets: _Secrets) -> Integration:
    to = raw.get("to")
    addresses = [to] if isinstance(to, str) else to
    if not isinstance(addresses, list) or not addresses:
        raise InvalidValue(f"{key}.to", to, "a list of email addresses")
    for address in addresses:
        check_text(f"{key}.to", address, _EMAIL, "email addresses such as leads@example.com")
    return Email(tuple(addresses))


def _telegram(key: str, raw: Mapping[str, Any], secrets: _Secrets) -> Integration:
    chat_id = raw.get("chatId")
    # Alertmanager reads chat_id as an integer ("@channel" and quoted numbers fail).
    if not isinstance(chat_id, int) or isinstance(chat_id, bool) or chat_id == 0:
        raise InvalidValue(f"{key}.chatId", chat_id, "a non-zero integer chat id")
    return Telegram(secrets.check(f"{key}.tokenSecret", raw.get("tokenSecret")), chat_id)


def _webhook(key: str, raw: Mapping[str, Any], secrets: _Secrets) -> Integration:
    url = secrets.check(f"{key}.urlSecret", raw.get("urlSecret"))
    return Webhook(url, check_bool(f"{key}.sendResolved", raw.get("sendResolved"), True))


def _one_secret(
    cls: Callable[[str], Integration], field: str
) -> Callable[[str, Mapping[str, Any], _Secrets], Integration]:
    def parse(key: str, raw: Mapping[str, Any], secrets: _Secrets) -> Integration:
        return cls(secrets.check(f"{key}.{field}", raw.get(field)))

    return parse


_Parser = Callable[[str, Mapping[str, Any], _Secrets], Integration]
# kind -> (its keys, its parser)
KINDS: dict[str, tuple[tuple[str, ...], _Parser]] = {
    "slack": (("urlSecret", "channel"), _slack),
    "email": (("to",), _email),
    "pagerduty": (("routingKeySecret",), _one_secret(PagerDuty, "routingKeySecret")),
    "webhook": (("urlSecret", "sendResolved"), _webhook),
    "heartbeat": (("urlSecret",), _one_secret(Heartbeat, "urlSecret")),
    "discord": (("urlSecret",), _one_secret(Discord, "urlSecret")),
    "telegram": (("tokenSecret", "chatId"), _telegram),
    "opsgenie": (("apiKeySecret",), _one_secret(OpsGenie, "apiKeySecret")),
    "msteams": (("urlSecret",), _one_secret(MSTeams, "urlSecret")),
}
assert set(KINDS) == set(KIND_NAMES.values())


def _version_text(version: tuple[int, int]) -> str:
    return ".".join(map(str, version))


def _receiver(key: str, raw: object, secrets: _Secrets, version: tuple[int, int]) -> Receiver:
    body = check_keys(key, raw, ("name", *KINDS))
    name = check_text(
        f"{key}.name", body.get("name"), _NAME, "lowercase letters, digits, '-' and '_'"
    )
    if name == BLACKHOLE:
        raise InvalidValue(f"{key}.name", name, f"any name but {BLACKHOLE} (built in)")
    integrations: list[Integration] = []
    for kind, (keys, parse) in KINDS.items():
        entries = body.get(kind)
        if entries is None:
            continue
        for i, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            entry_key = f"{key}.{kind}" + (f"[{i}]" if isinstance(entries, list) else "")
            integration = parse(entry_key, check_keys(entry_key, entry, keys), secrets)
            since = INTEGRATION_SINCE.get(type(integration))
            if since is not None and version < since:
                raise InvalidValue(
                    entry_key,
                    dict(entry),
                    f"Alertmanager >= {_version_text(since)} (images.alertmanager is"
                    f" {_version_text(version)})",
                )
            integrations.append(integration)
    if not integrations:
        raise InvalidValue(key, dict(body), f"a name and one of {', '.join(KINDS)}")
    if any(isinstance(i, Heartbeat) for i in integrations) and not all(
        isinstance(i, Heartbeat) for i in integrations
    ):
        raise InvalidValue(
            key, name, "heartbeat alone in its receiver (it only receives the Watchdog)"
        )
    return Receiver(name, tuple(integrations))


def _timings(key: str, raw: Mapping[str, Any]) -> Timings:
    return Timings(
        group_wait=_duration(f"{key}.groupWait", raw.get("groupWait")),
        # Alertmanager refuses a zero group_interval or repeat_interval.
        group_interval=_duration(f"{key}.groupInterval", raw.get("groupInterval"), True),
        repeat_interval=_duration(f"{key}.repeatInterval", raw.get("repeatInterval"), True),
    )


_TIMING_KEYS = ("groupWait", "groupInterval", "repeatInterval")


def _match(
    key: str, raw: object, values_allowed: Mapping[str, Collection[str]]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    body = check_keys(key, raw, MATCH_LABELS)
    if not body:
        raise InvalidValue(key, dict(body), f"at least one of {', '.join(MATCH_LABELS)}")
    out: list[tuple[str, tuple[str, ...]]] = []
    for label, value in body.items():
        values = value if isinstance(value, list) else [value]
        allowed = values_allowed.get(label)
        for v in values:
            if not isinstance(v, str) or not v or (allowed is not None and v not in allowed):
                shown = f"one of {', '.join(allowed)}" if allowed else "a non-empty string"
                raise InvalidValue(f"{key}.{label}", v, f"{shown} (or a list of them)")
        if not values:
            raise InvalidValue(f"{key}.{label}", value, "a value or a non-empty list")
        out.append((label, tuple(values)))
    return tuple(out)


def _smtp(raw: object, secrets: _Secrets) -> Smtp:
    key = "notifications.smtp"
    if raw is None:
        return Smtp()
    body = check_keys(key, raw, ("from", "smarthost", "username", "passwordSecret", "requireTls"))
    defaults = Smtp()
    sender = body.get("from", defaults.sender)
    check_text(f"{key}.from", sender, _EMAIL, "an email address")
    smarthost = body.get("smarthost", defaults.smarthost)
    check_host_port(f"{key}.smarthost", smarthost, "host:port of the SMTP relay")
    username = body.get("username")
    if username is not None and (not isinstance(username, str) or not username.strip()):
        raise InvalidValue(f"{key}.username", username, "a non-empty name or unset")
    password = body.get("passwordSecret")
    if password is not None:
        password = secrets.check(f"{key}.passwordSecret", password)
        if username is None:
            raise InvalidValue(f"{key}.passwordSecret", password, "only with smtp.username")
    return Smtp(
        sender=sender,
        smarthost=smarthost,
        username=username,
        password_secret=password,
        require_tls=check_bool(f"{key}.requireTls", body.get("requireTls"), True),
    )


def parse_notifications(
    raw: object,
    settings: ContentSettings,
    secret_keys: Collection[str] | None,
    plain_keys: Collection[str] = (),
    alertmanager_version: tuple[int, int] = (0, 25),
    tuning: AlertTuning | None = None,
) -> Notifications:
    """`notifications` of the stack config. `secret_keys`: the keys set as secrets (None: not
    checked here); `plain_keys`: those set in plain text; `alertmanager_version`: of the
    deployed image."""
    secrets = _Secrets(secret_keys, plain_keys)
    body = check_keys("notifications", raw, ("receivers", "routes", "default", "smtp"))
    raw_receivers = body.get("receivers", [])
    if not isinstance(raw_receivers, list) or not raw_receivers:
        raise InvalidValue("notifications.receivers", raw_receivers, "a non-empty list")
    receivers = [
        _receiver(f"notifications.receivers[{i}]", r, secrets, alertmanager_version)
        for i, r in enumerate(raw_receivers)
    ]
    names = [r.name for r in receivers]
    check_unique("notifications.receivers.name", names, "receiver names")
    routable = [n for n, r in zip(names, receivers, strict=True) if not _heartbeat(r)]
    allowed_receivers = f"a receiver of notifications.receivers: {', '.join(routable)}"

    def receiver_name(key: str, value: object) -> str:
        if value not in routable and value != BLACKHOLE:
            raise InvalidValue(key, value, allowed_receivers + f" (or {BLACKHOLE})")
        return str(value)

    values_allowed: dict[str, Collection[str]] = {
        "severity": SEVERITIES,
        "category": CATEGORIES,
        "market": [m.code for m in settings.markets],
        "alertname": _alert_names(settings, tuning),
    }
    raw_routes = body.get("routes", [])
    if not isinstance(raw_routes, list):
        raise InvalidValue("notifications.routes", raw_routes, "a list of routes")
    routes: list[UserRoute] = []
    for i, raw_route in enumerate(raw_routes):
        key = f"notifications.routes[{i}]"
        route = check_keys(
            key,
            raw_route,
            ("match", "receiver", "continue", "muteWhenMarketClosed", *_TIMING_KEYS),
        )
        routes.append(
            UserRoute(
                match=_match(f"{key}.match", route.get("match"), values_allowed),
                receiver=receiver_name(f"{key}.receiver", route.get("receiver")),
                continue_=check_bool(f"{key}.continue", route.get("continue"), False),
                timings=_timings(key, route),
                mute_when_market_closed=check_bool(
                    f"{key}.muteWhenMarketClosed", route.get("muteWhenMarketClosed"), True
                ),
            )
        )
    default_keys = ("receiver", *_TIMING_KEYS)
    default = check_keys("notifications.default", body.get("default", {}), default_keys)
    default_receiver = default.get("receiver")
    if default_receiver is not None:
        default_receiver = receiver_name("notifications.default.receiver", default_receiver)
    return Notifications(
        receivers=tuple(receivers),
        routes=tuple(routes),
        default_receiver=default_receiver,
        default_timings=_timings("notifications.default", default),
        smtp=_smtp(body.get("smtp"), secrets),
        alertmanager_version=alertmanager_version,
    )


def _heartbeat(receiver: Receiver) -> bool:
    return all(isinstance(i, Heartbeat) for i in receiver.integrations)


def _alert_names(settings: ContentSettings, tuning: AlertTuning | None) -> list[str]:
    return sorted(
        {
            rule.name
            for group in all_rule_groups(settings, tuning)
            for rule in group.rules
            if isinstance(rule, AlertRule)
        }
    )


def parse_alerts(raw: object, settings: ContentSettings) -> AlertTuning:
    """`alerts` of the stack config: `disabled` (alert names) and `overrides`
    (alert name -> {for, severity})."""
    if raw is None:
        return AlertTuning()
    body = check_keys("alerts", raw, ("disabled", "overrides"))
    severities: dict[str, set[str]] = {}
    for group in all_rule_groups(settings):
        for rule in group.rules:
            if isinstance(rule, AlertRule):
                severities.setdefault(rule.name, set()).add(rule.severity)
    known = f"an alert of docs/alerts.md ({len(severities)} alerts, e.g. ExporterDown)"
    disabled = body.get("disabled", [])
    if not isinstance(disabled, list):
        raise InvalidValue("alerts.disabled", disabled, "a list of alert names")
    for name in disabled:
        if name not in severities:
            raise InvalidValue("alerts.disabled", name, known)
        if name == "Watchdog":
            raise InvalidValue(
                "alerts.disabled", name, "any alert but Watchdog (the heartbeat of the pipeline)"
            )
    raw_overrides = body.get("overrides", {})
    if not isinstance(raw_overrides, Mapping):
        raise InvalidValue("alerts.overrides", raw_overrides, "alert name -> {for, severity}")
    overrides: dict[str, AlertOverride] = {}
    for name, raw_override in raw_overrides.items():
        key = f"alerts.overrides.{name}"
        if name not in severities:
            raise InvalidValue("alerts.overrides", name, known)
        if name in disabled:
            raise InvalidValue(key, dict(raw_override), "no override of a disabled alert")
        override = check_keys(key, raw_override, ("for", "severity"))
        severity = override.get("severity")
        if severity is not None:
            if severity not in OVERRIDE_SEVERITIES:
                raise InvalidValue(
                    f"{key}.severity", severity, f"one of {', '.join(OVERRIDE_SEVERITIES)}"
                )
            if len(severities[name]) > 1:
                levels = " and ".join(sorted(severities[name]))
                raise InvalidValue(
                    f"{key}.severity",
                    severity,
                    f"only for alerts of one severity ({name} fires as {levels}:"
                    " tune its thresholds instead)",
                )
        overrides[name] = AlertOverride(
            for_=_duration(f"{key}.for", override.get("for")), severity=severity
        )
    return AlertTuning(frozenset(disabled), overrides)


def secret_keys_needed(notifications: Notifications) -> dict[str, str]:
    """Secret key -> the receiver that needs it (for infra's required-secrets check)."""
    needed: dict[str, str] = {}
    for receiver in notifications.receivers:
        for integration in receiver.integrations:
            key = integration_secret(integration)
            if key is not None:
                needed.setdefault(key, f"notifications.receivers.{receiver.name}")
    if notifications.smtp.password_secret:
        needed.setdefault(notifications.smtp.password_secret, "notifications.smtp")
    return needed


def alertmanager_version(image: str) -> tuple[int, int]:
    """(major, minor) of a pinned Alertmanager image "prom/alertmanager:v0.28.1"; a digest
    without a version tag counts as the newest known (0.28)."""
    match = re.search(r":v?(\d+)\.(\d+)", image.split("@")[0])
    return (int(match.group(1)), int(match.group(2))) if match else (0, 28)


def referenced_secret_keys(raw: object) -> set[str]:
    """Every `...Secret: <key>` value of a raw (unvalidated) `notifications`, JSON text or data:
    the stack config keys it names as secrets."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return set()
    found: set[str] = set()
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            if isinstance(key, str) and key.endswith("Secret") and isinstance(value, str):
                found.add(value)
            else:
                found |= referenced_secret_keys(value)
    elif isinstance(raw, list):
        for item in raw:
            found |= referenced_secret_keys(item)
    return found
