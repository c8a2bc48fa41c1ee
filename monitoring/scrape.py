"""prometheus.yml as data: scrape jobs for every target, alerting, external labels, and the
Prometheus command-line flags (retention lives in flags, not in the file)."""

from __future__ import annotations

from typing import Any

from monitoring import jobs
from monitoring.service_rules import service_scrape_configs
from monitoring.settings import ContentSettings
from monitoring.thirdparty.scrape import component_scrape_configs

# With the replica label set, each replica expands this from its own environment: the pod
# name in a StatefulSet, the container hostname in Docker. Prometheus 2 needs
# `--enable-feature=expand-external-labels`; v3 always expands and only warns about the flag.
REPLICA_LABEL_VALUE = "${HOSTNAME}"


def external_labels(settings: ContentSettings) -> dict[str, str]:
    """Prometheus 3 (and 2 with expand-external-labels) expands `$VAR` in these values: a `$`
    of the user's is written `$$`, which it reads as a literal `$`."""
    labels = {"env": settings.environment}
    labels.update({name: value.replace("$", "$$") for name, value in settings.external_labels})
    if settings.replica_label:
        labels[settings.replica_label] = REPLICA_LABEL_VALUE
    return labels


def _static_job(job: str, targets: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    return {"job_name": job, **extra, "static_configs": [{"targets": list(targets)}]}


def _k8s_pod_job(job: str, app: str, namespaces: list[str]) -> dict[str, Any]:
    """DaemonSet pods labelled `app.kubernetes.io/name=<app>` with a `metrics` container port."""
    name_label = "__meta_kubernetes_pod_label_" + "".join(
        c if c.isalnum() else "_" for c in jobs.K8S_NAME_LABEL
    )
    return {
        "job_name": job,
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": namespaces}}],
        "relabel_configs": [
            {"source_labels": [name_label], "regex": app, "action": "keep"},
            {
                "source_labels": ["__meta_kubernetes_pod_container_port_name"],
                "regex": jobs.METRICS_PORT_NAME,
                "action": "keep",
            },
            {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "instance"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        ],
    }


def _k8s_cadvisor_job(settings: ContentSettings) -> dict[str, Any]:
    """cAdvisor as embedded in every kubelet: https://<node>:10250/metrics/cadvisor."""
    tls: dict[str, Any] = {"ca_file": f"{jobs.SERVICE_ACCOUNT_DIR}/ca.crt"}
    if settings.kubelet_insecure_skip_verify:
        tls["insecure_skip_verify"] = True
    return {
        "job_name": jobs.CADVISOR,
        "scheme": "https",
        "metrics_path": "/metrics/cadvisor",
        "authorization": {"credentials_file": f"{jobs.SERVICE_ACCOUNT_DIR}/token"},
        "tls_config": tls,
        "kubernetes_sd_configs": [{"role": "node"}],
        "relabel_configs": [
            {"source_labels": ["__meta_kubernetes_node_name"], "target_label": "instance"}
        ],
    }


def _k8s_node_exporter_job(settings: ContentSettings) -> dict[str, Any]:
    """node-exporter behind kube-rbac-proxy: https with the ServiceAccount token. The proxy's
    certificate is self-signed per pod (as in kube-prometheus), so it is not verified; the
    token is what authenticates, and it is only sent to pods discovered in our namespace."""
    job = _k8s_pod_job(jobs.NODE, jobs.NODE_EXPORTER_APP, [settings.node_exporter_namespace])
    job["scheme"] = "https"
    job["authorization"] = {"credentials_file": f"{jobs.SERVICE_ACCOUNT_DIR}/token"}
    job["tls_config"] = {"insecure_skip_verify": True}
    return job


# The kubelet's own /metrics: only the volume stats (the rest is large and unused).
VOLUME_METRICS = "kubelet_volume_stats_(available|capacity|used)_bytes"


def _k8s_kube_state_metrics_job(settings: ContentSettings) -> dict[str, Any]:
    """kube-state-metrics pods in our namespace. `honor_labels`: the series' own `namespace`
    and `pod` (of the object described) must win over the scraped pod's."""
    pod_job = _k8s_pod_job(
        jobs.KUBE_STATE_METRICS, jobs.KUBE_STATE_METRICS_APP, [settings.kubernetes_namespace]
    )
    keep = [r for r in pod_job["relabel_configs"] if r.get("action") == "keep"]
    return {
        "job_name": jobs.KUBE_STATE_METRICS,
        "honor_labels": True,
        "kubernetes_sd_configs": pod_job["kubernetes_sd_configs"],
        "relabel_configs": [
            *keep,
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "instance"},
        ],
    }


def _k8s_kubelet_volume_stats_job(settings: ContentSettings) -> dict[str, Any]:
    """Every kubelet's own /metrics (same endpoint, TLS and token as cAdvisor: `nodes/metrics`),
    keeping only the volume stats."""
    job = _k8s_cadvisor_job(settings)
    job["job_name"] = jobs.KUBELET
    job["metrics_path"] = "/metrics"
    job["metric_relabel_configs"] = [
        {"source_labels": ["__name__"], "regex": VOLUME_METRICS, "action": "keep"}
    ]
    return job


def scrape_configs(settings: ContentSettings) -> list[dict[str, Any]]:
    t = settings.targets
    configs = [
        _static_job(jobs.PROMETHEUS, t.prometheus),
        _static_job(jobs.ALERTMANAGER, t.alertmanagers),
        _static_job(jobs.GRAFANA, t.grafana),
        _static_job(jobs.LOKI, t.loki),
    ]
    if settings.exporter_enabled:
        configs.insert(2, _static_job(jobs.EXPORTER, t.exporter))
    if settings.discovery == "kubernetes":
        configs += [
            _k8s_node_exporter_job(settings),
            _k8s_cadvisor_job(settings),
            _k8s_pod_job(
                jobs.ALLOY,
                jobs.ALLOY_APP,
                sorted({settings.kubernetes_namespace, settings.node_exporter_namespace}),
            ),
            # The stack watching its own pods and volumes (monitoring/self_watch.py).
            _k8s_kube_state_metrics_job(settings),
            _k8s_kubelet_volume_stats_job(settings),
        ]
    else:
        configs += [
            _static_job(jobs.NODE, t.node_exporter),
            _static_job(jobs.CADVISOR, t.cadvisor),
            _static_job(jobs.ALLOY, t.alloy),
        ]
    adapters = [
        {"targets": [m.adapter_target], "labels": {"market": m.code}}
        for m in settings.markets
        if m.adapter_target
    ]
    if adapters:
        configs.append({"job_name": jobs.ADAPTER, "static_configs": adapters})
    configs += component_scrape_configs(settings)
    blackbox = settings.targets.blackbox[0] if settings.targets.blackbox else ""
    configs += service_scrape_configs(settings, settings.services, blackbox)
    # A job without targets is noise in the targets page; drop empty static jobs.
    return [
        c
        for c in configs
        if "kubernetes_sd_configs" in c or any(sc["targets"] for sc in c["static_configs"])
    ]


# Files of the Prometheus secret under `settings.prometheus_secrets_dir`.
REMOTE_WRITE_PASSWORD_FILE = "remote_write_password"
REMOTE_WRITE_TOKEN_FILE = "remote_write_token"


def remote_write(settings: ContentSettings) -> dict[str, Any]:
    """The remote_write entry; credentials only as file paths (the files are a Secret)."""
    entry: dict[str, Any] = {"url": settings.remote_write_url}
    secrets = settings.prometheus_secrets_dir.rstrip("/")
    if settings.remote_write_auth == "basic":
        entry["basic_auth"] = {
            "username": settings.remote_write_username,
            "password_file": f"{secrets}/{REMOTE_WRITE_PASSWORD_FILE}",
        }
    elif settings.remote_write_auth == "bearer":
        entry["authorization"] = {"credentials_file": f"{secrets}/{REMOTE_WRITE_TOKEN_FILE}"}
    return entry


def prometheus_config(settings: ContentSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "scrape_timeout": settings.scrape_timeout,
            "evaluation_interval": settings.evaluation_interval,
            "external_labels": external_labels(settings),
        },
        "alerting": {
            # Every Alertmanager gets every alert (they deduplicate via gossip); never a
            # load balancer in front of them.
            "alertmanagers": [
                {"static_configs": [{"targets": list(settings.targets.alertmanagers)}]}
            ],
        },
        "rule_files": [f"{settings.rule_files_dir.rstrip('/')}/*.yml"],
        "scrape_configs": scrape_configs(settings),
    }
    if settings.replica_label:
        config["alerting"]["alert_relabel_configs"] = [
            {"action": "labeldrop", "regex": settings.replica_label}
        ]
    if settings.remote_write_url:
        config["remote_write"] = [remote_write(settings)]
    return config
