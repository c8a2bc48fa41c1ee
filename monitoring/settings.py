"""The typed inputs of every renderer in `monitoring/` and `dashboards/` (no Pulumi here).

`infra/settings/stack.py` validates stack config and builds one `ContentSettings` (its `markets`
entries validate straight into `Market`); tests build their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple

from pydantic import ConfigDict, with_config
from pydantic.alias_generators import to_camel

from monitoring.thirdparty.model import NO_COMPONENTS, Components
from monitoring.thresholds import AlertThresholds, ComponentThresholds, ServiceThresholds
from validation import (
    WEEKDAYS,
    InvalidValue,
    check_date,
    check_host_port,
    check_timezone,
    check_weekday,
    close_minute,
    session_minutes,
)

if TYPE_CHECKING:  # services.py reads rules.py, which reads this module
    from monitoring.services import Service

if TYPE_CHECKING:  # both import this module
    from monitoring.notifications import Notifications
    from monitoring.tuning import AlertTuning


class EarlyClose(NamedTuple):
    date: str  # "YYYY-MM-DD", local
    close: str  # "HH:MM", local


# Market codes become label values, Grafana uids (`tm-market-<code>`, 40 characters at most)
# and interval names, so they stay short and plain.
MARKET_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,23}$")
MARKET_CODE_ALLOWED = "1 to 24 of a-z, 0-9 and '-', not starting with '-'"


@with_config(ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid"))
@dataclass(frozen=True)
class Market:
    """One market: the stack config's `markets[]` entry (camelCase keys) as the content reads it."""

    code: str  # label value used everywhere: "kr", "us", ...
    name: str  # human name: "Korea (KRX)"
    calendar: str | None  # any exchange_calendars name, "24/7" or "24/5"; None: `sessions`
    timezone: str  # IANA zone, e.g. "Asia/Seoul"
    sessions: tuple[str, ...] = ()  # "09:00-11:30" local time, used when calendar is None
    adapter_target: str | None = None  # "host:port" of the market adapter's /metrics, if any
    # Custom schedules only (with `sessions`): trading weekdays, holidays ("YYYY-MM-DD") and
    # early closes, all local.
    weekdays: tuple[str, ...] = WEEKDAYS[:5]
    holidays: tuple[str, ...] = ()
    early_closes: tuple[EarlyClose, ...] = ()

    def check(self) -> None:
        """Raise InvalidValue (key relative to the market, e.g. `timezone`) on a bad value."""
        from monitoring.market_hours import calendar_names  # exchange_calendars, when needed

        if not MARKET_CODE.match(self.code):
            raise InvalidValue("code", self.code, MARKET_CODE_ALLOWED)
        if not self.name.strip():
            raise InvalidValue("name", self.name, "a non-empty display name")
        if self.calendar is not None and self.calendar not in calendar_names():
            raise InvalidValue(
                "calendar", self.calendar, f"one of {', '.join(calendar_names())} or unset"
            )
        check_timezone("timezone", self.timezone)
        for session in self.sessions:
            session_minutes("sessions", session)
        if self.calendar is None and not self.sessions:
            raise InvalidValue("sessions", [], "at least one session when calendar is unset")
        for day in self.weekdays:
            check_weekday("weekdays", day)
        if not self.weekdays:
            raise InvalidValue("weekdays", [], "at least one of " + ", ".join(WEEKDAYS))
        for day in (*self.holidays, *(e.date for e in self.early_closes)):
            check_date("holidays/earlyCloses", day)
        for entry in self.early_closes:
            close_minute("earlyCloses", entry.close)
        custom = self.holidays or self.early_closes or self.weekdays != WEEKDAYS[:5]
        if self.calendar is not None and not self.sessions and custom:
            raise InvalidValue(
                "weekdays/holidays/earlyCloses",
                self.calendar,
                "only with `sessions` (a calendar brings its own holidays)",
            )
        if self.adapter_target is not None:
            check_host_port("adapterTarget", self.adapter_target)


@dataclass(frozen=True)
class Targets:
    """host:port of every scrape target, as Prometheus reaches it on the target platform."""

    prometheus: tuple[str, ...]
    alertmanagers: tuple[str, ...]
    exporter: tuple[str, ...]
    node_exporter: tuple[str, ...]
    cadvisor: tuple[str, ...]
    grafana: tuple[str, ...]
    loki: tuple[str, ...]
    alloy: tuple[str, ...]
    # (component type, instance name, host:port) of each declared component's exporter.
    components: tuple[tuple[str, str, str], ...] = ()
    # The blackbox exporter the `probe` job sends its /probe requests to (with `services`).
    blackbox: tuple[str, ...] = ()


