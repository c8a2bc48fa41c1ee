"""Stack config, read once into typed, validated objects (no resources are created here).

`load_stack_config()` reads every `trading-monitoring:*` key, rejects unknown keys and bad
values with ONE error that names the key, the value and what is allowed, and returns a
`StackConfig`. `content_settings(config)` turns it into the `ContentSettings` every renderer
reads, with the scrape targets of the chosen platform (Docker container names or Kubernetes
service DNS).

Secret keys (set with `pulumi config set --secret KEY VALUE`) are held as `SecretStr` and only
ever leave this module wrapped in `pulumi.Output.secret`. Error messages never show them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components import PORTS, THIRD_PARTY
from demo_service.config import service_entry as demo_service_entry
from exporter import catalog as exporter_catalog
from exporter.config import ConfigError as ExporterConfigError
from exporter.config import ExporterConfig
from exporter.config import parse_config as parse_exporter_config
from exporter.layout import COLLECTORS as EXPORTER_COLLECTORS
from infra.settings import kubernetes as k8s_settings
from infra.settings.base import (
    NAMESPACE,
    ConfigError,
    ConfigModel,
    format_validation_error,
    misplaced_key,
)
from infra.settings.docker import DockerSettings
from infra.settings.kubernetes import KubernetesSettings
from infra.settings.resources import retention_size_bytes
from monitoring.availability import collector_families
from monitoring.custom_files import CustomDashboard, load_dashboard_files, load_rule_files
from monitoring.notification_config import (
    alertmanager_version,
    parse_alerts,
    parse_notifications,
    referenced_secret_keys,
    secret_keys_needed,
)
from monitoring.notifications import legacy_notifications
from monitoring.render import check_settings
from monitoring.services import Service, parse_services
from monitoring.settings import ContentSettings, Market, Receivers, Targets
from monitoring.thirdparty.model import NO_COMPONENTS, Components
from monitoring.thresholds import AlertThresholds
from validation import (
    InvalidValue,
    check_duration,
    check_host_port,
    check_image_reference,
    check_unique,
    check_url,
    duration_seconds,
    url_port_ok,
)

# Secret keys of the common content; the Kubernetes target adds its own (registry, DSN).
SLACK_API_URL = "slackApiUrl"
PAGERDUTY_ROUTING_KEY = "pagerdutyRoutingKey"
SMTP_PASSWORD = "smtpPassword"
WEBHOOK_URL = "webhookUrl"
HEARTBEAT_URL = "heartbeatUrl"
EXPORTER_DATABASE_DSN = k8s_settings.EXPORTER_DSN_KEY
SECRET_KEYS: tuple[str, ...] = (
    SLACK_API_URL,
    PAGERDUTY_ROUTING_KEY,
    SMTP_PASSWORD,
    WEBHOOK_URL,
    HEARTBEAT_URL,
    *k8s_settings.SECRET_KEYS,
)

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Labels the stack sets itself: an external label of the same name would change routing,
# mute times, inhibition or grouping of every alert.
RESERVED_LABELS = (
    "env",
    "replica",
    "market",
    "severity",
    "category",
    "service",
    "team",
    "job",
    "instance",
    "alertname",
)
_EMAIL = re.compile(r"^[^@\s{}]+@[^@\s{}]+$")  # no template braces (Alertmanager's `to`)
_SLACK_CHANNEL = re.compile(r"^#[a-z0-9][a-z0-9._-]{0,79}$")
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
_ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


class ReceiversConfig(ConfigModel):
    """Which channels get alerts. Each enabled channel needs its secret key set."""

    slack_channel: str | None = None
    slack_critical_channel: str | None = None
    email_to: str | None = None
    email_from: str = "alertmanager@localhost"
    smtp_smarthost: str = "localhost:587"
    smtp_username: str | None = None
    smtp_require_tls: bool = True  # false only for a local mail catcher without STARTTLS
    pagerduty: bool = False
    webhook: bool = False
    heartbeat: bool = False

    @model_validator(mode="after")
    def _check(self) -> ReceiversConfig:
        for key, channel in (
            ("slackChannel", self.slack_channel),
            ("slackCriticalChannel", self.slack_critical_channel),
        ):
            if channel is not None and not _SLACK_CHANNEL.match(channel):
                raise InvalidValue(key, channel, 'a Slack channel such as "#trading-alerts"')
        if self.slack_critical_channel is not None and self.slack_channel is None:
            raise InvalidValue(
                "slackCriticalChannel", self.slack_critical_channel, "only with slackChannel set"
            )
        for key, address in (("emailTo", self.email_to), ("emailFrom", self.email_from)):
            if address is not None and not _EMAIL.match(address):
                raise InvalidValue(key, address, "an email address")
        check_host_port("smtpSmarthost", self.smtp_smarthost, "host:port of the SMTP relay")
        if self.smtp_username is not None and not self.smtp_username.strip():
            raise InvalidValue("smtpUsername", self.smtp_username, "a non-empty name or unset")
        return self

    def required_secrets(self) -> dict[str, str]:
        """secret key -> the receiver setting that needs it."""
        needed: dict[str, str] = {}
        if self.slack_channel is not None:
            needed[SLACK_API_URL] = "receivers.slackChannel"
        if self.pagerduty:
            needed[PAGERDUTY_ROUTING_KEY] = "receivers.pagerduty"
        if self.email_to is not None and self.smtp_username is not None:
            needed[SMTP_PASSWORD] = "receivers.smtpUsername"
        if self.webhook:
            needed[WEBHOOK_URL] = "receivers.webhook"
        if self.heartbeat:
            needed[HEARTBEAT_URL] = "receivers.heartbeat"
        return needed


class ImagesConfig(ConfigModel):
    """Every image, pinned by tag (never `latest`) or by digest."""

    prometheus: str = "prom/prometheus:v3.5.0"
    alertmanager: str = "prom/alertmanager:v0.28.1"
    grafana: str = "grafana/grafana:11.6.16"  # the latest 11.6.x security release
    loki: str = "grafana/loki:3.4.2"
    alloy: str = "grafana/alloy:v1.9.2"
    node_exporter: str = "prom/node-exporter:v1.9.1"
    cadvisor: str = "ghcr.io/google/cadvisor:v0.57.0"  # >= v0.54 for Docker 29
    blackbox_exporter: str = "prom/blackbox-exporter:v0.25.0"  # with `services` probes
    # Kubernetes only: authenticates scrapes of node-exporter (as kube-prometheus does).
    kube_rbac_proxy: str = "quay.io/brancz/kube-rbac-proxy:v0.22.1"
    kube_state_metrics: str = (  # Kubernetes only
        "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0"
    )
    python_base: str = "python:3.11.14-slim-bookworm"  # base image of the exporter build
    # Standard components (one container per declared instance). Proven live against Debian's
    # postgres_exporter 0.11.1, redis_exporter 1.45.0 and nginx exporter 0.11.0 (README).
    postgres_exporter: str = "quay.io/prometheuscommunity/postgres-exporter:v0.17.1"
    redis_exporter: str = "oliver006/redis_exporter:v1.91.1-alpine"  # -alpine: wget for the probe
    nginx_exporter: str = "nginx/nginx-prometheus-exporter:1.4.2"

    @model_validator(mode="after")
    def _check(self) -> ImagesConfig:
        for field_name in type(self).model_fields:
            check_image_reference(to_camel(field_name), getattr(self, field_name))
        return self


# The project directory (Pulumi.yaml): `rules.files` and `dashboards.files` are relative to it.
PROJECT_DIR = Path(__file__).resolve().parents[2]


class FilesConfig(ConfigModel):
    """`rules` / `dashboards`: the team's own files, paths relative to the project directory."""

    files: list[str] = Field(default_factory=list)


