"""Loki: single binary, filesystem storage (its config is rendered by monitoring/logs.py)."""

from __future__ import annotations

from components.model import Component, Port, Security
from monitoring import jobs

CONFIG_PATH = "/etc/loki/loki.yml"
DATA_DIR = "/loki"
GRPC_PORT = 9096  # in-process only; never exposed

COMPONENT = Component(
    name="loki",
    app="loki",
    image_key="loki",
    ports=(Port("http", 3100),),
    job=jobs.LOKI,
    security=Security(uid=10001),
    # /busybox/wget exists in grafana/loki up to 3.5 (distroless:debug base); 3.6+ has no
    # shell and needs ["CMD", "/usr/bin/loki", "-health"] instead. See docs/infra.md.
    readiness_path="/ready",
    liveness_path="/ready",
    config_files=(CONFIG_PATH,),
    data_dir=DATA_DIR,
    start_period="60s",
)


def args() -> list[str]:
    return [f"-config.file={CONFIG_PATH}"]
