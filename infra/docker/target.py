"""Dev target: every service as a container on one Docker network (pulumi-docker 5.x).

- Config reaches containers as uploads, so a config change replaces exactly the containers
  that read it. Secret uploads are secret Outputs.
- Data lives in named volumes that are retained when Pulumi deletes them (`retain_on_delete`),
  so it survives container replacement and `pulumi destroy`.
- Every container has a pinned image, a healthcheck that `pulumi up` waits for, limits and a
  restart policy. Fixed names and host ports collide under create-before-delete replacement,
  so every named resource is replaced delete-before-create.
- Host ports are published on 127.0.0.1 only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from infra.config import StackConfig
from infra.docker.settings import DockerSettings, docker_cpus, docker_memory_mb
from infra.kubernetes.settings import ComputeResources
from infra.targets import (
    ALERTMANAGER_CONFIG_PATH,
    ALERTMANAGER_DATA_DIR,
    ALLOY_CONFIG_PATH,
    ALLOY_DATA_DIR,
    CONTAINER_PORTS,
    EXPORTER_CONFIG_PATH,
    GRAFANA_DATA_DIR,
    GRAFANA_SECRETS_DIR,
    LOKI_CONFIG_PATH,
    LOKI_DATA_DIR,
    PROMETHEUS_CONFIG_PATH,
    PROMETHEUS_DATA_DIR,
    RenderedContent,
    TargetEndpoints,
    alertmanager_base_args,
)
from monitoring.logs import alloy_args

LOOPBACK = "127.0.0.1"
# Build context and Dockerfile of our exporter, relative to the project directory.
EXPORTER_CONTEXT = "."
EXPORTER_DOCKERFILE = "exporter/Dockerfile"
EXPORTER_PLATFORM = "linux/amd64"  # for images pushed to a cluster (prod)


def http_healthcheck(port: int, path: str) -> list[str]:
    """A check that runs with busybox wget or curl, whichever the image has (the Loki image is
    distroless:debug, with busybox under /busybox)."""
    url = f"http://127.0.0.1:{port}{path}"
    fetch = f"-q -O /dev/null {url}"
    return [
        "CMD-SHELL",
        f"wget {fetch} || /busybox/wget {fetch} || curl -fsS -o /dev/null {url} || exit 1",
    ]


def bash_healthcheck(port: int, path: str) -> list[str]:
    """For images with bash but neither wget nor curl (grafana/alloy): HTTP over /dev/tcp."""
    script = (
        f"exec 3<>/dev/tcp/127.0.0.1/{port} && "
        f"printf 'GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && "
        "head -n 1 <&3 | grep -q ' 200 '"
    )
    return ["CMD", "bash", "-c", script]


def python_healthcheck(port: int, path: str) -> list[str]:
    """For our exporter image (python, no wget/curl)."""
    code = (
        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=4)"
    )
    return ["CMD", "python", "-c", code]


@dataclass
class ContainerSpec:
    """One container: everything that differs between the services."""

    service: str  # key in CONTAINER_PORTS and DockerResources
    image: pulumi.Input[str]
    healthcheck: list[str]
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    envs: list[str] = field(default_factory=list)
    uploads: list[docker.ContainerUploadArgs] = field(default_factory=list)
    volumes: list[docker.ContainerVolumeArgs] = field(default_factory=list)
    mounts: list[docker.ContainerMountArgs] = field(default_factory=list)
    host_port: int | None = None  # published on 127.0.0.1
    start_period: str = "30s"
    user: str | None = None
    pid_mode: str | None = None
    privileged: bool = False
    devices: list[str] = field(default_factory=list)  # host device paths, same path inside
    # `host.docker.internal` -> the Docker host (Linux needs it explicitly), for services
    # that talk to something on the host, e.g. a local SMTP catcher.
    reach_host: bool = False
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class DockerTarget(pulumi.ComponentResource):
    """The dev stack on the local Docker engine."""

    endpoints: TargetEndpoints

    def __init__(
        self,
        name: str,
        config: StackConfig,
        content: RenderedContent,
        exporter_database_url: pulumi.Output[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`exporter_database_url` (secret): the trading database; None serves a demo one."""
        super().__init__("trading-monitoring:dev:DockerTarget", name, None, opts)
        self._settings: DockerSettings = config.docker_settings
        self._prefix = self._settings.name_prefix
        self._child = pulumi.ResourceOptions(parent=self)
        settings = self._settings
        images = config.images

        self.network = docker.Network(
            "network",
            name=f"{self._prefix}-monitoring",
            driver="bridge",
            labels=[docker.NetworkLabelArgs(label="tm.stack", value=pulumi.get_stack())],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.volumes = {
            service: self._volume(service)
            for service in ("prometheus", "alertmanager", "grafana", "loki", "alloy")
        }

        self.exporter_image = docker.Image(
            "exporter-image",
            image_name=f"trading-monitoring/exporter:{config.environment}",
            build=docker.DockerBuildArgs(
                context=EXPORTER_CONTEXT,
                dockerfile=EXPORTER_DOCKERFILE,
                # Dev builds for the local engine's own platform (no emulation on arm64).
                args={"PYTHON_IMAGE": images.python_base},
            ),
            skip_push=True,
            opts=self._child,
        )

        rules_dir = content.settings.rule_files_dir
        prometheus = self._container(
            ContainerSpec(
                service="prometheus",
                image=self._pull("prometheus", images.prometheus),
                command=[
                    *content.prometheus_args,
                    f"--web.external-url=http://{LOOPBACK}:{settings.ports.prometheus}",
                ],
                healthcheck=http_healthcheck(CONTAINER_PORTS["prometheus"], "/-/ready"),
                uploads=[_upload(PROMETHEUS_CONFIG_PATH, content.prometheus_yml)]
                + [
                    _upload(f"{rules_dir}/{file_name}", text)
                    for file_name, text in sorted(content.rule_files.items())
                ],
                volumes=[self._data("prometheus", PROMETHEUS_DATA_DIR)],
                host_port=settings.ports.prometheus,
            )
        )
        secrets_dir = content.settings.receivers.secrets_dir
        alertmanager = self._container(
            ContainerSpec(
                service="alertmanager",
                image=self._pull("alertmanager", images.alertmanager),
                command=[
                    *alertmanager_base_args(f"http://{LOOPBACK}:{settings.ports.alertmanager}"),
                    "--cluster.listen-address=",  # a single instance: no gossip
                ],
                healthcheck=http_healthcheck(CONTAINER_PORTS["alertmanager"], "/-/ready"),
                uploads=[
                    _secret_upload(ALERTMANAGER_CONFIG_PATH, content.alertmanager_yml),
                    *_secret_file_uploads(secrets_dir, content.alertmanager_secret_files),
                ],
                volumes=[self._data("alertmanager", ALERTMANAGER_DATA_DIR)],
                host_port=settings.ports.alertmanager,
                reach_host=True,
            )
        )
        loki = self._container(
            ContainerSpec(
                service="loki",
                image=self._pull("loki", images.loki),
                command=[f"-config.file={LOKI_CONFIG_PATH}"],
                # /busybox/wget exists in grafana/loki up to 3.5 (distroless:debug base); 3.6+
                # has no shell. Releases whose binary has `-health` (grafana/loki#20313, not
                # 3.4.2) need ["CMD", "/usr/bin/loki", "-health"] instead. See docs/infra.md.
                healthcheck=http_healthcheck(CONTAINER_PORTS["loki"], "/ready"),
                uploads=[_upload(LOKI_CONFIG_PATH, content.loki_yml)],
                volumes=[self._data("loki", LOKI_DATA_DIR)],
                host_port=settings.ports.loki,
                start_period="60s",
            )
        )
        grafana_server = content.grafana
        grafana = self._container(
            ContainerSpec(
                service="grafana",
                image=self._pull("grafana", images.grafana),
                envs=[f"{key}={value}" for key, value in sorted(grafana_server.env.items())],
                entrypoint=["/bin/sh", "-c"],
                command=[
                    grafana_start_script(
                        grafana_server.admin_password_path, grafana_server.secret_key_path
                    )
                ],
                healthcheck=http_healthcheck(CONTAINER_PORTS["grafana"], "/api/health"),
                uploads=_secret_file_uploads(GRAFANA_SECRETS_DIR, grafana_server.secret_files),
                volumes=[self._data("grafana", GRAFANA_DATA_DIR)],
                host_port=settings.ports.grafana,
                reach_host=True,
                start_period="60s",
                depends_on=[prometheus, loki, alertmanager],
            )
        )
        socket = settings.docker_socket
        self._container(
            ContainerSpec(
                service="alloy",
                image=self._pull("alloy", images.alloy),
                command=alloy_args(ALLOY_CONFIG_PATH),
                healthcheck=bash_healthcheck(CONTAINER_PORTS["alloy"], "/-/ready"),
                uploads=[_upload(ALLOY_CONFIG_PATH, content.alloy_config)],
                volumes=[
                    self._data("alloy", ALLOY_DATA_DIR),
                    docker.ContainerVolumeArgs(
                        host_path=socket, container_path="/var/run/docker.sock", read_only=True
                    ),
                ],
                depends_on=[loki],
            )
        )
        self._container(
            ContainerSpec(
                service="node_exporter",
                image=self._pull("node-exporter", images.node_exporter),
                command=["--path.rootfs=/host"],
                healthcheck=http_healthcheck(CONTAINER_PORTS["node_exporter"], "/metrics"),
                mounts=[host_root_mount(settings.host_root_propagation)],
                pid_mode="host",
                # On the bridge network (Prometheus scrapes it by name, nothing published):
                # node_network_* are this container's interfaces. See docs/infra.md.
            )
        )
        self._container(
            ContainerSpec(
                service="cadvisor",
                image=self._pull("cadvisor", images.cadvisor),
                command=[
                    "--docker_only=true",
                    "--housekeeping_interval=15s",
                    "--store_container_labels=false",
                    "--disable_metrics=advtcp,cpu_topology,cpuset,hugetlb,memory_numa,"
                    "percpu,process,referenced_memory,resctrl,sched,tcp,udp",
                ],
                healthcheck=http_healthcheck(CONTAINER_PORTS["cadvisor"], "/healthz"),
                # cAdvisor's documented `docker run`: privileged and /dev/kmsg (OOM events),
                # /dev/disk (disk metrics); every host path read-only.
                privileged=True,
                devices=["/dev/kmsg"],
                volumes=[
                    _bind("/", "/rootfs"),
                    _bind("/var/run", "/var/run"),
                    _bind("/sys", "/sys"),
                    _bind("/var/lib/docker", "/var/lib/docker"),
                    _bind("/dev/disk", "/dev/disk"),
                ],
            )
        )
        entrypoint, command = exporter_entrypoint(
            exporter_database_url is not None, [m.code for m in content.settings.markets]
        )
        exporter_uploads = [_upload(EXPORTER_CONFIG_PATH, content.exporter_config_yml)]
        if exporter_database_url is not None:
            exporter_uploads.append(_secret_upload(EXPORTER_DB_URL_FILE, exporter_database_url))
        exporter = self._container(
            ContainerSpec(
                service="exporter",
                image=self.exporter_image.repo_digest,
                entrypoint=entrypoint,
                command=command,
                healthcheck=python_healthcheck(CONTAINER_PORTS["exporter"], "/healthz"),
                uploads=exporter_uploads,
                host_port=settings.ports.exporter,
            )
        )

        def local(port: int) -> pulumi.Output[str]:
            return pulumi.Output.from_input(f"http://{LOOPBACK}:{port}")

        # Derived from the healthy container, so the Grafana provider runs after it.
        grafana_url = grafana.name.apply(lambda _: f"http://{LOOPBACK}:{settings.ports.grafana}")
        self.endpoints = TargetEndpoints(
            grafana_api_url=grafana_url,
            grafana_url=grafana_url,
            prometheus_url=local(settings.ports.prometheus),
            alertmanager_url=local(settings.ports.alertmanager),
            exporter_url=exporter.name.apply(
                lambda _: f"http://{LOOPBACK}:{settings.ports.exporter}/metrics"
            ),
            grafana_ready=grafana,
        )
        self.register_outputs({"network": self.network.name})

    def _volume(self, service: str) -> docker.Volume:
        return docker.Volume(
            f"{service}-data",
            name=f"{self._prefix}-{service}-data",
            labels=[docker.VolumeLabelArgs(label="tm.service", value=service)],
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=True, delete_before_replace=True
            ),
        )

    def _data(self, service: str, path: str) -> docker.ContainerVolumeArgs:
        return docker.ContainerVolumeArgs(
            volume_name=self.volumes[service].name, container_path=path
        )

    def _pull(self, name: str, ref: str) -> pulumi.Output[str]:
        image = docker.RemoteImage(f"{name}-image", name=ref, keep_locally=True, opts=self._child)
        return image.image_id

    def _container(self, spec: ContainerSpec) -> docker.Container:
        resources: ComputeResources = getattr(self._settings.resources, spec.service)
        memory, reservation = docker_memory_mb(resources)
        dashed = spec.service.replace("_", "-")
        name = f"{self._prefix}-{dashed}"
        ports = (
            [
                docker.ContainerPortArgs(
                    internal=CONTAINER_PORTS[spec.service], external=spec.host_port, ip=LOOPBACK
                )
            ]
            if spec.host_port is not None
            else []
        )
        return docker.Container(
            dashed,
            name=name,
            hostname=name,
            image=spec.image,
            command=spec.command,
            entrypoints=spec.entrypoint,
            envs=spec.envs or None,
            uploads=spec.uploads or None,
            volumes=spec.volumes or None,
            mounts=spec.mounts or None,
            ports=ports or None,
            user=spec.user,
            pid_mode=spec.pid_mode,
            privileged=spec.privileged or None,
            devices=[
                docker.ContainerDeviceArgs(host_path=path, container_path=path)
                for path in spec.devices
            ]
            or None,
            hosts=[docker.ContainerHostArgs(host="host.docker.internal", ip="host-gateway")]
            if spec.reach_host
            else None,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=self.network.name, aliases=[name])
            ],
            restart="unless-stopped",
            memory=memory,
            memory_reservation=reservation,
            cpus=docker_cpus(resources),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=spec.healthcheck,
                interval="10s",
                timeout="5s",
                retries=6,
                start_period=spec.start_period,
            ),
            wait=True,
            wait_timeout=180,
            log_driver="json-file",
            log_opts={"max-size": "10m", "max-file": "3"},
            labels=[
                docker.ContainerLabelArgs(label="tm.service", value=dashed),
                docker.ContainerLabelArgs(label="tm.stack", value=pulumi.get_stack()),
            ],
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, depends_on=spec.depends_on
            ),
        )


