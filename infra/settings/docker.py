"""Dev-only (local Docker) stack settings: one validated pydantic model, no Pulumi here.

Read from the structured config key `trading-monitoring:docker` (camelCase keys).
Resource sizes reuse the Kubernetes quantity syntax ("250m", "512Mi") so both stacks read alike:
Docker gets the limits (`cpus`, `memory`) and the memory request as a soft reservation.
"""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from infra.settings.base import ConfigModel
from infra.settings.resources import (
    ComputeResources,
    compute_resources,
    cpu_millicores,
    memory_bytes,
)
from validation import HOST_PATH_ALLOWED, InvalidValue, check_host_path

# Mount propagation of the host root that node-exporter reads: "rslave" sees mounts made after
# it started; "none" (no bind options) for Docker Desktop and rootless Docker, which refuse
# rslave because their "/" is not a shared mount.
HOST_ROOT_PROPAGATIONS = ("rslave", "none")
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")


class DockerResources(ConfigModel):
    """Per-container sizes (each replaces its default as a whole)."""

    prometheus: ComputeResources = compute_resources("250m", "512Mi", "1", "1Gi")
    alertmanager: ComputeResources = compute_resources("50m", "64Mi", "250m", "128Mi")
    grafana: ComputeResources = compute_resources("100m", "128Mi", "500m", "512Mi")
    loki: ComputeResources = compute_resources("100m", "256Mi", "500m", "512Mi")
    alloy: ComputeResources = compute_resources("50m", "64Mi", "250m", "256Mi")
    node_exporter: ComputeResources = compute_resources("20m", "16Mi", "200m", "64Mi")
    cadvisor: ComputeResources = compute_resources("50m", "64Mi", "300m", "256Mi")
    exporter: ComputeResources = compute_resources("50m", "64Mi", "500m", "256Mi")
    # Each instance of a standard component's exporter.
    postgres_exporter: ComputeResources = compute_resources("20m", "32Mi", "200m", "64Mi")
    redis_exporter: ComputeResources = compute_resources("20m", "16Mi", "200m", "64Mi")
    nginx_exporter: ComputeResources = compute_resources("10m", "16Mi", "100m", "32Mi")
    blackbox_exporter: ComputeResources = compute_resources("20m", "32Mi", "200m", "64Mi")
    demo_service: ComputeResources = compute_resources("20m", "32Mi", "200m", "128Mi")


class HostPorts(ConfigModel):
    """Ports published on 127.0.0.1 of the Docker host (only these, only on loopback)."""

    grafana: int = 3000
    prometheus: int = 9090
    alertmanager: int = 9093
    loki: int = 3100
    exporter: int = 9188

    @model_validator(mode="after")
    def _check(self) -> HostPorts:
        seen: dict[int, str] = {}
        for key in ("grafana", "prometheus", "alertmanager", "loki", "exporter"):
            port = getattr(self, key)
            if not 1024 <= port <= 65535:
                raise InvalidValue(key, port, "a port from 1024 to 65535")
            if port in seen:
                raise InvalidValue(key, port, f"a port not already used by ports.{seen[port]}")
            seen[port] = key
        return self


class DockerSettings(ConfigModel):
    """Everything the dev (Docker) target needs beyond ContentSettings."""

    # Prefix of every container, volume and network name (several stacks can share one engine).
    name_prefix: str = "tm"
    ports: HostPorts = Field(default_factory=HostPorts)
    resources: DockerResources = Field(default_factory=DockerResources)
    # Host path of the Docker socket, read-only for cAdvisor and Alloy (container logs).
    docker_socket: str = "/var/run/docker.sock"
    # The exporter reads a demo SQLite database it creates itself, unless the secret key
    # `exporterDatabaseDsn` points it at a real one.
    exporter_demo_database: bool = True
    # Absolute host path of a SQLite trading database, bind-mounted read-only into the exporter
    # container (instead of the demo database or a DSN).
    exporter_database_path: str | None = None
    host_root_propagation: str = "rslave"  # one of HOST_ROOT_PROPAGATIONS

    @model_validator(mode="after")
    def _check(self) -> DockerSettings:
        if not _NAME.match(self.name_prefix):
            raise InvalidValue(
                "namePrefix", self.name_prefix, "letters, digits, '_', '.', '-' (max 63)"
            )
        # Host paths bind-mounted into containers: never the host root or outside of the
        # directory named (`/` as the socket would hand Alloy and cAdvisor the whole host).
        check_host_path("dockerSocket", self.docker_socket)
        path = self.exporter_database_path
        if path is not None:
            check_host_path("exporterDatabasePath", path, f"{HOST_PATH_ALLOWED}, of a file")
            if path.endswith("/"):
                raise InvalidValue("exporterDatabasePath", path, "the path of a SQLite file")
            if not self.exporter_demo_database:
                raise InvalidValue(
                    "exporterDatabasePath",
                    path,
                    "unset when exporterDemoDatabase is false (the DSN secret names the database)",
                )
        if self.host_root_propagation not in HOST_ROOT_PROPAGATIONS:
            raise InvalidValue(
                "hostRootPropagation",
                self.host_root_propagation,
                "'rslave' (Linux Docker Engine) or 'none' (Docker Desktop, rootless Docker)",
            )
        return self


def docker_memory_mb(resources: ComputeResources) -> tuple[int, int]:
    """(limit, reservation) in MB, as `docker.Container(memory=, memory_reservation=)` wants."""
    limit = int(memory_bytes("memoryLimit", resources.memory_limit)) // 2**20
    reservation = int(memory_bytes("memoryRequest", resources.memory_request)) // 2**20
    return max(limit, 6), max(min(reservation, limit), 6)


def docker_cpus(resources: ComputeResources) -> str:
    """CPU limit as `docker.Container(cpus=...)` wants: a decimal number of CPUs, e.g. "0.5"."""
    millicores = cpu_millicores("cpuLimit", resources.cpu_limit)
    return format((millicores / 1000).normalize(), "f")
