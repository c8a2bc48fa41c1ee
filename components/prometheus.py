"""Prometheus: the server's port, files and flags (retention lives in flags, not in the file)."""

from __future__ import annotations

from components.model import Component, Port, Security
from monitoring import jobs
from monitoring.settings import ContentSettings

CONFIG_PATH = "/etc/prometheus/prometheus.yml"
DATA_DIR = "/prometheus"

COMPONENT = Component(
    name="prometheus",
    app="prometheus",
    image_key="prometheus",
    ports=(Port("http", 9090),),
    job=jobs.PROMETHEUS,
    security=Security(uid=65534),
    readiness_path="/-/ready",
    liveness_path="/-/healthy",
    config_files=(CONFIG_PATH,),
    data_dir=DATA_DIR,
)


def args(
    settings: ContentSettings,
    config_file: str = CONFIG_PATH,
    storage_path: str = DATA_DIR,
    web_config_file: str | None = None,
) -> list[str]:
    """Command-line flags of the Prometheus container (Docker and Kubernetes alike; the live
    tests run the real server with local paths)."""
    flags = [
        f"--config.file={config_file}",
        f"--storage.tsdb.path={storage_path}",
        f"--storage.tsdb.retention.time={settings.retention_time}",
    ]
    if settings.retention_size not in ("0", "", "0B"):
        flags.append(f"--storage.tsdb.retention.size={settings.retention_size}")
    if web_config_file:
        flags.append(f"--web.config.file={web_config_file}")
    if settings.replica_label or any("$" in value for _, value in settings.external_labels):
        # v3 always expands (`$$` is a `$`); 2.x the same only with this flag.
        flags.append("--enable-feature=expand-external-labels")
    return flags