def host_root_mount(propagation: str) -> docker.ContainerMountArgs:
    """The host's "/" read-only at /host for node-exporter; `propagation` "none" sets no bind
    options (Docker Desktop and rootless Docker refuse "rslave" on "/")."""
    return docker.ContainerMountArgs(
        type="bind",
        source="/",
        target="/host",
        read_only=True,
        bind_options=(
            docker.ContainerMountBindOptionsArgs(propagation=propagation)
            if propagation != "none"
            else None
        ),
    )


def grafana_start_script(admin_password_file: str, secret_key_file: str) -> str:
    """Start Grafana with the admin password of this stack, also on a retained volume.

    Grafana applies GF_SECURITY_ADMIN_PASSWORD__FILE only when it creates its database. The
    data volume outlives `pulumi destroy`, and a new stack has a new RandomPassword, so the
    password is reset from the file first (a no-op on a fresh volume: the server then creates
    the admin user itself). The CLI gets the stack's secret_key, as the server does; it lives
    only in the CLI's own environment. /run.sh is the image's own entrypoint.
    """
    reset = (
        f'GF_SECURITY_SECRET_KEY="$(cat {secret_key_file})" '
        "grafana cli --homepath /usr/share/grafana admin reset-admin-password "
        f"--password-from-stdin < {admin_password_file} > /dev/null 2>&1"
    )
    return f"{reset} || echo 'admin password not reset (fresh database)'; exec /run.sh"


