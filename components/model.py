"""The component contract: everything about one container that both targets need, as data.

A `Component` says which image it runs, which ports it listens on, which files it reads and
where, how to ask whether it is healthy, how Prometheus scrapes it and what it needs from the
host. `infra/docker` and `infra/kubernetes` build their resources from it; neither repeats a
port, a path or a flag. No Pulumi here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

# How a Docker healthcheck reaches the HTTP health path with what the image ships:
# "wget" (busybox or curl fallbacks), "bash" (/dev/tcp, images without wget/curl),
# "python" (our exporter image), "none" (a `FROM scratch` image: Kubernetes HTTP probes only).
ProbeTool = Literal["wget", "bash", "python", "none"]

# Log lines are labelled `service=<Component.app>`: Alloy reads it from this Docker container
# label, and on Kubernetes from the pod label `app.kubernetes.io/name` (monitoring/jobs.py).
DOCKER_SERVICE_LABEL = "tm.service"


@dataclass(frozen=True)
class Port:
    name: str  # the Kubernetes port name ("http", "metrics", "mesh-tcp")
    number: int
    protocol: Literal["TCP", "UDP"] = "TCP"


@dataclass(frozen=True)
class HostMount:
    """A host path the component reads, read-only (Docker bind mount / Kubernetes hostPath).

    `follow_new_mounts`: also see filesystems the host mounts later (mount propagation)."""

    host_path: str
    container_path: str
    follow_new_mounts: bool = False


@dataclass(frozen=True)
class Security:
    """What the component needs beyond "restricted": a user, host access, privileges."""

    uid: int  # the image's user (numeric, so runAsNonRoot can be verified)
    host_mounts: tuple[HostMount, ...] = ()
    host_pid: bool = False
    host_network: bool = False  # Kubernetes only: Docker keeps it on the stack network
    privileged: bool = False  # Docker only (cAdvisor's documented `docker run`)
    devices: tuple[str, ...] = ()  # host device paths, same path inside (Docker)


@dataclass(frozen=True)
class Component:
    """One container of the stack. `name` is also its key in the image and resource settings."""

    name: str  # "node_exporter": key of images.*, resources.*, ports
    app: str  # "node-exporter": container name suffix and `app.kubernetes.io/name`
    image_key: str | None  # field of ImagesConfig; None: built from this repository
    ports: tuple[Port, ...]  # the first is the one Prometheus scrapes and probes use
    job: str | None  # Prometheus job name (monitoring/jobs.py); None: not scraped
    security: Security
    readiness_path: str
    liveness_path: str
    probe_tool: ProbeTool = "wget"
    config_files: tuple[str, ...] = ()  # container paths of the files it reads
    data_dir: str | None = None  # persistent data (volume / PVC); None: stateless
    start_period: str = "30s"  # Docker healthcheck grace (first start, WAL replay)
    on_kubernetes: bool = True  # False: the cluster provides it (cAdvisor is in the kubelet)

    def instance(self, name: str) -> Component:
        """The same contract for one of several instances (`app` becomes `<app>-<name>`)."""
        return dataclasses.replace(self, app=f"{self.app}-{name}")

    @property
    def port(self) -> int:
        return self.ports[0].number

    @property
    def port_name(self) -> str:
        return self.ports[0].name

    @property
    def config_file(self) -> str:
        """The main config file (components with exactly one)."""
        if not self.config_files:
            raise ValueError(f"component {self.name} reads no config file")
        return self.config_files[0]
