"""The interface between the target-independent content and a deployment target.

`infra/stack.py` renders everything once into a `RenderedContent`, hands it to one target
(`infra/docker` for dev, `infra/kubernetes` for prod) and gets a `TargetEndpoints` back, which
`infra/grafana.py` uses to configure Grafana through its API.

A target is a `pulumi.ComponentResource` built as
`Target(name, config=<StackConfig>, content=<RenderedContent>, opts=...)` that exposes
`.endpoints: TargetEndpoints` once constructed (see `DeploymentTarget`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import pulumi

if TYPE_CHECKING:
    from monitoring.settings import ContentSettings

# Port each service listens on inside its container / pod. Both targets use these; the
# scrape targets in ContentSettings.targets are built from them.
CONTAINER_PORTS: dict[str, int] = {
    "prometheus": 9090,
    "alertmanager": 9093,
    "grafana": 3000,
    "loki": 3100,
    "alloy": 12345,
    "node_exporter": 9100,
    "cadvisor": 8080,
    "exporter": 9188,
}

# Where each service reads its configuration inside the container / pod.
PROMETHEUS_CONFIG_PATH = "/etc/prometheus/prometheus.yml"
PROMETHEUS_DATA_DIR = "/prometheus"
ALERTMANAGER_CONFIG_PATH = "/etc/alertmanager/alertmanager.yml"
ALERTMANAGER_DATA_DIR = "/alertmanager"
LOKI_CONFIG_PATH = "/etc/loki/loki.yml"
LOKI_DATA_DIR = "/loki"
ALLOY_CONFIG_PATH = "/etc/alloy/config.alloy"
ALLOY_DATA_DIR = "/var/lib/alloy/data"
GRAFANA_DATA_DIR = "/var/lib/grafana"
GRAFANA_SECRETS_DIR = "/etc/grafana/secrets"  # admin_password and secret_key files
EXPORTER_CONFIG_PATH = "/etc/exporter/config.yml"


def alertmanager_base_args(external_url: str) -> list[str]:
    """The flags both targets start Alertmanager with; each adds its cluster flags."""
    return [
        f"--config.file={ALERTMANAGER_CONFIG_PATH}",
        f"--storage.path={ALERTMANAGER_DATA_DIR}",
        f"--web.listen-address=:{CONTAINER_PORTS['alertmanager']}",
        f"--web.external-url={external_url}",
    ]


@dataclass(frozen=True)
class GrafanaServerConfig:
    """How the Grafana server itself is configured (not its content, see infra/grafana.py).

    `env` holds only non-secret settings. The two secrets are delivered as files: mount
    every entry of `secret_files` at `GRAFANA_SECRETS_DIR/<file name>` (admin_password,
    secret_key, and smtp_password when Grafana sends email); `env` already points Grafana at
    those paths (`GF_SECURITY_ADMIN_PASSWORD__FILE`, `GF_SECURITY_SECRET_KEY__FILE`, ...).
    """

    admin_user: str
    admin_password: pulumi.Output[str]  # secret (random.RandomPassword.result)
    secret_key: pulumi.Output[str]  # secret (random.RandomPassword.result)
    env: dict[str, str]
    image: str
    # More secret files under GRAFANA_SECRETS_DIR (file name -> content), e.g. smtp_password
    # when Grafana sends email; `env` already points at them (`GF_SMTP_PASSWORD__FILE`).
    extra_secret_files: dict[str, pulumi.Output[str]] = field(default_factory=dict)

    @property
    def secret_files(self) -> dict[str, pulumi.Output[str]]:
        """Every secret file to mount under GRAFANA_SECRETS_DIR: file name -> secret content."""
        return {
            "admin_password": self.admin_password,
            "secret_key": self.secret_key,
            **self.extra_secret_files,
        }

    @property
    def admin_password_path(self) -> str:
        return f"{GRAFANA_SECRETS_DIR}/admin_password"

    @property
    def secret_key_path(self) -> str:
        return f"{GRAFANA_SECRETS_DIR}/secret_key"


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
    exporter_config_yml: str  # mounted at EXPORTER_CONFIG_PATH
    grafana: GrafanaServerConfig
    # Every artifact a reviewer diffs, with placeholders instead of secrets (synth writes them).
    files_for_review: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TargetEndpoints:
    """What a target returns once its services exist."""

    # URL the Grafana provider calls, reachable from where `pulumi up` runs.
    grafana_api_url: pulumi.Output[str]
    # URLs for people (stack outputs, dashboard links).
    grafana_url: pulumi.Output[str]
    prometheus_url: pulumi.Output[str]
    alertmanager_url: pulumi.Output[str]
    exporter_url: pulumi.Output[str]
    # The healthy Grafana container / the ready Grafana Deployment; Grafana content waits on it.
    grafana_ready: pulumi.Resource


class DeploymentTarget(Protocol):
    """What `infra/stack.py` needs from a target component after constructing it."""

    @property
    def endpoints(self) -> TargetEndpoints: ...
