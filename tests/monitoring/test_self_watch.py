"""The self-watch scrape jobs (kube-state-metrics, kubelet volume stats) keep what the alerts
need (promtool checks them with the whole Kubernetes config in test_promtool.py), and the
Kubernetes-only rules stay off Docker."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from monitoring import jobs
from monitoring.alerts import all_rule_groups
from monitoring.render import render_rule_files
from monitoring.scrape import VOLUME_METRICS, scrape_configs
from monitoring.self_watch import discovered_jobs, kubernetes_rule_group
from monitoring.settings import ContentSettings
from monitoring.standard_metrics import STANDARD_METRICS


def _jobs(settings: ContentSettings) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in scrape_configs(settings)}


def test_kube_state_metrics_job_keeps_the_objects_labels(settings: ContentSettings) -> None:
    ksm = _jobs(settings)[jobs.KUBE_STATE_METRICS]
    assert ksm["honor_labels"] is True  # kube_pod_*{namespace, pod} describe other pods
    targets = {r.get("target_label") for r in ksm["relabel_configs"]}
    assert "namespace" not in targets and "pod" not in targets
    assert ksm["kubernetes_sd_configs"] == [
        {"role": "pod", "namespaces": {"names": [settings.kubernetes_namespace]}}
    ]
    assert {"regex": jobs.KUBE_STATE_METRICS_APP, "action": "keep"}.items() <= (
        ksm["relabel_configs"][0].items()
    )


def test_kubelet_job_keeps_only_volume_stats(settings: ContentSettings) -> None:
    kubelet = _jobs(settings)[jobs.KUBELET]
    assert kubelet["metrics_path"] == "/metrics" and kubelet["scheme"] == "https"
    assert kubelet["authorization"]["credentials_file"].endswith("/token")
    (keep,) = kubelet["metric_relabel_configs"]
    pattern = re.compile(f"^(?:{keep['regex']})$")  # Prometheus anchors regexes
    assert keep["regex"] == VOLUME_METRICS
    for name in STANDARD_METRICS["kubelet"]:
        assert pattern.match(name), name
    for name in ("kubelet_running_pods", "kubelet_volume_stats_inodes", "up"):
        assert not pattern.match(name), name


def test_kubernetes_rules_only_with_kubernetes_discovery(settings: ContentSettings) -> None:
    static = dataclasses.replace(settings, discovery="static")
    assert not set(_jobs(static)) & set(jobs.KUBERNETES_ONLY)
    assert kubernetes_rule_group(static) is None
    assert "kubernetes.yml" not in render_rule_files(static)
    assert "kubernetes.yml" in render_rule_files(settings)
    names = {g.name for g in all_rule_groups(settings)}
    assert "kubernetes" in names and "kubernetes" not in {g.name for g in all_rule_groups(static)}


def test_targets_missing_covers_every_discovered_job(settings: ContentSettings) -> None:
    group = kubernetes_rule_group(settings)
    assert group is not None
    (rule,) = [r for r in group.rules if getattr(r, "name", "") == "ScrapeTargetsMissing"]
    assert discovered_jobs(settings) == [
        jobs.NODE,
        jobs.CADVISOR,
        jobs.ALLOY,
        jobs.KUBE_STATE_METRICS,
        jobs.KUBELET,
    ]
    for job in discovered_jobs(settings):
        assert f'absent(up{{job="{job}"}})' in rule.expr