class StackConfig(ConfigModel):
    """Every non-secret key of a stack, validated."""

    target: Literal["docker", "kubernetes"]
    environment: str
    markets: tuple[Market, ...]  # validated straight into the content's type
    scrape_interval: str = "15s"
    scrape_timeout: str = "10s"
    evaluation_interval: str = "15s"
    retention_time: str = "15d"
    retention_size: str = "0"
    log_retention_time: str = "168h"  # Loki compactor retention
    receivers: ReceiversConfig = Field(default_factory=ReceiversConfig)
    # Named receivers, routes and the default route (validated by
    # monitoring/notification_config.py); `receivers` is its shorthand.
    notifications: dict[str, Any] | None = None
    # Per-alert tuning: {disabled: [AlertName], overrides: {AlertName: {for, severity}}}.
    alerts: dict[str, Any] | None = None
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    grafana_admin_user: str = "tm-admin"
    external_labels: dict[str, str] = Field(default_factory=dict)
    # Overrides of monitoring.thresholds.AlertThresholds, keyed by camelCase field name
    # (types checked by alert_thresholds, ranges by check_settings).
    thresholds: dict[str, Any] = Field(default_factory=dict)
    runbook_base_url: str = (
        "https://github.com/trading-monitoring/trading-monitoring/blob/main/docs/runbooks.md"
    )
    # PostgreSQL, Redis and NGINX to watch (README "Databases, caches and proxies").
    components: Components = Field(default_factory=Components)
    docker: DockerSettings | None = None
    kubernetes: KubernetesSettings | None = None
    # The bundled exporter: `enabled` plus the exporter's own config keys (metrics, collectors,
    # endpoints, histogram_buckets, max_strategies, refresh_interval, timeout, reconcile, tables
    # (e.g. the watermark column of your schema's tables)), checked by the exporter's config
    # model. Its markets come from `markets`.
    exporter: dict[str, Any] = Field(default_factory=dict)
    # The user's own services: scrape, probe, SLOs, alerts, dashboards (README "Monitor your
    # services"); validated by monitoring/services.py.
    services: list[Any] = Field(default_factory=list)
    # The team's own Prometheus rule files and Grafana dashboard JSON files (folder "Custom"),
    # checked by monitoring/custom_files.py (promql-parser, promtool, the dashboard model).
    rules: FilesConfig = Field(default_factory=FilesConfig)
    dashboards: FilesConfig = Field(default_factory=FilesConfig)

    @field_validator("markets", mode="before")
    @classmethod
    def _calendar_optional(cls, value: Any) -> Any:
        """`calendar` may be left out (a custom schedule); the content's Market names it."""
        if not isinstance(value, list | tuple):
            return value
        return tuple({"calendar": None, **m} if isinstance(m, dict) else m for m in value)

    @field_validator("markets")
    @classmethod
    def _markets(cls, markets: tuple[Market, ...]) -> tuple[Market, ...]:
        for index, market in enumerate(markets):
            try:
                market.check()
            except InvalidValue as error:
                raise error.at(str(index)) from None
        return markets

    @field_validator("scrape_interval", "scrape_timeout", "evaluation_interval", "retention_time")
    @classmethod
    def _durations(cls, value: str, info: Any) -> str:
        # The error location already names the key. 0 would make Prometheus' tickers panic
        # (scrape, evaluation) or mean "the default" (retention).
        return check_duration("", value, positive=True)

    @model_validator(mode="after")
    def _check(self) -> StackConfig:
        if not _ENVIRONMENT.match(self.environment):
            raise InvalidValue("environment", self.environment, "lowercase letters, digits, '-'")
        if not self.markets:
            raise InvalidValue("markets", [], "at least one market")
        check_unique("markets", (m.code for m in self.markets), "market codes")
        _ = self.user_services  # every `services` value is checked here
        _ = self.custom_rule_files, self.custom_dashboards  # and every file they name
        if not re.match(r"^\d+h$", self.log_retention_time) or self.log_retention_time == "0h":
            raise InvalidValue(
                "logRetentionTime", self.log_retention_time, 'whole hours, e.g. "168h" (>= 24h)'
            )
        if int(self.log_retention_time[:-1]) < 24:
            raise InvalidValue("logRetentionTime", self.log_retention_time, "at least 24h")
        duration_seconds("logRetentionTime", self.log_retention_time)  # Loki's time.Duration
        size = retention_size_bytes(self.retention_size)
        if size is None or size > 2**60:
            raise InvalidValue(
                "retentionSize",
                self.retention_size,
                '"0" (no limit) or a size such as "20GB", at most 1EB',
            )
        if duration_seconds("scrapeTimeout", self.scrape_timeout) > duration_seconds(
            "scrapeInterval", self.scrape_interval
        ):
            raise InvalidValue(
                "scrapeTimeout", self.scrape_timeout, f"<= scrapeInterval ({self.scrape_interval})"
            )
        if not _USER.match(self.grafana_admin_user) or self.grafana_admin_user.lower() == "admin":
            raise InvalidValue(
                "grafanaAdminUser",
                self.grafana_admin_user,
                "3-64 letters/digits/._- and not 'admin' (the name every scanner tries)",
            )
        check_url("runbookBaseUrl", self.runbook_base_url)
        if self.target == "kubernetes" and self.kubernetes is None:
            raise InvalidValue("kubernetes", None, "an object when target is kubernetes")
        # The other target's block would be ignored as a whole (a prod file with
        # `target: docker` would deploy none of its `kubernetes` settings).
        other = {"docker": self.kubernetes, "kubernetes": self.docker}[self.target]
        if other is not None:
            block = "kubernetes" if self.target == "docker" else "docker"
            raise InvalidValue(
                block, "(set)", f"unset when target is {self.target!r} (it would be ignored)"
            )
        if self.kubernetes is not None:
            self.kubernetes.check_retention_size(self.retention_size)
        for label, value in self.external_labels.items():
            if not _LABEL_NAME.match(label) or label in RESERVED_LABELS or label.startswith("__"):
                raise InvalidValue(
                    f"externalLabels.{label}",
                    value,
                    "label names [a-zA-Z_][a-zA-Z0-9_]* other than "
                    + ", ".join(RESERVED_LABELS)
                    + " and __* (they route, mute and group alerts)",
                )
        self.alert_thresholds()  # unknown keys and wrong types fail here
        self.exporter_config()
        if self.notifications is not None and "receivers" in self.model_fields_set:
            raise InvalidValue(
                "receivers",
                "(set)",
                "unset when notifications is set (receivers.* is its shorthand; README"
                ' "Notifications" shows the same receivers as notifications.receivers)',
            )
        return self

    @property
    def exporter_enabled(self) -> bool:
        return self.exporter.get("enabled", True) is not False

    def exporter_config(self) -> ExporterConfig:
        """The `exporter` section through the exporter's own config model (its markets are
        added when exporter.yml is rendered)."""
        enabled = self.exporter.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidValue("exporter.enabled", enabled, "true or false")
        own = {k: v for k, v in self.exporter.items() if k != "enabled"}
        if "markets" in own:
            raise InvalidValue(
                "exporter.markets", own["markets"], "unset: markets come from `markets`"
            )
        try:
            return parse_exporter_config(own)
        except ExporterConfigError as exc:
            raise InvalidValue(f"exporter.{exc.key}", exc.value, exc.allowed) from None

    def missing_exporter_families(self) -> tuple[str, ...]:
        """Exporter metric families nobody exposes: every one when the exporter is off, else
        those of disabled collectors and metrics."""
        if not self.exporter_enabled:
            return tuple(spec.name for spec in exporter_catalog.ALL)
        config = self.exporter_config()
        missing = [
            family
            for collector in EXPORTER_COLLECTORS
            if not config.collector(collector).enabled
            for family in collector_families(collector)
        ]
        missing += [name for name, metric in config.metrics.items() if not metric.enabled]
        return tuple(sorted(set(missing)))

    def alert_thresholds(self) -> AlertThresholds:
        """The defaults with `thresholds` applied; ranges are checked by check_settings."""
        defaults = AlertThresholds()
        fields = {to_camel(name): name for name in AlertThresholds.__dataclass_fields__}
        overrides: dict[str, float | int | str] = {}
        for key, value in self.thresholds.items():
            if key not in fields:
                raise InvalidValue(f"thresholds.{key}", value, f"one of {sorted(fields)}")
            default = getattr(defaults, fields[key])
            if isinstance(default, str):
                if not isinstance(value, str):
                    raise InvalidValue(f"thresholds.{key}", value, 'a duration such as "5m"')
                overrides[fields[key]] = value
            else:
                # Types only (no coercion from strings or booleans, no truncation of 1800.9);
                # ranges: check_settings.
                integer = isinstance(default, int)
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not math.isfinite(value)
                    or (integer and value != int(value))
                ):
                    allowed = "a whole number" if integer else "a finite number"
                    raise InvalidValue(f"thresholds.{key}", value, allowed)
                overrides[fields[key]] = int(value) if integer else float(value)
        return dataclasses.replace(defaults, **overrides)  # type: ignore[arg-type]

    @cached_property
    def custom_rule_files(self) -> dict[str, str]:
        return load_rule_files(self.rules.files, PROJECT_DIR)

    @cached_property
    def custom_dashboards(self) -> tuple[CustomDashboard, ...]:
        return tuple(load_dashboard_files(self.dashboards.files, PROJECT_DIR))

    @cached_property
    def user_services(self) -> tuple[Service, ...]:
        return parse_services(self.services, [m.code for m in self.markets])

    @cached_property
    def content(self) -> ContentSettings:
        """The renderers' input, derived once (see `content_settings`)."""
        return content_settings(self)

    @property
    def docker_settings(self) -> DockerSettings:
        """The Docker settings (defaults when the `docker` key is unset)."""
        return self.docker if self.docker is not None else DockerSettings()


