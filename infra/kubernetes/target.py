"""KubernetesTarget: the prod stack on a Kubernetes cluster (pulumi-kubernetes 4.x).

One ComponentResource with its own `k8s.Provider` (kubeconfig from config, else ambient);
each service is built by its own module. Server-side apply; ConfigMaps and Secrets are
updated in place (mutable) and pod templates carry checksums of their data, so a config
change rolls exactly the pods that read it. Deployments and StatefulSets are awaited until
ready, so `grafana_ready` (the Grafana Deployment) gates the Grafana provider's resources.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.kubernetes.alertmanager import create_alertmanager
from infra.kubernetes.alloy import create_alloy
from infra.kubernetes.blackbox_exporter import create_blackbox_exporter
from infra.kubernetes.common import Context, service_url
from infra.kubernetes.component_exporters import create_component_exporters
from infra.kubernetes.exporter import create_exporter
from infra.kubernetes.grafana import create_grafana
from infra.kubernetes.ingress import create_ingresses
from infra.kubernetes.kube_state_metrics import create_kube_state_metrics
from infra.kubernetes.loki import create_loki
from infra.kubernetes.namespaces import (
    create_egress_policies,
    create_namespaces,
    create_network_policies,
)
from infra.kubernetes.node_exporter import create_node_exporter
from infra.kubernetes.prometheus import create_prometheus
from infra.settings.kubernetes import (
    EXPORTER_DSN_KEY,
    REGISTRY_PASSWORD_KEY,
    REMOTE_WRITE_PASSWORD_KEY,
    REMOTE_WRITE_TOKEN_KEY,
    KubernetesSettings,
)
from infra.settings.stack import StackConfig, StackSecrets
from infra.targets import RenderedContent, TargetEndpoints


def check_content(settings: KubernetesSettings, content: RenderedContent) -> None:
    """The content must have been rendered for this cluster (discovery, namespaces, a replica
    label for a Prometheus pair, a size retention that fits the volume)."""
    rendered = content.settings
    expected = {
        "discovery": "kubernetes",
        "kubernetes_namespace": settings.namespace,
        "node_exporter_namespace": settings.node_exporter_namespace,
    }
    for key, value in expected.items():
        if getattr(rendered, key) != value:
            raise ValueError(
                f"content rendered with {key} = {getattr(rendered, key)!r}, but the Kubernetes "
                f"target needs {value!r} (build ContentSettings with "
                "infra.settings.stack.content_settings)"
            )
    if settings.replicas.prometheus > 1 and not rendered.replica_label:
        raise ValueError(
            f"kubernetes.replicas.prometheus = {settings.replicas.prometheus} needs "
            "ContentSettings.replica_label, or the pair's alerts would not deduplicate"
        )


def _secret(secrets: StackSecrets, key: str) -> pulumi.Output[str] | None:
    value = secrets.get(key)
    return pulumi.Output.secret(value.get_secret_value()) if value is not None else None


class KubernetesTarget(pulumi.ComponentResource):
    """The prod stack: see the module docstring and the README's prod section."""

    endpoints: TargetEndpoints

    def __init__(
        self,
        name: str,
        config: StackConfig,
        content: RenderedContent,
        secrets: StackSecrets,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        settings = config.kubernetes
        if settings is None:
            raise ValueError("trading-monitoring:kubernetes is not set: required by target")
        check_content(settings, content)
        registry_password = _secret(secrets, REGISTRY_PASSWORD_KEY)
        if registry_password is None and content.settings.exporter_enabled:
            raise ValueError(
                f"trading-monitoring:{REGISTRY_PASSWORD_KEY} is not set: required by "
                "kubernetes.registry"
            )
        super().__init__("trading-monitoring:prod:KubernetesTarget", name, None, opts)
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=(pulumi.Output.secret(settings.kubeconfig) if settings.kubeconfig else None),
            context=settings.context,
            enable_server_side_apply=True,
            # Update ConfigMaps/Secrets in place; the checksums on pod templates roll pods.
            enable_config_map_mutable=True,
            enable_secret_mutable=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        base = Context(
            settings, config.images, content, pulumi.ResourceOptions(parent=self, provider=provider)
        )
        namespaces = create_namespaces(base, name)
        create_network_policies(base, name, namespaces)
        create_egress_policies(base, name, namespaces)
        ctx = Context(
            settings, config.images, content, base.with_deps(namespaces.main, namespaces.node)
        )
        credential_key = {
            "basic": REMOTE_WRITE_PASSWORD_KEY,
            "bearer": REMOTE_WRITE_TOKEN_KEY,
        }.get(settings.remote_write_auth)
        credential = _secret(secrets, credential_key) if credential_key else None
        prometheus = create_prometheus(ctx, name, credential)
        alertmanager = create_alertmanager(ctx, name)
        create_loki(ctx, name)
        create_alloy(ctx, name)
        create_node_exporter(ctx, name)
        create_component_exporters(ctx, name)
        if content.blackbox_yml is not None:
            create_blackbox_exporter(ctx, name, content.blackbox_yml)
        create_kube_state_metrics(ctx, name)
        grafana = create_grafana(ctx, name)
        ingresses = create_ingresses(ctx, name)

        def after(url: str, *resources: pulumi.CustomResource) -> pulumi.Output[str]:
            """`url`, known only once `resources` exist (and, when awaited, are ready)."""
            return pulumi.Output.all(*(r.id for r in resources)).apply(lambda _: url)

        exporter_url = None
        if content.settings.exporter_enabled and registry_password is not None:
            exporter = create_exporter(
                ctx, name, registry_password, _secret(secrets, EXPORTER_DSN_KEY)
            )
            exporter_url = after(f"{service_url(ctx, 'exporter')}/metrics", exporter)

        ingress = settings.ingress
        # With an ingress: the Ingress and its Ready Certificate (cert-manager) too.
        grafana_api_url = after(settings.grafana_provider_url(), grafana, *ingresses.grafana_ready)
        self.endpoints = TargetEndpoints(
            grafana_api_url=grafana_api_url,
            grafana_url=(
                after(f"https://{ingress.grafana_host}", grafana, *ingresses.grafana_ready)
                if ingress.enabled
                else grafana_api_url
            ),
            prometheus_url=after(
                f"https://{ingress.prometheus_host}"
                if ingress.prometheus_host
                else service_url(ctx, "prometheus"),
                prometheus,
            ),
            alertmanager_url=after(
                f"https://{ingress.alertmanager_host}"
                if ingress.alertmanager_host
                else service_url(ctx, "alertmanager"),
                alertmanager,
            ),
            exporter_url=exporter_url,
            grafana_ready=grafana,
        )
        self.register_outputs(
            {
                "grafanaApiUrl": grafana_api_url,
                "namespace": settings.namespace,
                "nodeExporterNamespace": settings.node_exporter_namespace,
            }
        )
