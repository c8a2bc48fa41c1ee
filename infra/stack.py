"""MonitoringStack: wires the target-independent content into the chosen target.

config -> RenderedContent (infra/content.py) -> target (Docker or Kubernetes) -> Grafana content
(infra/grafana.py) against the target's Grafana. Both targets get the same content.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_random as random

from components import PORTS
from infra.content import build_content
from infra.grafana import DatasourceUrls, GrafanaContent
from infra.settings import stack as cfg
from infra.settings.base import NAMESPACE, ConfigError
from infra.targets import RenderedContent, TargetEndpoints
from monitoring.drill import drill_plan, plan_to_json
from monitoring.render import grafana_notification_model


@dataclass(frozen=True)
class StackOutputs:
    grafana_url: pulumi.Output[str]
    prometheus_url: pulumi.Output[str]
    alertmanager_url: pulumi.Output[str]
    exporter_url: pulumi.Output[str] | None
    dashboard_urls: dict[str, pulumi.Output[str]]
    grafana_admin_user: str
    grafana_admin_password: pulumi.Output[str]  # secret
    drill_plan: str  # JSON: one synthetic alert per route (`python -m infra drill`)


def datasource_urls(config: cfg.StackConfig, content: RenderedContent) -> DatasourceUrls:
    """Grafana-side URLs: the first target of each service; on Kubernetes the Service."""
    targets = content.settings.targets
    if config.target == "kubernetes":
        assert config.kubernetes is not None
        k8s = config.kubernetes

        def service(name: str) -> str:
            return f"http://{k8s.service_host(name)}:{PORTS[name]}"

        return DatasourceUrls(
            prometheus=service("prometheus"),
            loki=service("loki"),
            alertmanager=service("alertmanager"),
        )
    return DatasourceUrls(
        prometheus=f"http://{targets.prometheus[0]}",
        loki=f"http://{targets.loki[0]}",
        alertmanager=f"http://{targets.alertmanagers[0]}",
    )


class MonitoringStack(pulumi.ComponentResource):
    outputs: StackOutputs

    def __init__(
        self,
        name: str,
        config: cfg.StackConfig,
        secrets: cfg.StackSecrets,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("trading-monitoring:index:MonitoringStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Render the notification model before any resource exists (it can refuse settings).
        model = grafana_notification_model(config.content)
        admin_password = random.RandomPassword(
            "grafana-admin-password", length=32, special=False, min_numeric=4, opts=child
        )
        secret_key = random.RandomPassword(
            "grafana-secret-key", length=48, special=False, opts=child
        )
        content = build_content(config, secrets, admin_password.result, secret_key.result)
        endpoints = self._target(config, secrets, content)
        grafana_content = GrafanaContent(
            "grafana",
            content=content,
            endpoints=endpoints,
            datasource_urls=datasource_urls(config, content),
            secrets=secrets,
            model=model,
            opts=child,
        )
        self.content = content
        self.dashboards = grafana_content.dashboards
        self.outputs = StackOutputs(
            grafana_url=endpoints.grafana_url,
            prometheus_url=endpoints.prometheus_url,
            alertmanager_url=endpoints.alertmanager_url,
            exporter_url=endpoints.exporter_url,
            dashboard_urls=grafana_content.dashboard_urls,
            grafana_admin_user=config.grafana_admin_user,
            grafana_admin_password=pulumi.Output.secret(admin_password.result),
            drill_plan=plan_to_json(drill_plan(config.content)),
        )
        self.register_outputs({"grafanaUrl": endpoints.grafana_url})

    def _target(
        self, config: cfg.StackConfig, secrets: cfg.StackSecrets, content: RenderedContent
    ) -> TargetEndpoints:
        child = pulumi.ResourceOptions(parent=self)
        if config.target == "kubernetes":
            # Imported only for prod: the dev stack does not need pulumi_kubernetes.
            kubernetes_target = importlib.import_module("infra.kubernetes.target")
            target = kubernetes_target.KubernetesTarget(
                "prod", config=config, content=content, secrets=secrets, opts=child
            )
            endpoints: TargetEndpoints = target.endpoints
            return endpoints
        from infra.docker.target import DockerTarget

        dsn = secrets.get(cfg.EXPORTER_DATABASE_DSN)
        return DockerTarget(
            "dev",
            config=config,
            content=content,
            exporter_database_url=(
                pulumi.Output.secret(dsn.get_secret_value()) if dsn is not None else None
            ),
            opts=child,
        ).endpoints


def stack_output_values(outputs: StackOutputs) -> dict[str, Any]:
    """Stack output name -> value (`pulumi stack output`; the password needs --show-secrets)."""
    values: dict[str, Any] = {
        "grafanaUrl": outputs.grafana_url,
        "prometheusUrl": outputs.prometheus_url,
        "alertmanagerUrl": outputs.alertmanager_url,
        "exporterUrl": outputs.exporter_url,
        "dashboardUrls": outputs.dashboard_urls,
        "grafanaAdminUser": outputs.grafana_admin_user,
        "grafanaAdminPassword": outputs.grafana_admin_password,
        "drillPlan": outputs.drill_plan,
    }
    if outputs.exporter_url is None:  # exporter.enabled: false
        del values["exporterUrl"]
    return values


def run() -> None:
    """The Pulumi program: validate all config first, then register resources."""
    try:
        config, secrets = cfg.load_stack_config()
    except ConfigError as error:
        # RunError: the CLI shows the message without a Python traceback.
        raise pulumi.RunError(f"invalid stack config:\n{error}") from None
    stack = MonitoringStack(NAMESPACE, config, secrets)
    for name, value in stack_output_values(stack.outputs).items():
        pulumi.export(name, value)