class StackSecrets(BaseModel):
    """The secret keys that are set. `SecretStr` keeps them out of repr and logs."""

    model_config = ConfigDict(frozen=True)

    values: dict[str, SecretStr] = Field(default_factory=dict)

    def get(self, key: str) -> SecretStr | None:
        return self.values.get(key)

    def has(self, key: str) -> bool:
        return key in self.values


# Keys whose value is a structured object/list (JSON in the raw config map).
_STRUCTURED = (
    "markets",
    "receivers",
    "notifications",
    "alerts",
    "images",
    "docker",
    "kubernetes",
    "externalLabels",
    "thresholds",
    "exporter",
    "components",
    "services",
    "rules",
    "dashboards",
)
_KNOWN_KEYS: tuple[str, ...] = tuple(
    sorted(
        {(info.alias or name) for name, info in StackConfig.model_fields.items()} | set(SECRET_KEYS)
    )
)


def raw_stack_config() -> tuple[dict[str, str], set[str]]:
    """This program's keys (without namespace) from the Pulumi runtime, and which are secret."""
    from infra import pulumi_runtime  # the Pulumi SDK only where the runtime is read

    prefix = f"{NAMESPACE}:"
    values = {
        full_key[len(prefix) :]: value
        for full_key, value in pulumi_runtime.config_items().items()
        if full_key.startswith(prefix)
    }
    secret = {key for key in values if pulumi_runtime.is_secret_config(prefix + key)}
    return values, secret


