"""The exporters of the declared PostgreSQL, Redis and NGINX instances: per instance a
Deployment (one replica), its Service (Prometheus scrapes it by DNS name), a Secret with its
password file and a ConfigMap with our queries file when it has one.

Passwords reach the pod only as Secret files (`DATA_SOURCE_PASS_FILE`,
`--redis.password-file`), never as env or ConfigMap; checksums on the pod template roll the
pod when a file changes. Probes hit the landing page, so a database outage is `pg_up 0` on a
live target, not a restarting pod.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.kubernetes.common import (
    CHECKSUM_CONFIG,
    CHECKSUM_SECRET,
    METRICS_PORT_NAME,
    Context,
    component_container,
    config_map,
    pod_template,
    secret,
    secret_checksum,
    secret_volume,
    service,
    sha256_data,
    single_deployment,
    tmp_volume,
)
from infra.targets import ComponentExporter
from monitoring.thirdparty import exporters


def create_component_exporters(ctx: Context, prefix: str) -> list[k8s.apps.v1.Deployment]:
    return [_exporter(ctx, prefix, deployed) for deployed in ctx.content.component_exporters]


def _exporter(ctx: Context, prefix: str, deployed: ComponentExporter) -> k8s.apps.v1.Deployment:
    component = deployed.component
    app, uid = component.app, component.security.uid
    assert component.image_key is not None
    service(ctx, f"{prefix}-{app}-service", app, [(METRICS_PORT_NAME, component.port, "TCP")])
    tmp, tmp_mount = tmp_volume()
    mounts: list[k8s.core.v1.VolumeMountArgsDict] = [tmp_mount]
    volumes: list[k8s.core.v1.VolumeArgsDict] = [tmp]
    annotations: dict[str, pulumi.Input[str]] = {}
    deps: list[pulumi.Resource] = []
    if deployed.config_files:
        deps.append(config_map(ctx, f"{prefix}-{app}-config", app, app, deployed.config_files))
        annotations[CHECKSUM_CONFIG] = sha256_data(deployed.config_files)
        mounts.append({"name": "config", "mount_path": exporters.CONFIG_DIR, "read_only": True})
        volumes.append({"name": "config", "config_map": {"name": app}})
    if deployed.secret_files:
        deps.append(secret(ctx, f"{prefix}-{app}-secret", app, app, deployed.secret_files))
        annotations[CHECKSUM_SECRET] = secret_checksum(deployed.secret_files, ctx.checksum_key)
        mounts.append({"name": "secrets", "mount_path": exporters.SECRETS_DIR, "read_only": True})
        volumes.append(secret_volume("secrets", app))
    container = component_container(
        ctx,
        component,
        image=getattr(ctx.images, component.image_key),
        args=list(deployed.command.args),
        env=[{"name": key, "value": value} for key, value in deployed.command.env],
        volume_mounts=mounts,
    )
    pod = pod_template(
        app,
        uid,
        {
            "containers": [container],
            "volumes": volumes,
        },
        annotations=annotations,
    )
    return single_deployment(ctx, f"{prefix}-{app}", app, pod, depends_on=deps)
