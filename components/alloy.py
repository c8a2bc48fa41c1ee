"""Grafana Alloy: ships container logs to Loki (its config is rendered by monitoring/logs.py)."""

from __future__ import annotations

from components.model import Component, Port, Security
from monitoring import jobs

CONFIG_PATH = "/etc/alloy/config.alloy"
DATA_DIR = "/var/lib/alloy/data"
NODE_NAME_ENV = "NODE_NAME"  # Kubernetes: set from the pod's spec.nodeName
DOCKER_SOCKET = "/var/run/docker.sock"  # where the Docker target mounts the host's socket

COMPONENT = Component(
    name="alloy",
    app=jobs.ALLOY_APP,
    image_key="alloy",
    # Named `metrics`: Prometheus discovers the DaemonSet's pods by this port name.
    ports=(Port(jobs.METRICS_PORT_NAME, 12345),),
    job=jobs.ALLOY,
    security=Security(uid=473),  # the image's `alloy` user
    readiness_path="/-/ready",
    # Not /-/healthy: it fails while Loki is down, and restarting Alloy would not help.
    liveness_path="/-/ready",
    probe_tool="bash",  # grafana/alloy has bash but neither wget nor curl
    config_files=(CONFIG_PATH,),
    data_dir=DATA_DIR,
)


def args() -> list[str]:
    """Listens on all interfaces for /metrics and /-/ready."""
    return [
        "run",
        f"--server.http.listen-addr=0.0.0.0:{COMPONENT.port}",
        f"--storage.path={DATA_DIR}",
        "--disable-reporting",
        CONFIG_PATH,
    ]
