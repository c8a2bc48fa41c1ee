"""node-exporter: one pod per node in its own "privileged" namespace.

It needs hostNetwork (node network stats), hostPID (process counts) and the host's `/`
mounted read-only at /host/root; "baseline" already forbids all three, hence the separate
namespace. Everything else stays "restricted": non-root, no capabilities, no privilege
escalation, read-only root filesystem, seccomp RuntimeDefault, no API token.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components import node_exporter
from infra.kubernetes.alloy import TOLERATE_ALL
from infra.kubernetes.common import (
    Context,
    component_container,
    labels,
    metadata,
    pod_security,
    selector_labels,
    service_account,
)

APP = node_exporter.COMPONENT.app
UID = node_exporter.COMPONENT.security.uid
(HOST_ROOT,) = node_exporter.COMPONENT.security.host_mounts  # "/" read-only, following mounts


def create_node_exporter(ctx: Context, prefix: str) -> k8s.apps.v1.DaemonSet:
    namespace = ctx.node_namespace
    account = service_account(ctx, f"{prefix}-node-exporter-sa", APP, namespace=namespace)
    return k8s.apps.v1.DaemonSet(
        f"{prefix}-node-exporter",
        metadata=metadata(APP, namespace),
        spec={
            "selector": {"match_labels": selector_labels(APP)},
            "update_strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 1}},
            "template": {
                "metadata": {"labels": labels(APP)},
                "spec": {
                    "service_account_name": APP,
                    "automount_service_account_token": False,
                    "host_network": True,
                    "host_pid": True,
                    "dns_policy": "ClusterFirstWithHostNet",
                    "security_context": pod_security(UID),
                    "tolerations": TOLERATE_ALL,
                    "containers": [
                        component_container(
                            ctx,
                            node_exporter.COMPONENT,
                            image=ctx.images.node_exporter,
                            args=node_exporter.args(),
                            # With hostNetwork the host port is the container port.
                            host_ports=True,
                            volume_mounts=[
                                {
                                    "name": "root",
                                    "mount_path": HOST_ROOT.container_path,
                                    "read_only": True,
                                    "mount_propagation": "HostToContainer",
                                }
                            ],
                        )
                    ],
                    "volumes": [{"name": "root", "host_path": {"path": HOST_ROOT.host_path}}],
                },
            },
        },
        opts=ctx.with_deps(account),
    )
