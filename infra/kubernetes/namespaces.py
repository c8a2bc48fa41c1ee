"""The two namespaces and every NetworkPolicy.

- `namespace` (Pod Security "restricted", enforced): every workload except node-exporter.
- `nodeExporterNamespace` ("privileged", enforced): node-exporter only, because it needs
  hostNetwork, hostPID and a read-only hostPath of `/`, which "baseline" already forbids.
  Its container still runs as non-root with no capabilities.

NetworkPolicies: deny all ingress in both namespaces, then allow exactly the flows the stack
needs. Kubelet probes come from the node and are allowed by common CNIs (Calico, Cilium).
Egress likewise (`kubernetes.egress`, on by default): deny all, allow DNS, then per component
only its destinations: pods of the stack by label, and outside the pod network only
`egress.externalCidrs` on the ports that component needs (create_egress_policies).
node-exporter runs on the host network, where NetworkPolicies do not apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import pulumi_kubernetes as k8s

from components import PORTS, alertmanager, node_exporter
from infra.kubernetes.common import (
    NAME_LABEL,
    PART_OF,
    PSA_PRIVILEGED,
    PSA_RESTRICTED,
    Context,
    selector_labels,
)

PSA_VERSION = "latest"  # evaluate against the cluster's own version of the standard
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by Kubernetes on every namespace
# cert-manager's HTTP-01 solver pods: their label and listening port.
ACME_SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
ACME_SOLVER_PORT = 8089


@dataclass(frozen=True)
class Namespaces:
    main: k8s.core.v1.Namespace
    node: k8s.core.v1.Namespace


def pod_security_labels(level: str) -> dict[str, str]:
    return {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": PSA_VERSION,
        "pod-security.kubernetes.io/audit": level,
        "pod-security.kubernetes.io/warn": level,
    }


def create_namespaces(ctx: Context, prefix: str) -> Namespaces:
    def namespace(resource_name: str, name: str, level: str) -> k8s.core.v1.Namespace:
        return k8s.core.v1.Namespace(
            resource_name,
            metadata={
                "name": name,
                "labels": {"app.kubernetes.io/part-of": PART_OF, **pod_security_labels(level)},
            },
            opts=ctx.opts,
        )

    return Namespaces(
        main=namespace(f"{prefix}-namespace", ctx.namespace, PSA_RESTRICTED),
        node=namespace(f"{prefix}-node-namespace", ctx.node_namespace, PSA_PRIVILEGED),
    )


def _pods(app: str) -> k8s.networking.v1.NetworkPolicyPeerArgsDict:
    return {"pod_selector": {"match_labels": {NAME_LABEL: app}}}


def _pods_in(namespace: str, app: str) -> k8s.networking.v1.NetworkPolicyPeerArgsDict:
    return {
        "namespace_selector": {"match_labels": {NAMESPACE_NAME_LABEL: namespace}},
        "pod_selector": {"match_labels": {NAME_LABEL: app}},
    }


def _ports(*ports: tuple[int, str]) -> list[k8s.networking.v1.NetworkPolicyPortArgsDict]:
    return [{"port": number, "protocol": protocol} for number, protocol in ports]


def _tcp(*services: str) -> list[tuple[int, str]]:
    return [(PORTS[service], "TCP") for service in services]


def create_network_policies(
    ctx: Context, prefix: str, namespaces: Namespaces
) -> list[k8s.networking.v1.NetworkPolicy]:
    """Default deny ingress + the allowed flows (see the module docstring)."""
    opts = ctx.with_deps(namespaces.main, namespaces.node)
    policies: list[k8s.networking.v1.NetworkPolicy] = []

    def policy(
        name: str,
        namespace: str,
        pod_selector: k8s.meta.v1.LabelSelectorArgsDict,
        ingress: list[k8s.networking.v1.NetworkPolicyIngressRuleArgsDict],
    ) -> None:
        policies.append(
            k8s.networking.v1.NetworkPolicy(
                f"{prefix}-netpol-{namespace}-{name}",
                metadata={
                    "name": name,
                    "namespace": namespace,
                    "labels": {"app.kubernetes.io/part-of": PART_OF},
                },
                spec={
                    "pod_selector": pod_selector,
                    "policy_types": ["Ingress"],
                    "ingress": ingress,
                },
                opts=opts,
            )
        )

    def to_app(app: str) -> k8s.meta.v1.LabelSelectorArgsDict:
        return {"match_labels": selector_labels(app)}

    ns, node_ns = ctx.namespace, ctx.node_namespace
    for namespace in (ns, node_ns):
        policy("default-deny-ingress", namespace, {}, [])
    # Prometheus scrapes every pod of the stack (any port: each exposes its own metrics).
    policy("allow-prometheus-scrape", ns, {}, [{"from_": [_pods("prometheus")]}])
    policy(
        "allow-prometheus-scrape",
        node_ns,
        to_app("node-exporter"),
        [{"from_": [_pods_in(ns, "prometheus")], "ports": _ports(*_tcp("node_exporter"))}],
    )
    # Prometheus -> Alertmanager (alerts), Grafana -> Alertmanager (datasource), Loki ruler.
    policy(
        "allow-alertmanager-api",
        ns,
        to_app("alertmanager"),
        [
            {
                "from_": [_pods("prometheus"), _pods("grafana"), _pods("loki")],
                "ports": _ports(*_tcp("alertmanager")),
            }
        ],
    )
    # Alertmanager peers gossip over TCP and UDP.
    policy(
        "allow-alertmanager-gossip",
        ns,
        to_app("alertmanager"),
        [
            {
                "from_": [_pods("alertmanager")],
                "ports": _ports((alertmanager.MESH_PORT, "TCP"), (alertmanager.MESH_PORT, "UDP")),
            }
        ],
    )
    policy(
        "allow-grafana-to-prometheus",
        ns,
        to_app("prometheus"),
        [{"from_": [_pods("grafana")], "ports": _ports(*_tcp("prometheus"))}],
    )
    policy(
        "allow-loki-push-and-query",
        ns,
        to_app("loki"),
        [{"from_": [_pods("grafana"), _pods("alloy")], "ports": _ports(*_tcp("loki"))}],
    )
    ingress = ctx.settings.ingress
    if ingress.enabled:
        controller: k8s.networking.v1.NetworkPolicyPeerArgsDict = {
            "namespace_selector": {
                "match_labels": {NAMESPACE_NAME_LABEL: ingress.controller_namespace}
            }
        }
        exposed = [("grafana", "grafana")]
        if ingress.prometheus_host:
            exposed.append(("prometheus", "prometheus"))
        if ingress.alertmanager_host:
            exposed.append(("alertmanager", "alertmanager"))
        for app, service in exposed:
            policy(
                f"allow-ingress-controller-to-{app}",
                ns,
                to_app(app),
                [{"from_": [controller], "ports": _ports(*_tcp(service))}],
            )
        if ingress.cert_manager_issuer is not None:
            # cert-manager's HTTP-01 solver pods run in this namespace, behind the controller.
            policy(
                "allow-ingress-controller-to-acme-solver",
                ns,
                {"match_labels": {ACME_SOLVER_LABEL: "true"}},
                [{"from_": [controller], "ports": _ports((ACME_SOLVER_PORT, "TCP"))}],
            )
    return policies


DNS_PORT = 53
KUBELET_PORT = 10250


def _external(
    ctx: Context, ports: list[int]
) -> list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict]:
    """Traffic leaving the pod network: only `egress.externalCidrs`, only `ports` (TCP)."""
    if not ports:
        return []
    cidrs = ctx.settings.egress.external_cidrs
    return [
        {
            "to": [{"ip_block": {"cidr": cidr}} for cidr in cidrs],
            "ports": _ports(*((number, "TCP") for number in sorted(set(ports)))),
        }
    ]


def _url_port(url: str | None) -> list[int]:
    if url is None:
        return []
    parsed = urlparse(url)
    return [parsed.port or (443 if parsed.scheme == "https" else 80)]


def _component_ports(ctx: Context) -> dict[str, int]:
    """app of each declared PostgreSQL/Redis/NGINX exporter -> the port of its instance."""
    ports: dict[str, int] = {}
    components = ctx.content.settings.components
    for db in components.postgres:
        ports[f"postgres-exporter-{db.name}"] = int(db.address.rsplit(":", 1)[1])
    for cache in components.redis:
        ports[f"redis-exporter-{cache.name}"] = urlparse(cache.address).port or 6379
    for proxy in components.nginx:
        ports[f"nginx-exporter-{proxy.name}"] = _url_port(proxy.status_url)[0]
    return ports


def egress_rules(
    ctx: Context,
) -> dict[str, list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict]]:
    """app -> the egress rules of its pods (besides DNS), in the main namespace."""
    egress = ctx.settings.egress
    content = ctx.content.settings
    api = list(egress.api_server_ports)
    smtp = (
        [int(content.receivers.email_smarthost.rsplit(":", 1)[1])]
        if content.receivers.email_to
        else []
    )
    adapters = [
        int(m.adapter_target.rsplit(":", 1)[1]) for m in content.markets if m.adapter_target
    ]
    scraped = [KUBELET_PORT, node_exporter.COMPONENT.port, *adapters]
    every_pod: k8s.networking.v1.NetworkPolicyPeerArgsDict = {"namespace_selector": {}}
    return {
        # Scrapes any pod (ours, and user services in other namespaces), the kubelets and the
        # host-network node-exporter on the nodes, the API server (discovery), remote_write.
        "prometheus": [
            {"to": [every_pod]},
            *_external(ctx, [*api, *scraped, *_url_port(content.remote_write_url)]),
        ],
        "alertmanager": [
            {
                "to": [_pods("alertmanager")],
                "ports": _ports((alertmanager.MESH_PORT, "TCP"), (alertmanager.MESH_PORT, "UDP")),
            },
            *_external(ctx, [*egress.receiver_ports, *smtp]),
        ],
        "grafana": [
            {"to": [_pods("prometheus")], "ports": _ports(*_tcp("prometheus"))},
            {"to": [_pods("loki")], "ports": _ports(*_tcp("loki"))},
            {"to": [_pods("alertmanager")], "ports": _ports(*_tcp("alertmanager"))},
            *_external(ctx, smtp),
        ],
        "loki": [{"to": [_pods("alertmanager")], "ports": _ports(*_tcp("alertmanager"))}],
        "alloy": [
            {"to": [_pods("loki")], "ports": _ports(*_tcp("loki"))},
            *_external(ctx, api),
        ],
        "kube-state-metrics": _external(ctx, api),
        # Our exporter (when deployed) reads its database; on a PVC it needs nothing.
        "exporter": _external(
            ctx,
            [egress.database_port]
            if content.exporter_enabled and ctx.settings.exporter_database.mode == "dsn"
            else [],
        ),
        # The services' probes (deployed only with probes): any pod, and off the pod network
        # anywhere in externalCidrs on any port (a probe's target is whatever you list).
        "blackbox-exporter": (
            [
                {"to": [every_pod]},
                {"to": [{"ip_block": {"cidr": cidr}} for cidr in egress.external_cidrs]},
            ]
            if ctx.content.blackbox_yml is not None
            else []
        ),
        # Each declared database, cache or proxy: in the cluster or off the pod network.
        **{
            app: [
                {"to": [every_pod], "ports": _ports((port, "TCP"))},
                *_external(ctx, [port]),
            ]
            for app, port in _component_ports(ctx).items()
        },
    }


def create_egress_policies(
    ctx: Context, prefix: str, namespaces: Namespaces
) -> list[k8s.networking.v1.NetworkPolicy]:
    """Default deny egress + DNS in both namespaces, then each component's destinations."""
    if not ctx.settings.egress.enabled:
        return []
    opts = ctx.with_deps(namespaces.main, namespaces.node)

    def policy(
        name: str,
        namespace: str,
        pod_selector: k8s.meta.v1.LabelSelectorArgsDict,
        egress: list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict],
    ) -> k8s.networking.v1.NetworkPolicy:
        return k8s.networking.v1.NetworkPolicy(
            f"{prefix}-netpol-{namespace}-{name}",
            metadata={
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/part-of": PART_OF},
            },
            spec={"pod_selector": pod_selector, "policy_types": ["Egress"], "egress": egress},
            opts=opts,
        )

    policies = []
    for namespace in (ctx.namespace, ctx.node_namespace):
        policies.append(policy("default-deny-egress", namespace, {}, []))
        # The cluster DNS Service's address and pod labels differ between distributions.
        dns: list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict] = [
            {"ports": _ports((DNS_PORT, "UDP"), (DNS_PORT, "TCP"))}
        ]
        policies.append(policy("allow-dns-egress", namespace, {}, dns))
    for app, rules in egress_rules(ctx).items():
        if rules:
            selector: k8s.meta.v1.LabelSelectorArgsDict = {"match_labels": selector_labels(app)}
            policies.append(policy(f"allow-{app}-egress", ctx.namespace, selector, rules))
    return policies
