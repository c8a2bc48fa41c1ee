"""The blackbox exporter (only when a service has probes): ConfigMap with the rendered modules,
a Deployment with the same hardening as our other pods, and a Service Prometheus' `probe` job
calls. It needs no Kubernetes API access (no service account token). Its egress is not
restricted: probes reach the user's services wherever they are.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components import blackbox_exporter
from infra.kubernetes.common import (
    CHECKSUM_CONFIG,
    HTTP_PORT_NAME,
    Context,
    component_container,
    config_file_mount,
    config_map,
    config_volume,
    disruption_budget,
    file_name,
    pod_template,
    service,
    sha256_data,
    single_deployment,
    tmp_volume,
)

APP = blackbox_exporter.COMPONENT.app
UID = blackbox_exporter.COMPONENT.security.uid
CONFIG_MAP = "blackbox-exporter-config"


def create_blackbox_exporter(
    ctx: Context, prefix: str, blackbox_yml: str
) -> k8s.apps.v1.Deployment:
    data = {file_name(blackbox_exporter.CONFIG_PATH): blackbox_yml}
    config = config_map(ctx, f"{prefix}-blackbox-exporter-config", APP, CONFIG_MAP, data)
    svc = service(
        ctx,
        f"{prefix}-blackbox-exporter-service",
        APP,
        [(HTTP_PORT_NAME, blackbox_exporter.COMPONENT.port, "TCP")],
    )
    tmp, tmp_mount = tmp_volume()
    container = component_container(
        ctx,
        blackbox_exporter.COMPONENT,
        image=ctx.images.blackbox_exporter,
        args=blackbox_exporter.args(),
        volume_mounts=[config_file_mount(blackbox_exporter.CONFIG_PATH), tmp_mount],
    )
    pod = pod_template(
        APP,
        UID,
        {
            "containers": [container],
            "volumes": [config_volume(CONFIG_MAP), tmp],
        },
        annotations={CHECKSUM_CONFIG: sha256_data(data)},
    )
    deployment = single_deployment(
        ctx, f"{prefix}-blackbox-exporter", APP, pod, depends_on=[config, svc]
    )
    disruption_budget(ctx, f"{prefix}-blackbox-exporter-pdb", APP)
    return deployment
