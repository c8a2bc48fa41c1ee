"""Optional Ingresses with TLS: Grafana, and Prometheus/Alertmanager behind auth annotations.

With `certManagerIssuer` set, cert-manager fills `tlsSecretName` (annotation
`cert-manager.io/cluster-issuer`; the Prometheus/Alertmanager Ingress gets
`<tlsSecretName>-protected`); otherwise that Secret must already exist and cover every host.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from infra.kubernetes.common import HTTP_PORT_NAME, PART_OF, Context

CERT_MANAGER_ANNOTATION = "cert-manager.io/cluster-issuer"


def _rule(host: str, service: str) -> k8s.networking.v1.IngressRuleArgsDict:
    return {
        "host": host,
        "http": {
            "paths": [
                {
                    "path": "/",
                    "path_type": "Prefix",
                    "backend": {"service": {"name": service, "port": {"name": HTTP_PORT_NAME}}},
                }
            ]
        },
    }


def create_ingresses(ctx: Context, prefix: str) -> list[k8s.networking.v1.Ingress]:
    settings = ctx.settings.ingress
    if not settings.enabled:
        return []
    assert settings.grafana_host is not None and settings.tls_secret_name is not None

    def ingress(
        name: str, hosts: list[tuple[str, str]], annotations: dict[str, str], tls_secret: str
    ) -> k8s.networking.v1.Ingress:
        if settings.cert_manager_issuer is not None:
            annotations = {**annotations, CERT_MANAGER_ANNOTATION: settings.cert_manager_issuer}
        spec: k8s.networking.v1.IngressSpecArgsDict = {
            "tls": [{"hosts": [host for host, _ in hosts], "secret_name": tls_secret}],
            "rules": [_rule(host, service) for host, service in hosts],
        }
        if settings.class_name is not None:
            spec["ingress_class_name"] = settings.class_name
        return k8s.networking.v1.Ingress(
            f"{prefix}-ingress-{name}",
            metadata={
                "name": name,
                "namespace": ctx.namespace,
                "labels": {"app.kubernetes.io/part-of": PART_OF},
                "annotations": annotations,
            },
            spec=spec,
            opts=ctx.opts,
        )

    tls_secret = settings.tls_secret_name
    ingresses = [ingress("grafana", [(settings.grafana_host, "grafana")], {}, tls_secret)]
    protected = [
        (host, service)
        for host, service in (
            (settings.prometheus_host, "prometheus"),
            (settings.alertmanager_host, "alertmanager"),
        )
        if host is not None
    ]
    if protected:
        # cert-manager writes one certificate per Ingress, so each needs its own Secret;
        # without it, `tlsSecretName` must hold a certificate valid for every host.
        if settings.cert_manager_issuer is not None:
            tls_secret = f"{tls_secret}-protected"
        ingresses.append(
            ingress("prometheus-alertmanager", protected, settings.auth_annotations, tls_secret)
        )
    return ingresses
