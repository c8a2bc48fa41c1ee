"""Grafana Alloy: one pod per node, tailing the logs of that node's pods into Loki.

Decision: Alloy reads logs through the Kubernetes API (`loki.source.kubernetes`, rendered by
monitoring/logs.py), not from a hostPath. So it needs no host access at all and runs under
Pod Security "restricted" in the main namespace, as non-root with a read-only root filesystem.
Its only privilege is RBAC: get/list/watch pods and get pods/log, cluster-wide (read-only).
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components import alloy
from infra.kubernetes.common import (
    CHECKSUM_CONFIG,
    Context,
    component_container,
    config_file_mount,
    config_map,
    config_volume,
    daemon_set,
    env_from_field,
    file_name,
    pod_template,
    read_only_cluster_role,
    service_account,
    sha256_data,
    tmp_volume,
)

APP = alloy.COMPONENT.app
UID = alloy.COMPONENT.security.uid
CONFIG_FILE = file_name(alloy.CONFIG_PATH)
CONFIG_MAP = "alloy-config"

RBAC_RULES: list[k8s.rbac.v1.PolicyRuleArgsDict] = [
    {"api_groups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"api_groups": [""], "resources": ["pods/log"], "verbs": ["get"]},
]

# Run on every node, tainted control-plane nodes included: their pods log too.
TOLERATE_ALL: list[k8s.core.v1.TolerationArgsDict] = [{"operator": "Exists"}]


def create_alloy(ctx: Context, prefix: str) -> k8s.apps.v1.DaemonSet:
    account = service_account(ctx, f"{prefix}-alloy-sa", APP, token=True)
    binding = read_only_cluster_role(ctx, f"{prefix}-alloy", APP, account, RBAC_RULES)
    data = {CONFIG_FILE: ctx.content.alloy_config}
    config = config_map(ctx, f"{prefix}-alloy-config", APP, CONFIG_MAP, data)
    tmp, tmp_mount = tmp_volume()
    container = component_container(
        ctx,
        alloy.COMPONENT,
        image=ctx.images.alloy,
        args=alloy.args(),
        env=[env_from_field(alloy.NODE_NAME_ENV, "spec.nodeName")],
        # Not /-/healthy: it fails while Loki is down; a restart would not help.
        tcp_liveness=True,
        volume_mounts=[
            config_file_mount(alloy.CONFIG_PATH),
            {"name": "data", "mount_path": alloy.DATA_DIR},
            tmp_mount,
        ],
    )
    pod = pod_template(
        APP,
        UID,
        {
            "service_account_name": APP,
            "tolerations": TOLERATE_ALL,
            "containers": [container],
            "volumes": [
                config_volume(CONFIG_MAP),
                # Tail positions; survive container restarts on the same pod.
                {"name": "data", "empty_dir": {"size_limit": "1Gi"}},
                tmp,
            ],
        },
        annotations={CHECKSUM_CONFIG: sha256_data(data)},
        api_token=True,
    )
    return daemon_set(ctx, f"{prefix}-alloy", APP, pod, depends_on=[config, binding])