def misplaced_runtime_keys() -> list[str]:
    """One line per config key of the Pulumi runtime that looks meant for this program but
    that nothing reads (a namespace such as `trading-monitorng:`)."""
    from infra import pulumi_runtime

    problems = []
    for full_key, value in sorted(pulumi_runtime.config_items().items()):
        shown = "[secret]" if pulumi_runtime.is_secret_config(full_key) else value
        problem = misplaced_key(full_key, shown)
        if problem is not None:
            problems.append(problem)
    return problems


KUBECONFIG_SECRET_HINT = (
    "a kubeconfig file path, or its contents as a secret: "
    '`pulumi config set --secret --path kubernetes.kubeconfig "$(cat FILE)"`'
)


def _plain_inline_kubeconfig(raw: Mapping[str, str], secret_keys: set[str]) -> str | None:
    """An inline kubeconfig (credentials) in plain config is refused; a path or a secret is not."""
    if "kubernetes" not in raw or "kubernetes" in secret_keys:
        return None
    try:
        document = json.loads(raw["kubernetes"])
    except (json.JSONDecodeError, TypeError):
        return None
    kubeconfig = document.get("kubeconfig") if isinstance(document, dict) else None
    if isinstance(kubeconfig, str) and ("\n" in kubeconfig or "apiVersion" in kubeconfig):
        return (
            f"{NAMESPACE}:kubernetes.kubeconfig = '[inline kubeconfig]' is invalid: allowed "
            + KUBECONFIG_SECRET_HINT
        )
    return None


