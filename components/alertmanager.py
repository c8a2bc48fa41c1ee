"""Alertmanager: the API port, the gossip mesh port and the flags every instance starts with."""

from __future__ import annotations

from components.model import Component, Port, Security
from monitoring import jobs

CONFIG_PATH = "/etc/alertmanager/alertmanager.yml"
DATA_DIR = "/alertmanager"
MESH_PORT = 9094  # peers gossip over TCP and UDP

COMPONENT = Component(
    name="alertmanager",
    app="alertmanager",
    image_key="alertmanager",
    ports=(Port("http", 9093), Port("mesh-tcp", MESH_PORT), Port("mesh-udp", MESH_PORT, "UDP")),
    job=jobs.ALERTMANAGER,
    security=Security(uid=65534),
    readiness_path="/-/ready",
    liveness_path="/-/healthy",
    config_files=(CONFIG_PATH,),
    data_dir=DATA_DIR,
)


def base_args(external_url: str) -> list[str]:
    """The flags every target starts Alertmanager with; each adds its cluster flags."""
    return [
        f"--config.file={CONFIG_PATH}",
        f"--storage.path={DATA_DIR}",
        f"--web.listen-address=:{COMPONENT.port}",
        f"--web.external-url={external_url}",
    ]
