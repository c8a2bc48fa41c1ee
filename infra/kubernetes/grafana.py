"""Grafana: one replica on a PVC (SQLite), secrets as files, ready before content is applied.

The admin password and secret_key come from a Secret mounted at grafana.SECRETS_DIR; the
server env (anonymous off, sign-up off, `GF_*__FILE` pointers) is non-secret and comes from
the content. The Deployment is awaited until its readinessProbe (/api/health) passes, and is
returned as `grafana_ready`: the Grafana provider's resources depend on it.

The pod template has a checksum of the extra secret files only (SMTP password): Grafana
reads the admin password only when it creates its database, and changing secret_key would
break what it encrypted, so restarting on those would not help.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import grafana
from infra.kubernetes.common import (
    CHECKSUM_SECRET,
    HTTP_PORT_NAME,
    Context,
    component_container,
    disruption_budget,
    pod_template,
    secret,
    secret_checksum,
    secret_volume,
    service,
    single_deployment,
    tmp_volume,
    unawaited_claim,
)

APP = grafana.COMPONENT.app
UID = grafana.COMPONENT.security.uid
SECRETS = "grafana-secrets"


def grafana_env(ctx: Context) -> list[k8s.core.v1.EnvVarArgsDict]:
    env = dict(ctx.content.grafana.env)
    env["GF_PATHS_DATA"] = grafana.DATA_DIR
    return [{"name": key, "value": value} for key, value in sorted(env.items())]


def create_grafana(ctx: Context, prefix: str) -> k8s.apps.v1.Deployment:
    settings = ctx.settings
    server = ctx.content.grafana
    secrets = secret(ctx, f"{prefix}-grafana-secrets", APP, SECRETS, server.secret_files)
    # Grafana reads SMTP's password at every start: roll it when that changes.
    annotations: dict[str, pulumi.Input[str]] = {}
    if server.extra_secret_files:
        annotations[CHECKSUM_SECRET] = secret_checksum(server.extra_secret_files, ctx.checksum_key)
    # The Deployment below is awaited until ready, which covers the volume.
    claim = unawaited_claim(
        ctx, f"{prefix}-grafana-data", APP, "grafana-data", settings.storage.grafana
    )
    service(
        ctx, f"{prefix}-grafana-service", APP, [(HTTP_PORT_NAME, grafana.COMPONENT.port, "TCP")]
    )
    tmp, tmp_mount = tmp_volume()
    container = component_container(
        ctx,
        grafana.COMPONENT,
        image=ctx.images.grafana,
        env=grafana_env(ctx),
        # First start runs database migrations.
        startup_failures=30,
        volume_mounts=[
            {"name": "data", "mount_path": grafana.DATA_DIR},
            {"name": "secrets", "mount_path": grafana.SECRETS_DIR, "read_only": True},
            tmp_mount,
            {"name": "logs", "mount_path": "/var/log/grafana"},
        ],
    )
    pod = pod_template(
        APP,
        UID,
        {
            "containers": [container],
            "volumes": [
                {"name": "data", "persistent_volume_claim": {"claim_name": "grafana-data"}},
                secret_volume("secrets", SECRETS),
                tmp,
                # GF_PATHS_LOGS of the image; logs go to the console (GF_LOG_MODE).
                {"name": "logs", "empty_dir": {"size_limit": "64Mi"}},
            ],
        },
        annotations=annotations,
    )
    deployment = single_deployment(
        ctx,
        f"{prefix}-grafana",
        APP,
        pod,
        # A ReadWriteOnce volume cannot be attached to the old and the new pod at once.
        strategy={"type": "Recreate"},
        depends_on=[secrets, claim],
    )
    disruption_budget(ctx, f"{prefix}-grafana-pdb", APP)
    return deployment