def load_stack_config(
    raw: Mapping[str, str] | None = None,
    placeholder: Callable[[str], str] | None = None,
) -> tuple[StackConfig, StackSecrets]:
    """Validate the stack config (the Pulumi runtime's, or `raw`: key without namespace -> str).

    Raises ConfigError with one line per problem. `placeholder` (synth only) stands in for
    required secrets that are not set. Reading the runtime's config, a secret key stored in
    plain text (set without `--secret`, so readable in Pulumi.<stack>.yaml) is an error.
    """
    problems: list[str] = []
    from_runtime = raw is None
    secret_keys: set[str] = set()
    if raw is None:
        raw, secret_keys = raw_stack_config()
    # Secrets that `components` and `notifications` name are keys of this stack too.
    named = _named_secret_keys(raw)
    all_secret_keys = (
        *SECRET_KEYS,
        *sorted(named | referenced_secret_keys(raw.get("notifications"))),
    )
    if from_runtime:
        problems += misplaced_runtime_keys()
        problem = _plain_inline_kubeconfig(raw, secret_keys)
        if problem:
            problems.append(problem)
        for key in sorted(set(raw) & set(all_secret_keys) - secret_keys):
            problems.append(
                f"{NAMESPACE}:{key} = '[secret]' is stored in plain text: allowed only as a "
                f"secret; remove it from Pulumi.<stack>.yaml and run "
                f"`pulumi config set --secret {key} <value>`"
            )
    unknown = sorted(set(raw) - set(_KNOWN_KEYS) - set(all_secret_keys))
    for key in unknown:
        shown = "[secret]" if key in all_secret_keys or key in secret_keys else raw[key]
        problems.append(
            f"{NAMESPACE}:{key} = {shown!r} is not a known key: allowed keys are "
            + ", ".join(_KNOWN_KEYS)
        )
    document: dict[str, Any] = {}
    for key, value in raw.items():
        if key in all_secret_keys or key in unknown:
            continue
        if key in _STRUCTURED:
            if value in ("", "null"):  # `key: null` in the stack file: unset (the default)
                continue
            try:
                document[key] = json.loads(value) if isinstance(value, str) else value
            except json.JSONDecodeError:
                problems.append(
                    f"{NAMESPACE}:{key} = {value!r} is invalid: allowed a YAML object or list "
                    "(set it in Pulumi.<stack>.yaml or with `pulumi config set --path`)"
                )
        else:
            document[key] = value
    if problems:
        raise ConfigError("\n".join(problems))
    try:
        # Strict, from JSON (what the Pulumi CLI hands over): no coercion of "yes" to true,
        # "3000" to 3000 or 1800.9 to 1800; JSON arrays are the models' tuples.
        config = StackConfig.model_validate_json(json.dumps(document))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, StackConfig)) from None
    for secret_key, setting in config.components.password_secrets().items():
        if secret_key in _KNOWN_KEYS:
            problems.append(
                f"{NAMESPACE}:{setting} = {secret_key!r} is invalid: allowed a key name of its"
                " own (not one of the product's keys)"
            )
    if problems:
        raise ConfigError("\n".join(problems))
    try:  # what the renderers would refuse, reported now rather than mid-deployment
        check_settings(config.content)
    except ValueError as error:
        message = re.sub(
            r"\bthresholds\.(\w+)", lambda m: f"thresholds.{to_camel(m[1])}", str(error)
        )
        raise ConfigError(f"{NAMESPACE}:{message}") from None
    secrets = _load_secrets(raw, config, placeholder, all_secret_keys)
    return config, secrets


