"""Loki: single-binary StatefulSet with a PVC; retention by its compactor (see monitoring/logs.py).

Alloy pushes to and Grafana queries `loki.<ns>.svc:3100` (the governing headless Service).
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from infra.kubernetes.common import (
    CHECKSUM_CONFIG,
    HTTP_PORT_NAME,
    UID_LOKI,
    Context,
    container_resources,
    container_security,
    http_probe,
    labels,
    metadata,
    pod_security,
    port,
    pvc_spec,
    selector_labels,
    service,
    sha256_data,
    tmp_volume,
)
from infra.targets import CONTAINER_PORTS, LOKI_CONFIG_PATH, LOKI_DATA_DIR

APP = "loki"
CONFIG_FILE = LOKI_CONFIG_PATH.rsplit("/", 1)[-1]
CONFIG_MAP = "loki-config"


def create_loki(ctx: Context, prefix: str) -> k8s.apps.v1.StatefulSet:
    settings = ctx.settings
    data = {CONFIG_FILE: ctx.content.loki_yml}
    config = k8s.core.v1.ConfigMap(
        f"{prefix}-loki-config",
        metadata=metadata(APP, ctx.namespace, CONFIG_MAP),
        data=data,
        opts=ctx.opts,
    )
    governing = service(
        ctx,
        f"{prefix}-loki-service",
        APP,
        [(HTTP_PORT_NAME, CONTAINER_PORTS["loki"], "TCP")],
        headless=True,
    )
    tmp, tmp_mount = tmp_volume()
    return k8s.apps.v1.StatefulSet(
        f"{prefix}-loki",
        metadata=metadata(APP, ctx.namespace),
        spec={
            "service_name": APP,
            "replicas": 1,
            "selector": {"match_labels": selector_labels(APP)},
            "persistent_volume_claim_retention_policy": {
                "when_deleted": "Retain",
                "when_scaled": "Retain",
            },
            "template": {
                "metadata": {
                    "labels": labels(APP),
                    "annotations": {CHECKSUM_CONFIG: sha256_data(data)},
                },
                "spec": {
                    "automount_service_account_token": False,
                    "security_context": pod_security(UID_LOKI),
                    "termination_grace_period_seconds": 60,
                    "containers": [
                        {
                            "name": APP,
                            "image": ctx.images.loki,
                            "args": [f"-config.file={LOKI_CONFIG_PATH}", "-target=all"],
                            "ports": [port(HTTP_PORT_NAME, "loki")],
                            # /ready turns 200 about 15 s after start (ingester join delay).
                            "readiness_probe": http_probe("/ready", initial_delay=15),
                            "liveness_probe": {
                                "tcp_socket": {"port": HTTP_PORT_NAME},
                                "initial_delay_seconds": 30,
                                "period_seconds": 20,
                                "timeout_seconds": 5,
                                "failure_threshold": 6,
                            },
                            "resources": container_resources(settings.resources.loki),
                            "security_context": container_security(UID_LOKI),
                            "volume_mounts": [
                                {
                                    "name": "config",
                                    "mount_path": LOKI_CONFIG_PATH,
                                    "sub_path": CONFIG_FILE,
                                    "read_only": True,
                                },
                                {"name": "data", "mount_path": LOKI_DATA_DIR},
                                tmp_mount,
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "config", "config_map": {"name": CONFIG_MAP}},
                        tmp,
                    ],
                },
            },
            "volume_claim_templates": [
                {
                    "metadata": {"name": "data", "labels": selector_labels(APP)},
                    "spec": pvc_spec(settings, settings.storage.loki),
                }
            ],
        },
        opts=ctx.with_deps(config, governing),
    )
