"""The typed inputs of every renderer in `monitoring/` and `dashboards/` (no Pulumi here).

`infra/settings/stack.py` validates stack config and builds one `ContentSettings`; tests build
their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from monitoring.thirdparty.model import NO_COMPONENTS, Components
from monitoring.thresholds import AlertThresholds, ComponentThresholds, ServiceThresholds

if TYPE_CHECKING:  # services.py reads rules.py, which reads this module
    from monitoring.services import Service

if TYPE_CHECKING:  # both import this module
    from monitoring.notifications import Notifications
    from monitoring.tuning import AlertTuning


@dataclass(frozen=True)
class Market:
    code: str  # label value used everywhere: "kr", "us", ...
    name: str  # human name: "Korea (KRX)"
    calendar: str | None  # exchange_calendars code ("XKRX"); None: use `sessions`
    timezone: str  # IANA zone, e.g. "Asia/Seoul"
    sessions: tuple[str, ...] = ()  # "09:00-11:30" local time, used when calendar is None
    adapter_target: str | None = None  # "host:port" of the market adapter's /metrics, if any
    # Custom schedules only (with `sessions`): trading weekdays (Monday = 0), holidays
    # ("YYYY-MM-DD") and early closes (("YYYY-MM-DD", "HH:MM")), all local.
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    holidays: tuple[str, ...] = ()
    early_closes: tuple[tuple[str, str], ...] = ()


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
