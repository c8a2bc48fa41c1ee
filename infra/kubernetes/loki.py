"""Loki: single-binary StatefulSet with a PVC; retention by its compactor (see monitoring/logs.py).

Alloy pushes to and Grafana queries `loki.<ns>.svc:3100` (the governing headless Service).
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components import loki
from infra.kubernetes.common import (
    CHECKSUM_CONFIG,
    HTTP_PORT_NAME,
    Context,
    component_container,
    config_file_mount,
    config_map,
    config_volume,
    file_name,
    pod_template,
    service,
    sha256_data,
    stateful_set,
    tmp_volume,
)

APP = "loki"
CONFIG_FILE = file_name(loki.CONFIG_PATH)
UID = loki.COMPONENT.security.uid
CONFIG_MAP = "loki-config"


def create_loki(ctx: Context, prefix: str) -> k8s.apps.v1.StatefulSet:
    settings = ctx.settings
    data = {CONFIG_FILE: ctx.content.loki_yml}
    config = config_map(ctx, f"{prefix}-loki-config", APP, CONFIG_MAP, data)
    governing = service(
        ctx,
        f"{prefix}-loki-service",
        APP,
        [(HTTP_PORT_NAME, loki.COMPONENT.port, "TCP")],
        headless=True,
    )
    tmp, tmp_mount = tmp_volume()
    container = component_container(
        ctx,
        loki.COMPONENT,
        image=ctx.images.loki,
        args=[*loki.args(), "-target=all"],
        # /ready turns 200 about 15 s after start (ingester join delay).
        readiness_delay=15,
        tcp_liveness=True,
        liveness_delay=30,
        volume_mounts=[
            config_file_mount(loki.CONFIG_PATH),
            {"name": "data", "mount_path": loki.DATA_DIR},
            tmp_mount,
        ],
    )
    return stateful_set(
        ctx,
        f"{prefix}-loki",
        APP,
        replicas=1,
        data_size=settings.storage.loki,
        template=pod_template(
            APP,
            UID,
            {
                "termination_grace_period_seconds": 60,
                "containers": [container],
                "volumes": [config_volume(CONFIG_MAP), tmp],
            },
            annotations={CHECKSUM_CONFIG: sha256_data(data)},
        ),
        depends_on=[config, governing],
    )
