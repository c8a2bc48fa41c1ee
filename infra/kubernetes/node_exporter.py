"""node-exporter: one pod per node in its own "privileged" namespace.

It needs hostNetwork (node network stats), hostPID (process counts) and the host's `/`
mounted read-only at /host/root; "baseline" already forbids all three, hence the separate
namespace. Everything else stays "restricted": non-root, no capabilities, no privilege
escalation, read-only root filesystem, seccomp RuntimeDefault.

Not reachable off the node without authentication (as kube-prometheus does): node-exporter
listens on the node's loopback only, and kube-rbac-proxy listens on the node's address on the
same port, over TLS (a self-signed certificate it makes at start), passing a request on only
when its bearer token is valid (TokenReview) and may `get` the non-resource URL /metrics
(SubjectAccessReview); Prometheus' ServiceAccount may. The proxy needs the API token for that.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components import node_exporter
from infra.kubernetes.alloy import TOLERATE_ALL
from infra.kubernetes.common import (
    Context,
    component_container,
    container_port,
    container_resources,
    container_security,
    daemon_set,
    env_from_field,
    http_probe,
    pod_template,
    read_only_cluster_role,
    service_account,
    tcp_liveness_probe,
    tcp_probe,
)
from infra.settings.resources import compute_resources

APP = node_exporter.COMPONENT.app
UID = node_exporter.COMPONENT.security.uid
(HOST_ROOT,) = node_exporter.COMPONENT.security.host_mounts  # "/" read-only, following mounts


PROXY = "kube-rbac-proxy"
PROXY_UID = 65532  # the image's `nonroot` user
PROXY_RESOURCES = compute_resources("10m", "20Mi", "50m", "64Mi")
# The proxy asks the API server who the caller is and whether it may read /metrics.
PROXY_RBAC_RULES: list[k8s.rbac.v1.PolicyRuleArgsDict] = [
    {"api_groups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {
        "api_groups": ["authorization.k8s.io"],
        "resources": ["subjectaccessreviews"],
        "verbs": ["create"],
    },
]


def node_exporter_container(ctx: Context) -> k8s.core.v1.ContainerArgsDict:
    """node-exporter on the loopback: no port of its own; the kubelet (on the host network
    too) probes it there."""
    container = component_container(
        ctx,
        node_exporter.COMPONENT,
        image=ctx.images.node_exporter,
        args=node_exporter.args(node_exporter.LOOPBACK_LISTEN),
        volume_mounts=[
            {
                "name": "root",
                "mount_path": HOST_ROOT.container_path,
                "read_only": True,
                "mount_propagation": "HostToContainer",
            }
        ],
    )
    del container["ports"]
    component = node_exporter.COMPONENT
    container["readiness_probe"] = _loopback_probe(component.readiness_path, failures=3)
    container["liveness_probe"] = _loopback_probe(component.liveness_path, failures=6)
    return container


def _loopback_probe(path: str, failures: int) -> k8s.core.v1.ProbeArgsDict:
    probe = http_probe(path, failures=failures)
    probe["http_get"] = {"host": "127.0.0.1", "path": path, "port": node_exporter.COMPONENT.port}
    return probe


def proxy_container(ctx: Context) -> k8s.core.v1.ContainerArgsDict:
    """kube-rbac-proxy on the node's address, named `metrics` (Prometheus discovers it)."""
    port = node_exporter.COMPONENT.ports[0]
    return {
        "name": PROXY,
        "image": ctx.images.kube_rbac_proxy,
        "args": [
            f"--secure-listen-address=[$(NODE_IP)]:{port.number}",
            f"--upstream=http://{node_exporter.LOOPBACK_LISTEN}/",
            "--tls-min-version=VersionTLS12",
        ],
        "env": [env_from_field("NODE_IP", "status.podIP")],  # the node's IP on hostNetwork
        "ports": [container_port(port, on_host=True)],
        # Every HTTP request needs a token: probe the TLS port by connecting only.
        "readiness_probe": tcp_probe(port.name),
        "liveness_probe": tcp_liveness_probe(port.name),
        "resources": container_resources(PROXY_RESOURCES),
        "security_context": container_security(PROXY_UID),
    }


def create_node_exporter(ctx: Context, prefix: str) -> k8s.apps.v1.DaemonSet:
    namespace = ctx.node_namespace
    account = service_account(
        ctx, f"{prefix}-node-exporter-sa", APP, namespace=namespace, token=True
    )
    binding = read_only_cluster_role(ctx, f"{prefix}-node-exporter", APP, account, PROXY_RBAC_RULES)
    pod = pod_template(
        APP,
        UID,
        {
            "service_account_name": APP,
            "host_network": True,
            "host_pid": True,
            "dns_policy": "ClusterFirstWithHostNet",
            "tolerations": TOLERATE_ALL,
            "containers": [node_exporter_container(ctx), proxy_container(ctx)],
            "volumes": [{"name": "root", "host_path": {"path": HOST_ROOT.host_path}}],
        },
        api_token=True,  # for kube-rbac-proxy
    )
    return daemon_set(
        ctx,
        f"{prefix}-node-exporter",
        APP,
        pod,
        namespace=namespace,
        depends_on=[account, binding],
    )
