"""Stable Prometheus job names, and the Kubernetes labels that discovery relies on.

Alerts, inhibition rules and dashboards match on these job names; infra/kubernetes labels the
node-exporter and Alloy DaemonSet pods with `K8S_NAME_LABEL` and names their metrics container
port `METRICS_PORT_NAME`, which is how `kubernetes_sd_configs` finds them.
"""

from __future__ import annotations

PROMETHEUS = "prometheus"
ALERTMANAGER = "alertmanager"
EXPORTER = "exporter"
NODE = "node"
CADVISOR = "cadvisor"
GRAFANA = "grafana"
LOKI = "loki"
ALLOY = "alloy"
ADAPTER = "adapter"  # one target per market, labelled `market`
# Standard components (monitoring/thirdparty): one target per declared instance, labelled
# `component` and `name`; only with instances declared, so not in ALL.
POSTGRES = "postgres"
REDIS = "redis"
NGINX = "nginx"
# Kubernetes only (monitoring/self_watch.py): object state, and the kubelets' volume stats.
KUBE_STATE_METRICS = "kube-state-metrics"
KUBELET = "kubelet"

ALL: tuple[str, ...] = (
    PROMETHEUS,
    ALERTMANAGER,
    EXPORTER,
    NODE,
    CADVISOR,
    GRAFANA,
    LOKI,
    ALLOY,
    ADAPTER,
    KUBE_STATE_METRICS,
    KUBELET,
)
KUBERNETES_ONLY: tuple[str, ...] = (KUBE_STATE_METRICS, KUBELET)

# Kubernetes discovery contract (settings.discovery == "kubernetes").
K8S_NAME_LABEL = "app.kubernetes.io/name"
NODE_EXPORTER_APP = "node-exporter"
ALLOY_APP = "alloy"
KUBE_STATE_METRICS_APP = "kube-state-metrics"
METRICS_PORT_NAME = "metrics"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
