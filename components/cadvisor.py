"""cAdvisor: per-container metrics on Docker. On Kubernetes the kubelet embeds it."""

from __future__ import annotations

from components.model import Component, HostMount, Port, Security
from monitoring import jobs

COMPONENT = Component(
    name="cadvisor",
    app="cadvisor",
    image_key="cadvisor",
    ports=(Port("http", 8080),),
    job=jobs.CADVISOR,
    # cAdvisor's documented `docker run`: privileged and /dev/kmsg (OOM events), /dev/disk
    # (disk metrics); every host path read-only.
    security=Security(
        uid=0,
        host_mounts=(
            HostMount("/", "/rootfs"),
            HostMount("/var/run", "/var/run"),
            HostMount("/sys", "/sys"),
            HostMount("/var/lib/docker", "/var/lib/docker"),
            HostMount("/dev/disk", "/dev/disk"),
        ),
        privileged=True,
        devices=("/dev/kmsg",),
    ),
    readiness_path="/healthz",
    liveness_path="/healthz",
    on_kubernetes=False,
)


def args() -> list[str]:
    return [
        "--docker_only=true",
        "--housekeeping_interval=15s",
        "--store_container_labels=false",
        "--disable_metrics=advtcp,cpu_topology,cpuset,hugetlb,memory_numa,"
        "percpu,process,referenced_memory,resctrl,sched,tcp,udp",
    ]