def _named_secret_keys(raw: Mapping[str, str]) -> set[str]:
    """The secret keys `components` names (`passwordSecret`), read before validation so that
    they are neither unknown keys nor plain config; the model validates the names."""
    value: Any = raw.get("components", {})
    try:
        document = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return set()
    if not isinstance(document, dict):
        return set()
    names = set()
    for kind in ("postgres", "redis"):
        entries = document.get(kind)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("passwordSecret"), str):
                names.add(entry["passwordSecret"])
    return names - set(_KNOWN_KEYS)


def required_secret_keys(config: StackConfig) -> dict[str, str]:
    """secret key -> the setting that requires it."""
    needed = (
        secret_keys_needed(config.content.notifications)
        if config.notifications is not None and config.content.notifications is not None
        else config.receivers.required_secrets()
    )
    needed.update(config.components.password_secrets())
    if not config.exporter_enabled:  # no exporter image to push, no database to read
        return needed
    if config.target == "kubernetes" and config.kubernetes is not None:
        needed[k8s_settings.REGISTRY_PASSWORD_KEY] = "kubernetes.registry"
        if config.kubernetes.exporter_database.mode == "dsn":
            needed[EXPORTER_DATABASE_DSN] = "kubernetes.exporterDatabase.mode = 'dsn'"
        auth = config.kubernetes.remote_write_auth
        if auth == "basic":
            needed[k8s_settings.REMOTE_WRITE_PASSWORD_KEY] = "kubernetes.remoteWriteAuth = 'basic'"
        elif auth == "bearer":
            needed[k8s_settings.REMOTE_WRITE_TOKEN_KEY] = "kubernetes.remoteWriteAuth = 'bearer'"
    if config.target == "docker" and not config.docker_settings.exporter_demo_database:
        needed[EXPORTER_DATABASE_DSN] = "docker.exporterDemoDatabase = false"
    return needed


def placeholder_secret(key: str) -> str:
    """A stand-in for secret `key` that passes validation (synth and reviews, never deploys)."""
    if key == PAGERDUTY_ROUTING_KEY:
        return "placeholder0pagerduty0routing0key"
    if key == EXPORTER_DATABASE_DSN:
        return "postgresql://placeholder@secret.invalid/trading"
    if key in (SLACK_API_URL, WEBHOOK_URL, HEARTBEAT_URL):
        return f"https://secret.invalid/{key}"
    return f"placeholder-{key}"


