"""Optional Ingresses with TLS: Grafana, and Prometheus/Alertmanager behind auth annotations.

With `certManagerIssuer` set, each Ingress's TLS Secret is issued by a cert-manager
`Certificate` we declare (the Secret's only owner: no ingress-shim annotation), awaited until
Ready (`pulumi.com/waitFor`, pulumi-kubernetes >= 4.18). The Grafana provider calls
https://<grafanaHost>, so it waits for the Grafana certificate: no x509 errors while
cert-manager is still issuing. The Prometheus/Alertmanager Ingress gets its own Secret,
`<tlsSecretName>-protected`. Without an issuer, `tlsSecretName` must already exist and cover
every host.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra.kubernetes.common import HTTP_PORT_NAME, PART_OF, Context

# Pulumi waits for this condition before it considers the Certificate created.
WAIT_FOR_READY = {"pulumi.com/waitFor": "condition=Ready"}


@dataclass(frozen=True)
class Ingresses:
    """The Ingresses and, with cert-manager, their Certificates."""

    ingresses: list[k8s.networking.v1.Ingress] = field(default_factory=list)
    # What https://<grafanaHost> needs before it answers with a valid certificate.
    grafana_ready: list[pulumi.CustomResource] = field(default_factory=list)


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


def certificate(
    ctx: Context, resource_name: str, secret_name: str, hosts: list[str], issuer: str
) -> k8s.apiextensions.CustomResource:
    """A cert-manager Certificate for `hosts` into Secret `secret_name`, awaited until Ready."""
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version="cert-manager.io/v1",
        kind="Certificate",
        metadata={
            "name": secret_name,
            "namespace": ctx.namespace,
            "labels": {"app.kubernetes.io/part-of": PART_OF},
            "annotations": WAIT_FOR_READY,
        },
        spec={
            "secretName": secret_name,
            "dnsNames": hosts,
            "issuerRef": {"name": issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"},
        },
        opts=ctx.opts,
    )


def create_ingresses(ctx: Context, prefix: str) -> Ingresses:
    settings = ctx.settings.ingress
    if not settings.enabled:
        return Ingresses()
    assert settings.grafana_host is not None and settings.tls_secret_name is not None
    issuer = settings.cert_manager_issuer

    def ingress(
        name: str, hosts: list[tuple[str, str]], annotations: dict[str, str], tls_secret: str
    ) -> list[pulumi.CustomResource]:
        """The Ingress, then its Certificate (with an issuer)."""
        spec: k8s.networking.v1.IngressSpecArgsDict = {
            "tls": [{"hosts": [host for host, _ in hosts], "secret_name": tls_secret}],
            "rules": [_rule(host, service) for host, service in hosts],
        }
        if settings.class_name is not None:
            spec["ingress_class_name"] = settings.class_name
        created: list[pulumi.CustomResource] = [
            k8s.networking.v1.Ingress(
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
        ]
        if issuer is not None:
            created.append(
                certificate(
                    ctx, f"{prefix}-certificate-{name}", tls_secret, [h for h, _ in hosts], issuer
                )
            )
        return created

    tls_secret = settings.tls_secret_name
    grafana = ingress("grafana", [(settings.grafana_host, "grafana")], {}, tls_secret)
    created = list(grafana)
    protected = [
        (host, service)
        for host, service in (
            (settings.prometheus_host, "prometheus"),
            (settings.alertmanager_host, "alertmanager"),
        )
        if host is not None
    ]
    if protected:
        # One Secret per Certificate; without cert-manager, `tlsSecretName` must hold a
        # certificate valid for every host.
        if issuer is not None:
            tls_secret = f"{tls_secret}-protected"
        created += ingress(
            "prometheus-alertmanager", protected, settings.auth_annotations, tls_secret
        )
    return Ingresses(
        ingresses=[r for r in created if isinstance(r, k8s.networking.v1.Ingress)],
        grafana_ready=grafana,
    )
