"""The stack watching itself: Prometheus' own storage and remote_write (both targets) and, on
Kubernetes, its pods, workloads and volumes through kube-state-metrics and kubelet volume stats.

Metric names, as exposed by the pinned versions:
- Prometheus (2.42 checked live, 3.x per the upstream prometheus-mixin):
  `prometheus_tsdb_compactions_failed_total`, `prometheus_remote_storage_samples_failed_total`
  (non-recoverable), `prometheus_remote_storage_samples_retried_total` (recoverable, e.g. the
  endpoint unreachable), `prometheus_remote_storage_highest_timestamp_in_seconds` and
  `prometheus_remote_storage_queue_highest_sent_timestamp_seconds` (absent until a first
  successful send).
- kube-state-metrics v2 (STABLE metrics): `kube_pod_container_status_waiting_reason{reason}`,
  `kube_pod_status_ready{condition}`, `kube_pod_status_phase{phase}`,
  `kube_statefulset_replicas`, `kube_statefulset_status_replicas_ready`,
  `kube_daemonset_status_desired_number_scheduled`, `kube_daemonset_status_number_ready`.
- kubelet `/metrics`: `kubelet_volume_stats_{available,capacity,used}_bytes{namespace,
  persistentvolumeclaim}`.
"""

from __future__ import annotations

from monitoring import dashboard_uids as uids
from monitoring import jobs
from monitoring.rules import AlertRule, RuleGroup, num
from monitoring.scrape import scrape_configs
from monitoring.settings import ContentSettings


def our_namespaces(settings: ContentSettings) -> list[str]:
    return sorted({settings.kubernetes_namespace, settings.node_exporter_namespace})


def namespace_matcher(settings: ContentSettings) -> str:
    """Label matcher for the stack's own namespaces (DNS labels: no regex characters)."""
    return f'namespace=~"{"|".join(our_namespaces(settings))}"'


# --- alerts ----------------------------------------------------------------------------------


