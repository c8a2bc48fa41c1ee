"""Prometheus: an HA pair (StatefulSet, one PVC per replica) with the same config.

Each replica labels its series `<replica_label>=<pod name>` (external label expanded from
$HOSTNAME, `--enable-feature=expand-external-labels`); alerts drop it (`alert_relabel_configs`),
so Alertmanager deduplicates the pair. Both replicas send to every Alertmanager.
The ServiceAccount may discover pods/nodes and read kubelet metrics (cAdvisor, volume stats).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import prometheus
from infra.kubernetes.common import (
    CHECKSUM_CONFIG,
    CHECKSUM_SECRET,
    HTTP_PORT_NAME,
    Context,
    component_container,
    config_file_mount,
    config_map,
    config_volume,
    disruption_budget,
    env_from_field,
    file_name,
    pod_template,
    read_only_cluster_role,
    secret,
    secret_checksum,
    secret_volume,
    service,
    service_account,
    sha256_data,
    spread_across_nodes,
    stateful_set,
)
from monitoring.scrape import (
    REMOTE_WRITE_PASSWORD_FILE,
    REMOTE_WRITE_TOKEN_FILE,
    REPLICA_LABEL_VALUE,
)

APP = "prometheus"
CONFIG_FILE = file_name(prometheus.CONFIG_PATH)
UID = prometheus.COMPONENT.security.uid
CONFIG_MAP = "prometheus-config"
RULES_MAP = "prometheus-rules"

# What kubernetes_sd_configs (pods, nodes) and the kubelet's /metrics/cadvisor need.
RBAC_RULES: list[k8s.rbac.v1.PolicyRuleArgsDict] = [
    {
        "api_groups": [""],
        "resources": ["nodes", "pods", "services", "endpoints"],
        "verbs": ["get", "list", "watch"],
    },
    # The kubelet's /metrics and /metrics/cadvisor. Never nodes/proxy: it allows exec in every
    # container on every node.
    {"api_groups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
    {
        "api_groups": ["discovery.k8s.io"],
        "resources": ["endpointslices"],
        "verbs": ["get", "list", "watch"],
    },
    {"non_resource_urls": ["/metrics"], "verbs": ["get"]},
]


def prometheus_args(ctx: Context) -> list[str]:
    """The content's flags, plus the external URL when Prometheus has an ingress host."""
    args = list(ctx.content.prometheus_args)
    host = ctx.settings.ingress.prometheus_host
    if host is not None:
        args.append(f"--web.external-url=https://{host}")
    return args


def replica_env(ctx: Context) -> list[k8s.core.v1.EnvVarArgsDict]:
    """$HOSTNAME is the pod name in a StatefulSet; set it explicitly from the pod's metadata
    so the replica label never depends on the container runtime."""
    if ctx.content.settings.replica_label is None:
        return []
    variable = REPLICA_LABEL_VALUE.strip("${}")
    return [env_from_field(variable, "metadata.name")]


REMOTE_WRITE_SECRET = "prometheus-remote-write"


def remote_write_secret(
    ctx: Context, prefix: str, credential: pulumi.Output[str] | None
) -> tuple[list[pulumi.Resource], dict[str, pulumi.Output[str]]]:
    """The remote_write password or token as a Secret file (none without remote_write auth):
    the resources to wait for and the pod annotations that roll Prometheus when it changes."""
    auth = ctx.content.settings.remote_write_auth
    if auth == "none" or credential is None:
        return [], {}
    name = REMOTE_WRITE_PASSWORD_FILE if auth == "basic" else REMOTE_WRITE_TOKEN_FILE
    files = {name: credential}
    created = secret(ctx, f"{prefix}-prometheus-remote-write", APP, REMOTE_WRITE_SECRET, files)
    return [created], {CHECKSUM_SECRET: secret_checksum(files, ctx.checksum_key)}


def create_prometheus(
    ctx: Context, prefix: str, remote_write_credential: pulumi.Output[str] | None = None
) -> k8s.apps.v1.StatefulSet:
    settings = ctx.settings
    content = ctx.content
    account = service_account(ctx, f"{prefix}-prometheus-sa", APP, token=True)
    binding = read_only_cluster_role(ctx, f"{prefix}-prometheus", APP, account, RBAC_RULES)
    config_data = {CONFIG_FILE: content.prometheus_yml}
    config = config_map(ctx, f"{prefix}-prometheus-config", APP, CONFIG_MAP, config_data)
    rules = config_map(ctx, f"{prefix}-prometheus-rules", APP, RULES_MAP, content.rule_files)
    # The governing headless Service: `prometheus-<i>.prometheus.<ns>.svc` per replica, and
    # `prometheus.<ns>.svc` resolves to every ready replica (Grafana's datasource).
    governing = service(
        ctx,
        f"{prefix}-prometheus-service",
        APP,
        [(HTTP_PORT_NAME, prometheus.COMPONENT.port, "TCP")],
        headless=True,
    )
    secrets, secret_annotations = remote_write_secret(ctx, prefix, remote_write_credential)
    mounts: list[k8s.core.v1.VolumeMountArgsDict] = [
        config_file_mount(prometheus.CONFIG_PATH),
        {"name": "rules", "mount_path": content.settings.rule_files_dir, "read_only": True},
        {"name": "data", "mount_path": prometheus.DATA_DIR},
    ]
    volumes: list[k8s.core.v1.VolumeArgsDict] = [
        config_volume(CONFIG_MAP),
        {"name": "rules", "config_map": {"name": RULES_MAP}},
    ]
    if secrets:
        mounts.append(
            {
                "name": "secrets",
                "mount_path": content.settings.prometheus_secrets_dir,
                "read_only": True,
            }
        )
        volumes.append(secret_volume("secrets", REMOTE_WRITE_SECRET))
    container = component_container(
        ctx,
        prometheus.COMPONENT,
        image=ctx.images.prometheus,
        args=prometheus_args(ctx),
        env=replica_env(ctx),
        # WAL replay can take minutes: startup gates the other probes.
        startup_failures=60,
        volume_mounts=mounts,
    )
    statefulset = stateful_set(
        ctx,
        f"{prefix}-prometheus",
        APP,
        replicas=settings.replicas.prometheus,
        data_size=settings.storage.prometheus,
        parallel=True,
        template=pod_template(
            APP,
            UID,
            {
                "service_account_name": APP,
                "affinity": spread_across_nodes(APP),
                "termination_grace_period_seconds": 120,
                "containers": [container],
                "volumes": volumes,
            },
            annotations={
                CHECKSUM_CONFIG: sha256_data({**config_data, **content.rule_files}),
                **secret_annotations,
            },
            api_token=True,
        ),
        depends_on=[config, rules, governing, binding, *secrets],
    )
    disruption_budget(ctx, f"{prefix}-prometheus-pdb", APP)
    return statefulset
