"""The interface between the target-independent content and a deployment target.

`infra/stack.py` renders everything once into a `RenderedContent`, hands it to one target
(`infra/docker` for dev, `infra/kubernetes` for prod) and gets a `TargetEndpoints` back, which
`infra/grafana.py` uses to configure Grafana through its API.

A target is a `pulumi.ComponentResource` built as
`Target(name, config=<StackConfig>, content=<RenderedContent>, opts=...)` that exposes
`.endpoints: TargetEndpoints` once constructed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi

from components import grafana as grafana_component
from components.model import Component
from monitoring.thirdparty.exporters import ExporterCommand

if TYPE_CHECKING:
    from monitoring.custom_files import CustomDashboard
from monitoring.settings import ContentSettings


@dataclass(frozen=True)
class GrafanaServerConfig:
    """How the Grafana server itself is configured (not its content, see infra/grafana.py).

    `env` holds only non-secret settings. The two secrets are delivered as files: mount
    every entry of `secret_files` at `components.grafana.SECRETS_DIR/<file name>` (admin_password,
    secret_key, and smtp_password when Grafana sends email); `env` already points Grafana at
    those paths (`GF_SECURITY_ADMIN_PASSWORD__FILE`, `GF_SECURITY_SECRET_KEY__FILE`, ...).
    """

    admin_user: str
    admin_password: pulumi.Output[str]  # secret (random.RandomPassword.result)
    secret_key: pulumi.Output[str]  # secret (random.RandomPassword.result)
    env: dict[str, str]
    image: str
    # More secret files in Grafana's secrets dir (file name -> content), e.g. smtp_password
    # when Grafana sends email; `env` already points at them (`GF_SMTP_PASSWORD__FILE`).
    extra_secret_files: dict[str, pulumi.Output[str]] = field(default_factory=dict)

    @property
    def secret_files(self) -> dict[str, pulumi.Output[str]]:
        """Every secret file to mount under the Grafana secrets dir: file name -> secret content."""
        return {
            grafana_component.ADMIN_PASSWORD_FILE: self.admin_password,
            grafana_component.SECRET_KEY_FILE: self.secret_key,
            **self.extra_secret_files,
        }

    @property
    def admin_password_path(self) -> str:
        return grafana_component.secret_path(grafana_component.ADMIN_PASSWORD_FILE)

    @property
    def secret_key_path(self) -> str:
        return grafana_component.secret_path(grafana_component.SECRET_KEY_FILE)


@dataclass(frozen=True)
class ComponentExporter:
    """One exporter container of a declared PostgreSQL, Redis or NGINX instance.

    `config_files` are mounted under `monitoring.thirdparty.exporters.CONFIG_DIR`,
    `secret_files` (secret Outputs) under `SECRETS_DIR`; `command.env` is never secret.
    """

    component: Component  # the instance's contract (`app` ends with the instance name)
    command: ExporterCommand
    config_files: dict[str, str] = field(default_factory=dict)
    secret_files: dict[str, pulumi.Output[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderedContent:
    """Everything a target deploys, rendered once from the validated stack config.

    Plain strings are not secret. Every `pulumi.Output` here is a secret: deliver it as a
    Secret (Kubernetes) or as a secret upload (Docker), never as an env var or ConfigMap.
    """

    settings: ContentSettings
    prometheus_yml: str
    prometheus_args: list[str]  # command-line flags for the Prometheus server
    rule_files: dict[str, str]  # file name -> YAML, mounted under settings.rule_files_dir
    alertmanager_yml: pulumi.Output[str]  # secret as a whole (webhook/heartbeat URLs inline)
    # file name -> content, mounted under settings.receivers.secrets_dir (all secret)
    alertmanager_secret_files: dict[str, pulumi.Output[str]]
    loki_yml: str
    alloy_config: str
    exporter_config_yml: str  # mounted at components.exporter.CONFIG_PATH
    # The blackbox exporter's modules (components.blackbox_exporter.CONFIG_PATH); None when no
    # service has probes, and then no blackbox exporter is deployed.
    blackbox_yml: str | None
    grafana: GrafanaServerConfig
    # One per declared component instance (trading-monitoring:components).
    component_exporters: tuple[ComponentExporter, ...] = ()
    # Every artifact a reviewer diffs, with placeholders instead of secrets (synth writes them).
    files_for_review: dict[str, str] = field(default_factory=dict)
    # The team's own dashboards (`dashboards.files`), for the "Custom" folder.
    custom_dashboards: tuple[CustomDashboard, ...] = ()


@dataclass(frozen=True)
class TargetEndpoints:
    """What a target returns once its services exist."""

    # URL the Grafana provider calls, reachable from where `pulumi up` runs.
    grafana_api_url: pulumi.Output[str]
    # URLs for people (stack outputs, dashboard links).
    grafana_url: pulumi.Output[str]
    prometheus_url: pulumi.Output[str]
    alertmanager_url: pulumi.Output[str]
    exporter_url: pulumi.Output[str] | None  # None: exporter.enabled is false
    # The healthy Grafana container / the ready Grafana Deployment; Grafana content waits on it.
    grafana_ready: pulumi.Resource
