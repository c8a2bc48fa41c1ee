"""node-exporter: host metrics from the host's root filesystem, mounted read-only."""

from __future__ import annotations

from components.model import Component, HostMount, Port, Security
from monitoring import jobs

HOST_ROOT = "/host/root"

COMPONENT = Component(
    name="node_exporter",
    app=jobs.NODE_EXPORTER_APP,
    image_key="node_exporter",
    ports=(Port(jobs.METRICS_PORT_NAME, 9100),),
    job=jobs.NODE,
    security=Security(
        uid=65534, host_mounts=(HostMount("/", HOST_ROOT, follow_new_mounts=True),), host_pid=True
    ),
    readiness_path="/",
    liveness_path="/",
)


# On Kubernetes node-exporter serves only the node's loopback; kube-rbac-proxy serves the node's
# address on the same port, over TLS, to authenticated and authorized callers only.
LOOPBACK_LISTEN = f"127.0.0.1:{COMPONENT.port}"


def args(listen: str = f":{COMPONENT.port}") -> list[str]:
    return [
        f"--path.rootfs={HOST_ROOT}",
        f"--web.listen-address={listen}",
        # Container and kubelet mounts are not node filesystems.
        "--collector.filesystem.mount-points-exclude="
        "^/(dev|proc|sys|run/containerd/.+|var/lib/docker/.+|var/lib/kubelet/.+)($|/)",
    ]