def _load_secrets(
    raw: Mapping[str, str],
    config: StackConfig,
    placeholder: Callable[[str], str] | None,
    keys: tuple[str, ...] = SECRET_KEYS,
) -> StackSecrets:
    problems: list[str] = []
    values: dict[str, SecretStr] = {}
    named = config.components.password_secrets()
    for key in dict.fromkeys((*keys, *named)):
        value = raw.get(key)
        if value is None or value == "":
            continue
        allowed = _check_secret(key, value) if key in SECRET_KEYS else None
        if allowed is not None:
            problems.append(f"{NAMESPACE}:{key} = '[secret]' is invalid: allowed {allowed}")
        values[key] = SecretStr(value)
    for key, needed_by in required_secret_keys(config).items():
        if key in values:
            continue
        if placeholder is not None:
            values[key] = SecretStr(placeholder(key))
            continue
        problems.append(
            f"{NAMESPACE}:{key} is not set: required by {needed_by}; set it with "
            f"`pulumi config set --secret {key} <value>`"
        )
    if problems:
        raise ConfigError("\n".join(problems))
    return StackSecrets(values=values)


def _check_secret(key: str, value: str) -> str | None:
    """None when valid, else what is allowed (the value itself is never echoed)."""
    if any(ch.isspace() for ch in value):
        return "a value without whitespace"
    if key in (SLACK_API_URL, WEBHOOK_URL, HEARTBEAT_URL):
        parsed = urlparse(value)
        if parsed.scheme != "https" or not parsed.hostname or not url_port_ok(value):
            return "an https:// URL with a host (and a port 1-65535, if any)"
    if key == PAGERDUTY_ROUTING_KEY and not re.match(r"^[A-Za-z0-9]{20,64}$", value):
        return "a PagerDuty Events v2 routing key (20-64 letters/digits)"
    return None


def content_settings(config: StackConfig) -> ContentSettings:
    """The renderers' input, with the scrape targets of the chosen platform."""
    receivers = config.receivers
    if config.target == "kubernetes":
        assert config.kubernetes is not None  # checked by StackConfig
        targets = kubernetes_targets(config.kubernetes, config.components)
        discovery: Literal["static", "kubernetes"] = "kubernetes"
        grafana_url = config.kubernetes.grafana_provider_url()
        namespace = config.kubernetes.namespace
        node_namespace = config.kubernetes.node_exporter_namespace
        replica_label = "replica" if config.kubernetes.replicas.prometheus > 1 else None
        remote_write = config.kubernetes.remote_write_url
        remote_write_auth = config.kubernetes.remote_write_auth
        remote_write_username = config.kubernetes.remote_write_username
        insecure_kubelet = config.kubernetes.kubelet_insecure_skip_verify
    else:
        targets = docker_targets(config.docker_settings, config.components)
        discovery = "static"
        grafana_url = f"http://127.0.0.1:{config.docker_settings.ports.grafana}"
        namespace, node_namespace = "monitoring", "monitoring-node"
        replica_label, remote_write = None, None
        remote_write_auth, remote_write_username = "none", None
        insecure_kubelet = False
    services = config.user_services
    docker = config.docker_settings
    if (
        config.target == "docker"
        and config.exporter_enabled
        and docker.exporter_demo_database
        and docker.exporter_database_path is None
    ):
        services = demo_services(config) + services
        check_unique("services[].name", (s.name for s in services), "names (demo-api is dev's)")
    settings = ContentSettings(
        markets=config.markets,
        targets=targets,
        receivers=Receivers(
            slack_channel=receivers.slack_channel,
            slack_critical_channel=receivers.slack_critical_channel,
            email_to=receivers.email_to,
            email_from=receivers.email_from,
            email_smarthost=receivers.smtp_smarthost,
            email_auth_username=receivers.smtp_username,
            email_require_tls=receivers.smtp_require_tls,
            pagerduty=receivers.pagerduty,
            webhook=receivers.webhook,
            heartbeat=receivers.heartbeat,
        ),
        scrape_interval=config.scrape_interval,
        scrape_timeout=config.scrape_timeout,
        evaluation_interval=config.evaluation_interval,
        retention_time=config.retention_time,
        retention_size=config.retention_size,
        environment=config.environment,
        external_labels=tuple(sorted(config.external_labels.items())),
        thresholds=config.alert_thresholds(),
        kubelet_insecure_skip_verify=insecure_kubelet,
        replica_label=replica_label,
        grafana_url=grafana_url,
        runbook_base_url=config.runbook_base_url,
        remote_write_url=remote_write,
        remote_write_auth=remote_write_auth,
        remote_write_username=remote_write_username,
        discovery=discovery,
        kubernetes_namespace=namespace,
        node_exporter_namespace=node_namespace,
        exporter_enabled=config.exporter_enabled,
        exporter_missing_families=config.missing_exporter_families(),
        components=config.components,
        services=services,
    )
    # Receivers and routes, for the deployed Alertmanager version (its `*_file` fields).
    version = alertmanager_version(config.images.alertmanager)
    tuning = parse_alerts(config.alerts, settings) if config.alerts is not None else None
    notifications = (
        parse_notifications(config.notifications, settings, None, (), version, tuning)
        if config.notifications is not None
        else dataclasses.replace(
            legacy_notifications(settings.receivers), alertmanager_version=version
        )
    )
    return dataclasses.replace(settings, notifications=notifications, alerts=tuning)


