"""Prod target: the monitoring stack on Kubernetes (pulumi-kubernetes).

settings.py       KubernetesSettings, the validated `trading-monitoring:kubernetes` config
target.py         KubernetesTarget: provider, namespaces, every component, endpoints
common.py         labels, restricted security contexts, probes, checksums, PDBs, RBAC helpers
namespaces.py     the restricted namespace, node-exporter's privileged one, NetworkPolicies
prometheus.py     HA pair (StatefulSet + PVCs), RBAC for discovery and kubelet metrics
alertmanager.py   gossip cluster (StatefulSet + headless Service), config as a Secret
grafana.py        Deployment on a PVC, secrets as files, `grafana_ready`
loki.py           single-binary StatefulSet with retention
alloy.py          DaemonSet tailing pod logs through the API (no host access)
node_exporter.py  DaemonSet with host access in its own namespace
exporter.py       image built and pushed, Deployment + Service
ingress.py        optional TLS Ingresses; cert-manager Certificates awaited until Ready
"""
