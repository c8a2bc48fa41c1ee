"""Our exporter: image built from exporter/ and pushed to the configured registry, then a
Deployment (one replica: Prometheus scrapes it through its Service) and a Service.

The Deployment references `image.repo_digest`, so every rebuild that changes the image rolls
the pod. The database is either a URL in a Secret file (`--db-url-file`, never in argv/env)
or an SQLite file on a PVC. Readiness is /healthz, not /readyz: a database outage must show
up as `trading_exporter_database_up 0` on a scraped target, not as a vanished target.
"""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from components import exporter
from infra.kubernetes.common import (
    CHECKSUM_CONFIG,
    CHECKSUM_SECRET,
    METRICS_PORT_NAME,
    Context,
    as_secret,
    component_container,
    config_file_mount,
    config_map,
    config_volume,
    disruption_budget,
    file_name,
    pod_template,
    secret,
    secret_checksum,
    secret_volume,
    service,
    sha256_data,
    single_deployment,
    tmp_volume,
    unawaited_claim,
)

APP = exporter.COMPONENT.app
UID = exporter.COMPONENT.security.uid
CONFIG_MAP = "exporter-config"
DATABASE_SECRET = "exporter-database"
PULL_SECRET = "exporter-registry"
DATA_DIR = "/data"
CONFIG_FILE = file_name(exporter.CONFIG_PATH)


def docker_config_json(server: str, username: str, password: str) -> str:
    """The `.dockerconfigjson` of an image pull Secret."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps(
        {"auths": {server: {"username": username, "password": password, "auth": auth}}}
    )


def build_image(ctx: Context, prefix: str, registry_password: pulumi.Output[str]) -> docker.Image:
    """Build exporter/ and push it (`pulumi up` needs a Docker engine and the registry)."""
    registry = ctx.settings.registry
    return docker.Image(
        f"{prefix}-exporter-image",
        image_name=registry.image_name,
        build={
            "context": exporter.BUILD_CONTEXT,
            "dockerfile": exporter.DOCKERFILE,
            "platform": exporter.PUSH_PLATFORM,
            "args": {"PYTHON_IMAGE": ctx.images.python_base},
        },
        registry={
            "server": registry.server,
            "username": registry.username,
            "password": as_secret(registry_password),
        },
        opts=pulumi.ResourceOptions(parent=ctx.opts.parent),
    )


def exporter_args(ctx: Context) -> list[str]:
    database = ctx.settings.exporter_database
    if database.mode == "dsn":
        return exporter.serve_args(exporter.database_url_args())
    return exporter.serve_args(exporter.sqlite_args(database.path))


def create_exporter(
    ctx: Context,
    prefix: str,
    registry_password: pulumi.Output[str],
    database_url: pulumi.Output[str] | None,
) -> k8s.apps.v1.Deployment:
    """`database_url` (secret) is required in mode "dsn" (checked by infra/settings/stack.py)."""
    settings = ctx.settings
    registry = settings.registry
    image = build_image(ctx, prefix, registry_password)
    pull_secret = secret(
        ctx,
        f"{prefix}-exporter-registry",
        APP,
        PULL_SECRET,
        {
            ".dockerconfigjson": as_secret(registry_password).apply(
                lambda password: docker_config_json(registry.server, registry.username, password)
            )
        },
        secret_type="kubernetes.io/dockerconfigjson",
    )
    config_data = {CONFIG_FILE: ctx.content.exporter_config_yml}
    config = config_map(ctx, f"{prefix}-exporter-config", APP, CONFIG_MAP, config_data)
    service(
        ctx,
        f"{prefix}-exporter-service",
        APP,
        [(METRICS_PORT_NAME, exporter.COMPONENT.port, "TCP")],
    )
    tmp, tmp_mount = tmp_volume()
    mounts: list[k8s.core.v1.VolumeMountArgsDict] = [
        config_file_mount(exporter.CONFIG_PATH),
        tmp_mount,
    ]
    volumes: list[k8s.core.v1.VolumeArgsDict] = [
        config_volume(CONFIG_MAP),
        tmp,
    ]
    annotations: dict[str, pulumi.Input[str]] = {CHECKSUM_CONFIG: sha256_data(config_data)}
    deps: list[pulumi.Resource] = [config, pull_secret]
    database = settings.exporter_database
    if database.mode == "dsn":
        if database_url is None:
            raise ValueError(
                "kubernetes.exporterDatabase.mode = 'dsn' needs the secret key exporterDatabaseDsn"
            )
        files = {file_name(exporter.DATABASE_URL_PATH): database_url}
        deps.append(secret(ctx, f"{prefix}-exporter-database", APP, DATABASE_SECRET, files))
        annotations[CHECKSUM_SECRET] = secret_checksum(files, ctx.checksum_key)
        mounts.append({"name": "database", "mount_path": exporter.SECRETS_DIR, "read_only": True})
        volumes.append(secret_volume("database", DATABASE_SECRET))
    else:
        claim_name = database.existing_claim or "exporter-data"
        if database.existing_claim is None:
            deps.append(
                unawaited_claim(
                    ctx, f"{prefix}-exporter-data", APP, claim_name, settings.storage.exporter
                )
            )
        # Read-write: SQLite needs its -shm/-wal files even for read-only queries.
        mounts.append({"name": "database", "mount_path": DATA_DIR})
        volumes.append({"name": "database", "persistent_volume_claim": {"claim_name": claim_name}})
    container = component_container(
        ctx,
        exporter.COMPONENT,
        image=image.repo_digest,
        command=exporter.ENTRYPOINT,
        args=exporter_args(ctx),
        volume_mounts=mounts,
    )
    pod = pod_template(
        APP,
        UID,
        {
            "image_pull_secrets": [{"name": PULL_SECRET}],
            "containers": [container],
            "volumes": volumes,
        },
        annotations=annotations,
    )
    deployment = single_deployment(
        ctx,
        f"{prefix}-exporter",
        APP,
        pod,
        strategy={"type": "Recreate" if database.mode == "pvc" else "RollingUpdate"},
        depends_on=deps,
    )
    disruption_budget(ctx, f"{prefix}-exporter-pdb", APP)
    return deployment