def component_targets(
    components: Components, host: Callable[[str], str]
) -> tuple[tuple[str, str, str], ...]:
    """(type, name, host:port) of each declared instance's exporter; `host(app)` is how
    Prometheus reaches the container or Service named after the instance's `app`."""
    return tuple(
        (kind, instance.name, f"{host(THIRD_PARTY[kind].instance(instance.name).app)}:{port}")
        for kind in components.kinds
        for port in (THIRD_PARTY[kind].port,)
        for instance in components.of(kind)
    )


def demo_services(config: StackConfig) -> tuple[Service, ...]:
    """Dev's demo service (on the stack network), declared like any user service."""
    host = f"{config.docker_settings.name_prefix}-demo-service:{PORTS['demo_service']}"
    entry = demo_service_entry(host, f"http://{host}/health", config.markets[0].code)
    return parse_services([entry], [m.code for m in config.markets])


def docker_targets(docker: DockerSettings, components: Components = NO_COMPONENTS) -> Targets:
    """Container names on the stack's Docker network (each container's network alias)."""
    prefix = docker.name_prefix

    def one(service: str) -> tuple[str, ...]:
        return (f"{prefix}-{service.replace('_', '-')}:{PORTS[service]}",)

    return Targets(
        prometheus=one("prometheus"),
        alertmanagers=one("alertmanager"),
        exporter=one("exporter"),
        node_exporter=one("node_exporter"),
        cadvisor=one("cadvisor"),
        grafana=one("grafana"),
        loki=one("loki"),
        alloy=one("alloy"),
        components=component_targets(components, lambda app: f"{prefix}-{app}"),
        blackbox=one("blackbox_exporter"),
    )


def kubernetes_targets(k8s: KubernetesSettings, components: Components = NO_COMPONENTS) -> Targets:
    """Service DNS names. Prometheus and Alertmanager are StatefulSets named `prometheus` and
    `alertmanager` whose governing headless Service has the same name, so each pod is
    `<name>-<i>.<name>.<namespace>.svc.<domain>`. node-exporter, Alloy and cAdvisor are
    discovered (ContentSettings.discovery = "kubernetes"); their entries are the Services."""

    def service(name: str, port_key: str) -> tuple[str, ...]:
        return (f"{k8s.service_host(name)}:{PORTS[port_key]}",)

    def pods(name: str, count: int) -> tuple[str, ...]:
        return tuple(f"{name}-{i}.{k8s.service_host(name)}:{PORTS[name]}" for i in range(count))

    node_host = f"node-exporter.{k8s.node_exporter_namespace}.svc.{k8s.cluster_domain}"
    return Targets(
        prometheus=pods("prometheus", k8s.replicas.prometheus),
        alertmanagers=pods("alertmanager", k8s.replicas.alertmanager),
        exporter=service("exporter", "exporter"),
        node_exporter=(f"{node_host}:{PORTS['node_exporter']}",),
        cadvisor=(),
        grafana=service("grafana", "grafana"),
        loki=service("loki", "loki"),
        alloy=service("alloy", "alloy"),
        components=component_targets(components, k8s.service_host),
        blackbox=service("blackbox-exporter", "blackbox_exporter"),
    )
