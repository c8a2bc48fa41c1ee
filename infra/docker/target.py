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

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components import (
    alertmanager,
    alloy,
    blackbox_exporter,
    cadvisor,
    demo_service,
    exporter,
    grafana,
    loki,
    node_exporter,
    prometheus,
)
from components.model import DOCKER_SERVICE_LABEL, Component, HostMount
from demo_service import config as demo_config
from infra.settings.docker import DockerSettings, docker_cpus, docker_memory_mb
from infra.settings.resources import ComputeResources
from infra.settings.stack import StackConfig
from infra.targets import ComponentExporter, RenderedContent, TargetEndpoints
from monitoring.thirdparty import exporters as thirdparty

LOOPBACK = "127.0.0.1"


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


HEALTHCHECKS = {"wget": http_healthcheck, "bash": bash_healthcheck, "python": python_healthcheck}
# Probe tools (components.model.ProbeTool) with no Docker healthcheck.
NO_HEALTHCHECK = "none"


def healthcheck(component: Component) -> list[str]:
    """The component's readiness path, fetched with what its image ships."""
    return HEALTHCHECKS[component.probe_tool](component.port, component.readiness_path)


@dataclass
class ContainerSpec:
    """What one container adds to its component's contract on Docker."""

    component: Component
    image: pulumi.Input[str] | None = None  # None: `images.<image_key>`, pulled
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    envs: list[str] = field(default_factory=list)
    uploads: list[docker.ContainerUploadArgs] = field(default_factory=list)
    volumes: list[docker.ContainerVolumeArgs] = field(default_factory=list)
    host_port: int | None = None  # published on 127.0.0.1
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
        self._images = config.images
        settings = self._settings
        ports = settings.ports

        self.network = docker.Network(
            "network",
            name=f"{self._prefix}-monitoring",
            driver="bridge",
            labels=[docker.NetworkLabelArgs(label="tm.stack", value=pulumi.get_stack())],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        rules_dir = content.settings.rule_files_dir
        prometheus_container = self._container(
            ContainerSpec(
                prometheus.COMPONENT,
                command=[
                    *content.prometheus_args,
                    f"--web.external-url=http://{LOOPBACK}:{ports.prometheus}",
                ],
                uploads=[_upload(prometheus.CONFIG_PATH, content.prometheus_yml)]
                + [
                    _upload(f"{rules_dir}/{file_name}", text)
                    for file_name, text in sorted(content.rule_files.items())
                ],
                host_port=ports.prometheus,
                # Scrapes the user's services on the Docker host (`services[].metrics`).
                reach_host=True,
            )
        )
        alertmanager_container = self._container(
            ContainerSpec(
                alertmanager.COMPONENT,
                command=[
                    *alertmanager.base_args(f"http://{LOOPBACK}:{ports.alertmanager}"),
                    "--cluster.listen-address=",  # a single instance: no gossip
                ],
                uploads=[
                    _secret_upload(alertmanager.CONFIG_PATH, content.alertmanager_yml),
                    *_secret_file_uploads(
                        content.settings.receivers.secrets_dir, content.alertmanager_secret_files
                    ),
                ],
                host_port=ports.alertmanager,
                reach_host=True,
            )
        )
        loki_container = self._container(
            ContainerSpec(
                loki.COMPONENT,
                command=loki.args(),
                uploads=[_upload(loki.CONFIG_PATH, content.loki_yml)],
                host_port=ports.loki,
            )
        )
        grafana_server = content.grafana
        grafana_container = self._container(
            ContainerSpec(
                grafana.COMPONENT,
                envs=[f"{key}={value}" for key, value in sorted(grafana_server.env.items())],
                entrypoint=["/bin/sh", "-c"],
                command=[
                    grafana_start_script(
                        grafana_server.admin_password_path, grafana_server.secret_key_path
                    )
                ],
                uploads=_secret_file_uploads(grafana.SECRETS_DIR, grafana_server.secret_files),
                host_port=ports.grafana,
                reach_host=True,
                depends_on=[prometheus_container, loki_container, alertmanager_container],
            )
        )
        self._container(
            ContainerSpec(
                alloy.COMPONENT,
                command=alloy.args(),
                uploads=[_upload(alloy.CONFIG_PATH, content.alloy_config)],
                volumes=[
                    docker.ContainerVolumeArgs(
                        host_path=settings.docker_socket,
                        container_path=alloy.DOCKER_SOCKET,
                        read_only=True,
                    ),
                ],
                depends_on=[loki_container],
            )
        )
        # On the bridge network (Prometheus scrapes it by name, nothing published):
        # node_network_* are this container's interfaces. See docs/infra.md.
        self._container(
            ContainerSpec(
                node_exporter.COMPONENT,
                command=node_exporter.args(),
            )
        )
        self._container(ContainerSpec(cadvisor.COMPONENT, command=cadvisor.args()))
        exporter_url: pulumi.Output[str] | None = None
        # Dev's demo service (declared as the service `demo-api`) writes fresh rows into the
        # exporter's demo database: both mount one volume.
        demo = content.settings.exporter_enabled and any(
            s.name == demo_config.NAME for s in content.settings.services
        )
        demo_mounts = [self._demo_volume()] if demo else []
        if content.settings.exporter_enabled:
            exporter_container = self._exporter(
                content, exporter_database_url, settings.exporter_database_path, demo_mounts
            )
            if demo:
                self._container(
                    ContainerSpec(
                        demo_service.COMPONENT,
                        self.exporter_image.repo_digest,
                        entrypoint=demo_service.ENTRYPOINT,
                        command=demo_service.args(
                            exporter.DEMO_DATABASE, [m.code for m in content.settings.markets]
                        ),
                        volumes=list(demo_mounts),
                        depends_on=[exporter_container],
                    )
                )
            exporter_url = exporter_container.name.apply(
                lambda _: f"http://{LOOPBACK}:{ports.exporter}/metrics"
            )

        for deployed in content.component_exporters:
            self._component_exporter(deployed)

        if content.blackbox_yml is not None:
            # Probes the user's services (`services[].probes`), on the host too.
            self._container(
                ContainerSpec(
                    blackbox_exporter.COMPONENT,
                    command=blackbox_exporter.args(),
                    uploads=[_upload(blackbox_exporter.CONFIG_PATH, content.blackbox_yml)],
                    reach_host=True,
                )
            )

        def local(port: int) -> pulumi.Output[str]:
            return pulumi.Output.from_input(f"http://{LOOPBACK}:{port}")

        # Derived from the healthy container, so the Grafana provider runs after it.
        grafana_url = grafana_container.name.apply(lambda _: f"http://{LOOPBACK}:{ports.grafana}")
        self.endpoints = TargetEndpoints(
            grafana_api_url=grafana_url,
            grafana_url=grafana_url,
            prometheus_url=local(ports.prometheus),
            alertmanager_url=local(ports.alertmanager),
            exporter_url=exporter_url,
            grafana_ready=grafana_container,
        )
        self.register_outputs({"network": self.network.name})

    def _demo_volume(self) -> docker.ContainerVolumeArgs:
        volume = docker.Volume(
            "demo-data",
            name=f"{self._prefix}-demo-data",
            labels=[docker.VolumeLabelArgs(label=DOCKER_SERVICE_LABEL, value="demo")],
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=True, delete_before_replace=True
            ),
        )
        return docker.ContainerVolumeArgs(
            volume_name=volume.name, container_path=demo_service.DEMO_DIR
        )

    def _exporter(
        self,
        content: RenderedContent,
        database_url: pulumi.Output[str] | None,
        host_database: str | None,
        demo_mounts: list[docker.ContainerVolumeArgs],
    ) -> docker.Container:
        """The exporter on a DSN (secret file), a host SQLite file (read-only bind mount) or
        a demo database it creates."""
        image = docker.Image(
            "exporter-image",
            image_name=f"trading-monitoring/exporter:{content.settings.environment}",
            build=docker.DockerBuildArgs(
                context=exporter.BUILD_CONTEXT,
                dockerfile=exporter.DOCKERFILE,
                # Dev builds for the local engine's own platform (no emulation on arm64).
                args={"PYTHON_IMAGE": self._images.python_base},
            ),
            skip_push=True,
            opts=self._child,
        )
        uploads = [_upload(exporter.CONFIG_PATH, content.exporter_config_yml)]
        self.exporter_image = image
        volumes: list[docker.ContainerVolumeArgs] = list(demo_mounts)
        if database_url is not None:
            uploads.append(_secret_upload(exporter.DATABASE_URL_PATH, database_url))
        if host_database is not None:
            volumes.append(
                docker.ContainerVolumeArgs(
                    host_path=host_database,
                    container_path=exporter.HOST_DATABASE_PATH,
                    read_only=True,
                )
            )
        entrypoint, command = exporter_entrypoint(
            database_url is not None,
            [m.code for m in content.settings.markets],
            host_database is not None,
        )
        return self._container(
            ContainerSpec(
                exporter.COMPONENT,
                image.repo_digest,
                entrypoint=entrypoint,
                command=command,
                uploads=uploads,
                volumes=volumes,
                host_port=self._settings.ports.exporter,
            )
        )

    def _component_exporter(self, deployed: ComponentExporter) -> docker.Container:
        """The exporter of one PostgreSQL, Redis or NGINX instance: its passwords only as
        secret uploads (never env), its queries file as an upload."""
        command = deployed.command
        return self._container(
            ContainerSpec(
                deployed.component,
                command=list(command.args),
                envs=[f"{key}={value}" for key, value in command.env],
                uploads=[
                    _upload(f"{thirdparty.CONFIG_DIR}/{name}", text)
                    for name, text in sorted(deployed.config_files.items())
                ]
                + _secret_file_uploads(thirdparty.SECRETS_DIR, deployed.secret_files),
            )
        )

    def _volume(self, component: Component) -> docker.Volume:
        return docker.Volume(
            f"{component.name}-data",
            name=f"{self._prefix}-{component.name}-data",
            labels=[docker.VolumeLabelArgs(label=DOCKER_SERVICE_LABEL, value=component.name)],
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=True, delete_before_replace=True
            ),
        )

    def _pull(self, component: Component) -> pulumi.Output[str]:
        assert component.image_key is not None, f"{component.name} is built, not pulled"
        ref = getattr(self._images, component.image_key)
        image = docker.RemoteImage(
            f"{component.app}-image", name=ref, keep_locally=True, opts=self._child
        )
        return image.image_id

    def _host_mounts(
        self, mounts: tuple[HostMount, ...]
    ) -> tuple[list[docker.ContainerVolumeArgs], list[docker.ContainerMountArgs]]:
        """Plain read-only binds, and binds that follow new host mounts (propagation)."""
        binds = [
            docker.ContainerVolumeArgs(
                host_path=m.host_path, container_path=m.container_path, read_only=True
            )
            for m in mounts
            if not m.follow_new_mounts
        ]
        following = [
            host_mount(m, self._settings.host_root_propagation)
            for m in mounts
            if m.follow_new_mounts
        ]
        return binds, following

    def _container(self, spec: ContainerSpec) -> docker.Container:
        component = spec.component
        image = spec.image if spec.image is not None else self._pull(component)
        security = component.security
        resources: ComputeResources = getattr(self._settings.resources, component.name)
        memory, reservation = docker_memory_mb(resources)
        name = f"{self._prefix}-{component.app}"
        binds, mounts = self._host_mounts(security.host_mounts)
        volumes = list(spec.volumes) + binds
        if component.data_dir is not None:
            volumes.insert(
                0,
                docker.ContainerVolumeArgs(
                    volume_name=self._volume(component).name, container_path=component.data_dir
                ),
            )
        ports = (
            [
                docker.ContainerPortArgs(
                    internal=component.port, external=spec.host_port, ip=LOOPBACK
                )
            ]
            if spec.host_port is not None
            else []
        )
        return docker.Container(
            component.app,
            name=name,
            hostname=name,
            image=image,
            command=spec.command,
            entrypoints=spec.entrypoint,
            envs=spec.envs or None,
            uploads=spec.uploads or None,
            volumes=volumes or None,
            mounts=mounts or None,
            ports=ports or None,
            pid_mode="host" if security.host_pid else None,
            privileged=security.privileged or None,
            devices=[
                docker.ContainerDeviceArgs(host_path=path, container_path=path)
                for path in security.devices
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
            # A `FROM scratch` image (probe_tool "none") can run no check: Prometheus'
            # TargetDown watches it instead.
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=healthcheck(component),
                interval="10s",
                timeout="5s",
                retries=6,
                start_period=component.start_period,
            )
            if component.probe_tool != NO_HEALTHCHECK
            else None,
            wait=component.probe_tool != NO_HEALTHCHECK,
            wait_timeout=180,
            log_driver="json-file",
            log_opts={"max-size": "10m", "max-file": "3"},
            labels=[
                docker.ContainerLabelArgs(label=DOCKER_SERVICE_LABEL, value=component.app),
                docker.ContainerLabelArgs(label="tm.stack", value=pulumi.get_stack()),
            ],
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, depends_on=spec.depends_on
            ),
        )


def host_mount(mount: HostMount, propagation: str) -> docker.ContainerMountArgs:
    """A read-only bind that follows new host mounts; `propagation` "none" sets no bind
    options (Docker Desktop and rootless Docker refuse "rslave" on "/")."""
    return docker.ContainerMountArgs(
        type="bind",
        source=mount.host_path,
        target=mount.container_path,
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


def exporter_entrypoint(
    database_url: bool, market_codes: list[str], host_database: bool = False
) -> tuple[list[str], list[str]]:
    """(entrypoint, command) of the exporter container: serve the database URL (a secret
    file) or the mounted host SQLite file, or else create a demo database of the stack's
    markets first."""
    if database_url:
        return exporter.ENTRYPOINT, exporter.serve_args(exporter.database_url_args())
    if host_database:
        return exporter.ENTRYPOINT, exporter.serve_args(
            exporter.sqlite_args(exporter.HOST_DATABASE_PATH)
        )
    return ["/bin/sh", "-c"], exporter.demo_command(market_codes)


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
