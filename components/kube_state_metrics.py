"""kube-state-metrics: the state of the stack's own Kubernetes objects (Kubernetes only).

It watches only the stack's namespaces and only the kinds our alerts read
(monitoring/self_watch.py), so its RBAC is a namespaced, read-only Role in each of them.
"""

from __future__ import annotations

from components.model import Component, Port, Security
from monitoring import jobs

TELEMETRY_PORT = 8081  # its own metrics (not scraped)
# The object kinds our alerts read (kube_pod_*, kube_statefulset_*, kube_daemonset_*).
RESOURCES: tuple[str, ...] = ("pods", "statefulsets", "daemonsets")
# API group of each kind in RESOURCES, for the Role rules.
API_GROUPS: dict[str, str] = {"pods": "", "statefulsets": "apps", "daemonsets": "apps"}

COMPONENT = Component(
    name="kube_state_metrics",
    app=jobs.KUBE_STATE_METRICS_APP,
    image_key="kube_state_metrics",
    ports=(Port(jobs.METRICS_PORT_NAME, 8080),),
    job=jobs.KUBE_STATE_METRICS,
    security=Security(uid=65534),  # the image's `nobody`
    readiness_path="/healthz",
    liveness_path="/healthz",
)


def args(namespaces: list[str]) -> list[str]:
    return [
        f"--port={COMPONENT.port}",
        f"--telemetry-port={TELEMETRY_PORT}",
        f"--resources={','.join(RESOURCES)}",
        f"--namespaces={','.join(namespaces)}",
    ]