@dataclass(frozen=True)
class Receivers:
    """Which notification channels exist. Secrets are never here: only where they are read from.

    Alertmanager reads Slack, PagerDuty and SMTP secrets from files under `secrets_dir`.
    Webhook and heartbeat URLs have no `*_file` field in Alertmanager 0.25, so they are passed
    to `render_alertmanager_config` separately and the rendered file is a secret as a whole.
    """

    slack_channel: str | None = None  # e.g. "#trading-alerts"; Slack enabled when set
    slack_critical_channel: str | None = None
    email_to: str | None = None  # email enabled when set
    email_from: str = "alertmanager@localhost"
    email_smarthost: str = "localhost:587"
    email_auth_username: str | None = None
    # Alertmanager refuses relays without STARTTLS unless this is False (local mail catchers).
    email_require_tls: bool = True
    pagerduty: bool = False  # routing key read from secrets_dir/pagerduty_routing_key
    webhook: bool = False  # generic webhook for all alerts
    heartbeat: bool = False  # dead man's switch URL that receives the Watchdog
    secrets_dir: str = "/etc/alertmanager/secrets"


@dataclass(frozen=True)
class ContentSettings:
    markets: tuple[Market, ...]
    targets: Targets
    receivers: Receivers = field(default_factory=Receivers)
    scrape_interval: str = "15s"
    scrape_timeout: str = "10s"
    evaluation_interval: str = "15s"
    retention_time: str = "15d"
    retention_size: str = "0"  # "0" = no size limit
    environment: str = "dev"  # external label `env`
    external_labels: tuple[tuple[str, str], ...] = ()
    replica_label: str | None = None  # set for HA Prometheus pairs; dropped from alerts
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"
    grafana_url: str = "http://localhost:3000"  # for dashboard links in annotations
    runbook_base_url: str = (
        "https://github.com/trading-monitoring/trading-monitoring/blob/main/docs/runbooks.md"
    )
    remote_write_url: str | None = None
    # remote_write credentials, read by Prometheus from files under `prometheus_secrets_dir`.
    remote_write_auth: Literal["none", "basic", "bearer"] = "none"
    remote_write_username: str | None = None
    prometheus_secrets_dir: str = "/etc/prometheus/secrets"
    rule_files_dir: str = "/etc/prometheus/rules"
    # "static": scrape `targets` as listed (Docker). "kubernetes": discover DaemonSet pods
    # (node-exporter, Alloy) and kubelet cAdvisor through kubernetes_sd_configs.
    discovery: Literal["static", "kubernetes"] = "static"
    kubernetes_namespace: str = "monitoring"
    node_exporter_namespace: str = "monitoring-node"
    # Alert thresholds, `for` durations and SLO objectives (monitoring/thresholds.py).
    thresholds: AlertThresholds = field(default_factory=AlertThresholds)
    # Kubernetes: skip TLS verification of kubelets whose serving certificate is not signed by
    # the cluster CA (kind, minikube). Prefer signed kubelet certificates.
    kubelet_insecure_skip_verify: bool = False
    # The bundled exporter (stack key `exporter.enabled`) and its metric families nobody
    # exposes (disabled collectors and metrics): rules, inhibitions and panels on them go.
    exporter_enabled: bool = True
    exporter_missing_families: tuple[str, ...] = ()
    # PostgreSQL, Redis and NGINX instances watched by their exporters (monitoring/thirdparty);
    # each needs its exporter's address in `targets.components`.
    components: Components = NO_COMPONENTS
    component_thresholds: ComponentThresholds = field(default_factory=ComponentThresholds)
    # The user's own services (stack config `services`, monitoring/services.py) and the levels
    # of their generated probe alerts and burn-rate windows.
    services: tuple[Service, ...] = ()
    service_thresholds: ServiceThresholds = field(default_factory=ServiceThresholds)
    # Named receivers and routes (`notifications`); None: the legacy `receivers` shorthand.
    notifications: Notifications | None = None
    # Per-alert tuning (`alerts.disabled`, `alerts.overrides`); None: every alert as defined.
    alerts: AlertTuning | None = None