EXPORTER_DB_URL_FILE = "/run/secrets/exporter_db_url"
EXPORTER_DEMO_DB = "/tmp/trading-demo.db"
EXPORTER_DEMO_ROWS = 20000


def exporter_entrypoint(
    database_url: bool, market_codes: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(entrypoint, command) of the exporter container.

    With a database URL (secret file), serve it; otherwise create a demo database of the
    stack's markets first.
    """
    listen = f"0.0.0.0:{CONTAINER_PORTS['exporter']}"
    serve = ["serve", "--config", EXPORTER_CONFIG_PATH, "--listen", listen]
    if database_url:
        return ["python", "-m", "exporter"], [*serve, "--db-url-file", EXPORTER_DB_URL_FILE]
    script = (
        f"python -m exporter demo-db {EXPORTER_DEMO_DB} --rows {EXPORTER_DEMO_ROWS} "
        f"--regions {','.join(market_codes)} && "
        f"exec python -m exporter {' '.join(serve)} --db {EXPORTER_DEMO_DB}"
    )
    return ["/bin/sh", "-c"], [script]


def _upload(path: str, text: str) -> docker.ContainerUploadArgs:
    return docker.ContainerUploadArgs(file=path, content=text, permissions="0444")


def _secret_upload(path: str, value: pulumi.Output[str]) -> docker.ContainerUploadArgs:
    # Readable by the image's non-root user; only this container's processes see the file.
    return docker.ContainerUploadArgs(
        file=path, content=pulumi.Output.secret(value), permissions="0444"
    )


def _secret_file_uploads(
    directory: str, files: Mapping[str, pulumi.Output[str]]
) -> list[docker.ContainerUploadArgs]:
    """Each of `files` (name -> secret value) as a secret upload into `directory`."""
    return [_secret_upload(f"{directory}/{name}", value) for name, value in sorted(files.items())]


def _bind(host: str, container: str) -> docker.ContainerVolumeArgs:
    return docker.ContainerVolumeArgs(host_path=host, container_path=container, read_only=True)