def prometheus_storage_alerts(settings: ContentSettings) -> tuple[AlertRule, ...]:
    """Prometheus' TSDB and remote_write: on both targets (part of the meta group)."""
    t = settings.thresholds
    queue = "job, instance, remote_name, url"
    return (
        AlertRule(
            name="PrometheusTSDBCompactionsFailing",
            expr="increase(prometheus_tsdb_compactions_failed_total[3h]) > 0",
            for_=t.tsdb_compaction_for,
            severity="warning",
            category="meta",
            summary="Prometheus {{ $labels.instance }} fails to compact its TSDB blocks",
            description=(
                "{{ $value | humanize }} TSDB compactions failed on {{ $labels.instance }} in the"
                " last 3 hours: the head block grows in memory, and retention stops working"
                " (full disk, corrupt or overlapping blocks)."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="PrometheusRemoteWriteFailing",
            expr=(
                f"sum by ({queue}) (rate(prometheus_remote_storage_samples_failed_total[5m])) > 0"
                f" or sum by ({queue})"
                " (rate(prometheus_remote_storage_samples_retried_total[5m])) > 0"
            ),
            for_=t.remote_write_for,
            severity="warning",
            category="meta",
            summary="Prometheus {{ $labels.instance }} fails to remote-write to {{ $labels.url }}",
            description=(
                "Sending samples from {{ $labels.instance }} to {{ $labels.remote_name }}"
                " ({{ $labels.url }}) fails or is retried ({{ $value | humanize }} samples/s):"
                " the remote copy has gaps, or will once the WAL is truncated."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="PrometheusRemoteWriteBehind",
            expr=(
                "max_over_time(prometheus_remote_storage_highest_timestamp_in_seconds[5m])"
                " - ignoring (remote_name, url) group_right"
                " max_over_time(prometheus_remote_storage_queue_highest_sent_timestamp_seconds[5m])"
                f" > {t.remote_write_behind_seconds}"
            ),
            for_=t.remote_write_for,
            severity="warning",
            category="meta",
            summary="Prometheus {{ $labels.instance }} remote_write is behind",
            description=(
                "The newest sample sent to {{ $labels.remote_name }} ({{ $labels.url }}) is"
                " {{ $value | humanizeDuration }} older than the newest one appended on"
                f" {{{{ $labels.instance }}}} (limit {t.remote_write_behind_seconds}s): the"
                " endpoint is slow or the queue needs more shards."
            ),
            dashboard_uid=uids.META,
        ),
    )


def discovered_jobs(settings: ContentSettings) -> list[str]:
    """Jobs whose targets come from Kubernetes discovery (per-node DaemonSets, kubelets,
    kube-state-metrics once scraped): none found means every alert on that job is blind."""
    return [
        c["job_name"]
        for c in scrape_configs(settings)
        if "kubernetes_sd_configs" in c and c["job_name"] in jobs.ALL  # the stack's own jobs
    ]


def _targets_missing(settings: ContentSettings) -> AlertRule:
    # One absent() per job: each yields {job="<job>"} while that job has no target at all.
    return AlertRule(
        name="ScrapeTargetsMissing",
        expr=" or ".join(f'absent(up{{job="{job}"}})' for job in discovered_jobs(settings)),
        for_=settings.thresholds.meta_for,
        severity="warning",
        category="meta",
        summary="Prometheus discovers no target for job {{ $labels.job }}",
        description=(
            "Kubernetes discovery finds no {{ $labels.job }} target at all (no pod, or no"
            " node, matches): every alert on its metrics is silently blind."
        ),
        dashboard_uid=uids.META,
    )


def crash_looping_containers(settings: ContentSettings) -> str:
    """One series (value 1) per container of ours in CrashLoopBackOff in the last 5 minutes."""
    selector = f'reason="CrashLoopBackOff", {namespace_matcher(settings)}'
    return (
        "max by (job, namespace, pod, container) (max_over_time("
        f"kube_pod_container_status_waiting_reason{{{selector}}}[5m])) >= 1"
    )


def pods_not_ready(settings: ContentSettings) -> str:
    """One series per pod of ours that is not ready (finished pods excluded)."""
    selector = namespace_matcher(settings)
    return (
        f'max by (job, namespace, pod) (kube_pod_status_ready{{condition="true", {selector}}})'
        " == 0 unless on (namespace, pod)"
        f' max by (namespace, pod) (kube_pod_status_phase{{phase="Succeeded", {selector}}})'
        " == 1"
    )


def volume_free_ratio(settings: ContentSettings) -> str:
    selector = namespace_matcher(settings)
    return (
        f"kubelet_volume_stats_available_bytes{{{selector}}}"
        f" / kubelet_volume_stats_capacity_bytes{{{selector}}}"
    )


def _workload_alerts(settings: ContentSettings) -> tuple[AlertRule, ...]:
    t = settings.thresholds
    selector = namespace_matcher(settings)
    return (
        AlertRule(
            name="KubePodCrashLooping",
            expr=crash_looping_containers(settings),
            for_=t.kubernetes_for,
            severity="warning",
            category="meta",
            summary="Container {{ $labels.container }} of {{ $labels.pod }} is crash-looping",
            description=(
                "Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }}"
                " keeps crashing (CrashLoopBackOff): that part of the monitoring is down or"
                " restarting."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="KubePodNotReady",
            expr=pods_not_ready(settings),
            for_=t.kubernetes_for,
            severity="warning",
            category="meta",
            summary="Pod {{ $labels.namespace }}/{{ $labels.pod }} is not ready",
            description=(
                "Pod {{ $labels.namespace }}/{{ $labels.pod }} has not been ready for"
                f" {t.kubernetes_for} (pending, failing its readiness probe or unknown)."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="KubeStatefulSetReplicasShort",
            expr=(
                f"kube_statefulset_status_replicas_ready{{{selector}}}"
                f" < kube_statefulset_replicas{{{selector}}}"
            ),
            for_=t.kubernetes_for,
            severity="warning",
            category="meta",
            summary="StatefulSet {{ $labels.namespace }}/{{ $labels.statefulset }} is short of"
            " replicas",
            description=(
                "Only {{ $value }} replicas of StatefulSet {{ $labels.namespace }}/"
                "{{ $labels.statefulset }} are ready, fewer than desired."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="KubeDaemonSetPodsShort",
            expr=(
                f"kube_daemonset_status_number_ready{{{selector}}}"
                f" < kube_daemonset_status_desired_number_scheduled{{{selector}}}"
            ),
            for_=t.kubernetes_for,
            severity="warning",
            category="meta",
            summary="DaemonSet {{ $labels.namespace }}/{{ $labels.daemonset }} is short of pods",
            description=(
                "Only {{ $value }} pods of DaemonSet {{ $labels.namespace }}/"
                "{{ $labels.daemonset }} are ready, fewer than the nodes it should run on:"
                " those nodes are not watched."
            ),
            dashboard_uid=uids.META,
        ),
    )


def _volume_alerts(settings: ContentSettings) -> tuple[AlertRule, ...]:
    t = settings.thresholds
    available = f"kubelet_volume_stats_available_bytes{{{namespace_matcher(settings)}}}"
    free = volume_free_ratio(settings)
    horizon = t.volume_fill_days * 86400
    return (
        AlertRule(
            name="KubePersistentVolumeFillingUp",
            expr=(
                f"({free}) < {num(t.volume_fill_free_ratio)}"
                f" and predict_linear({available}[{t.volume_fill_window}], {horizon}) < 0"
            ),
            for_=t.volume_fill_for,
            severity="warning",
            category="meta",
            summary="Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} fills up"
            f" within {t.volume_fill_days} days",
            description=(
                "At the growth of the last"
                f" {t.volume_fill_window}, the volume claimed by {{{{ $labels.persistentvolumeclaim"
                f" }}}} in {{{{ $labels.namespace }}}} is full within {t.volume_fill_days} days;"
                " {{ $value | humanizePercentage }} is free now."
            ),
            dashboard_uid=uids.META,
        ),
        AlertRule(
            name="KubePersistentVolumeAlmostFull",
            expr=f"({free}) < {num(1 - t.volume_full_ratio)}",
            for_=t.volume_full_for,
            severity="critical",
            category="meta",
            summary="Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is over"
            f" {num(t.volume_full_ratio * 100)}% full",
            description=(
                "Only {{ $value | humanizePercentage }} of the volume claimed by"
                " {{ $labels.persistentvolumeclaim }} in {{ $labels.namespace }} is free"
                f" (limit {num(t.volume_full_ratio * 100)}% used): Prometheus or Loki stop"
                " writing when it is full."
            ),
            dashboard_uid=uids.META,
        ),
    )


def kubernetes_rule_group(settings: ContentSettings) -> RuleGroup | None:
    """The stack's own pods, workloads, volumes and discovered targets (Kubernetes only)."""
    if settings.discovery != "kubernetes":
        return None
    rules = (*_workload_alerts(settings), *_volume_alerts(settings), _targets_missing(settings))
    return RuleGroup("kubernetes", "kubernetes.yml", rules)
