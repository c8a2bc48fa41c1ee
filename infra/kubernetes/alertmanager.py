"""Alertmanager: a gossip cluster of N peers (StatefulSet + headless Service).

Every peer lists every peer (`--cluster.peer`, port 9094 TCP+UDP). The headless Service
publishes not-ready pods so peers find each other while they start. Prometheus sends every
alert to every instance (ContentSettings.targets.alertmanagers), never through a load balancer.
alertmanager.yml is a Secret as a whole (webhook/heartbeat URLs are inline); Slack/PagerDuty/
SMTP secrets are files in a second Secret under `receivers.secrets_dir`.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import alertmanager
from components.alertmanager import MESH_PORT
from infra.kubernetes.common import (
    CHECKSUM_SECRET,
    HTTP_PORT_NAME,
    Context,
    component_container,
    config_file_mount,
    disruption_budget,
    env_from_field,
    file_name,
    pod_template,
    secret,
    secret_checksum,
    secret_volume,
    service,
    service_url,
    spread_across_nodes,
    stateful_set,
)

APP = "alertmanager"
CONFIG_FILE = file_name(alertmanager.CONFIG_PATH)
UID = alertmanager.COMPONENT.security.uid
CONFIG_SECRET = "alertmanager-config"
RECEIVERS_SECRET = "alertmanager-receivers"
MESH_TCP = "mesh-tcp"
MESH_UDP = "mesh-udp"


def peer_addresses(ctx: Context) -> list[str]:
    """host:9094 of every peer: `alertmanager-<i>.alertmanager.<ns>.svc.<domain>`."""
    host = ctx.settings.service_host(APP)
    return [f"{APP}-{i}.{host}:{MESH_PORT}" for i in range(ctx.settings.replicas.alertmanager)]


def external_url(ctx: Context) -> str:
    """Where notification links point (the ingress host, else the in-cluster Service)."""
    host = ctx.settings.ingress.alertmanager_host
    if host is not None:
        return f"https://{host}"
    return service_url(ctx, APP)


def alertmanager_args(ctx: Context) -> list[str]:
    args = [
        *alertmanager.base_args(external_url(ctx)),
        f"--cluster.listen-address=0.0.0.0:{MESH_PORT}",
        # $(POD_IP) is expanded by the kubelet from the env var below.
        f"--cluster.advertise-address=$(POD_IP):{MESH_PORT}",
    ]
    if ctx.settings.replicas.alertmanager > 1:
        args += [f"--cluster.peer={peer}" for peer in peer_addresses(ctx)]
    return args


def create_alertmanager(ctx: Context, prefix: str) -> k8s.apps.v1.StatefulSet:
    settings = ctx.settings
    content = ctx.content
    config_data: dict[str, pulumi.Output[str]] = {CONFIG_FILE: content.alertmanager_yml}
    config = secret(ctx, f"{prefix}-alertmanager-config", APP, CONFIG_SECRET, config_data)
    receiver_files = dict(content.alertmanager_secret_files)
    receivers = secret(
        ctx, f"{prefix}-alertmanager-receivers", APP, RECEIVERS_SECRET, receiver_files
    )
    governing = service(
        ctx,
        f"{prefix}-alertmanager-service",
        APP,
        [
            (HTTP_PORT_NAME, alertmanager.COMPONENT.port, "TCP"),
            (MESH_TCP, MESH_PORT, "TCP"),
            (MESH_UDP, MESH_PORT, "UDP"),
        ],
        headless=True,
        publish_not_ready=True,
    )
    checksum = secret_checksum(
        {**{f"config/{k}": v for k, v in config_data.items()}, **receiver_files}, ctx.checksum_key
    )
    container = component_container(
        ctx,
        alertmanager.COMPONENT,
        image=ctx.images.alertmanager,
        args=alertmanager_args(ctx),
        env=[env_from_field("POD_IP", "status.podIP")],
        volume_mounts=[
            config_file_mount(alertmanager.CONFIG_PATH),
            {
                "name": "receivers",
                "mount_path": content.settings.receivers.secrets_dir,
                "read_only": True,
            },
            {"name": "data", "mount_path": alertmanager.DATA_DIR},
        ],
    )
    statefulset = stateful_set(
        ctx,
        f"{prefix}-alertmanager",
        APP,
        replicas=settings.replicas.alertmanager,
        data_size=settings.storage.alertmanager,
        # All peers start together, so the cluster forms without waiting on readiness.
        parallel=True,
        template=pod_template(
            APP,
            UID,
            {
                "affinity": spread_across_nodes(APP),
                "containers": [container],
                "volumes": [
                    secret_volume("config", CONFIG_SECRET),
                    secret_volume("receivers", RECEIVERS_SECRET),
                ],
            },
            annotations={CHECKSUM_SECRET: checksum},
        ),
        depends_on=[config, receivers, governing],
    )
    disruption_budget(ctx, f"{prefix}-alertmanager-pdb", APP)
    return statefulset
