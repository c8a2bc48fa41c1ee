"""Shared pieces of the Kubernetes target: labels, Pod Security, probes, checksums, PDBs.

Every component module (prometheus.py, grafana.py, ...) builds its resources with these, so
the "restricted" security context, the label scheme and the probe shape exist once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from components import PORTS
from components.model import Component, Port
from infra.settings.kubernetes import KubernetesSettings
from infra.settings.resources import ComputeResources
from infra.settings.stack import ImagesConfig
from infra.targets import RenderedContent
from monitoring import jobs

NAME_LABEL = jobs.K8S_NAME_LABEL  # app.kubernetes.io/name: what discovery and selectors use
PART_OF = "trading-monitoring"
CHECKSUM_CONFIG = "checksum/config"
CHECKSUM_SECRET = "checksum/secret"
HTTP_PORT_NAME = "http"
METRICS_PORT_NAME = jobs.METRICS_PORT_NAME

# Pod Security Admission levels (https://kubernetes.io/docs/concepts/security/pod-security-standards/)
PSA_RESTRICTED = "restricted"
PSA_PRIVILEGED = "privileged"


@dataclass(frozen=True)
class Context:
    """What every component needs: validated settings, pinned images, rendered content and the
    resource options (parent = the target component, provider = the cluster's provider)."""

    settings: KubernetesSettings
    images: ImagesConfig
    content: RenderedContent
    opts: pulumi.ResourceOptions

    @property
    def checksum_key(self) -> pulumi.Output[str]:
        """Key of `secret_checksum`: Grafana's random secret_key (per stack, never shown)."""
        return self.content.grafana.secret_key

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    @property
    def node_namespace(self) -> str:
        return self.settings.node_exporter_namespace

    def with_deps(self, *deps: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions.merge(
            self.opts, pulumi.ResourceOptions(depends_on=list(deps))
        )


def selector_labels(app: str) -> dict[str, str]:
    return {NAME_LABEL: app, "app.kubernetes.io/part-of": PART_OF}


def labels(app: str) -> dict[str, str]:
    return {**selector_labels(app), "app.kubernetes.io/managed-by": "pulumi"}


def metadata(app: str, namespace: str, name: str | None = None) -> k8s.meta.v1.ObjectMetaArgsDict:
    return {"name": name or app, "namespace": namespace, "labels": labels(app)}


def sha256_text(*parts: str) -> str:
    """Checksum of config data for pod template annotations (changes roll the pods)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part.encode()).digest())
    return digest.hexdigest()


def sha256_data(data: Mapping[str, str]) -> str:
    """Checksum of a ConfigMap's data (key order does not matter)."""
    return sha256_text(*(f"{key}\0{value}" for key, value in sorted(data.items())))


def secret_checksum(
    data: Mapping[str, pulumi.Output[str]], key: pulumi.Output[str]
) -> pulumi.Output[str]:
    """HMAC-SHA256 of a Secret's data, keyed with a per-stack random secret (`key`).

    A plain hash of a low-entropy secret (an SMTP password) could be brute-forced, and a
    secret annotation would hide the whole pod spec from `pulumi preview --diff`. A keyed
    hash is safe to show, so the result is deliberately not secret."""
    names = sorted(data)

    def digest(values: list[str]) -> str:
        hmac_key, *contents = values
        message = sha256_data(dict(zip(names, contents, strict=True))).encode()
        return hmac.new(hmac_key.encode(), message, hashlib.sha256).hexdigest()

    combined = pulumi.Output.all(key, *(data[name] for name in names)).apply(digest)
    return pulumi.Output.unsecret(combined)


def pod_security(uid: int) -> k8s.core.v1.PodSecurityContextArgsDict:
    """Pod-level part of Pod Security "restricted": non-root, seccomp RuntimeDefault."""
    return {
        "run_as_non_root": True,
        "run_as_user": uid,
        "run_as_group": uid,
        "fs_group": uid,
        "fs_group_change_policy": "OnRootMismatch",
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def pod_template(
    app: str,
    uid: int,
    pod: k8s.core.v1.PodSpecArgsDict,
    *,
    annotations: Mapping[str, pulumi.Input[str]] | None = None,
    api_token: bool = False,
) -> k8s.core.v1.PodTemplateSpecArgsDict:
    """The pods of `app`: its labels, the "restricted" context as `uid`, the API token mounted
    only with `api_token`; `pod` is the rest of the pod spec (containers, volumes, ...)."""
    meta: k8s.meta.v1.ObjectMetaArgsDict = {"labels": labels(app)}
    if annotations is not None:
        meta["annotations"] = dict(annotations)
    return {
        "metadata": meta,
        "spec": {
            "automount_service_account_token": api_token,
            "security_context": pod_security(uid),
            **pod,
        },
    }


def single_deployment(
    ctx: Context,
    resource_name: str,
    app: str,
    template: k8s.core.v1.PodTemplateSpecArgsDict,
    *,
    strategy: k8s.apps.v1.DeploymentStrategyArgsDict | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.apps.v1.Deployment:
    """One replica of `app` (Prometheus scrapes it through its Service)."""
    spec: k8s.apps.v1.DeploymentSpecArgsDict = {
        "replicas": 1,
        "selector": {"match_labels": selector_labels(app)},
        "template": template,
    }
    if strategy is not None:
        spec["strategy"] = strategy
    return k8s.apps.v1.Deployment(
        resource_name,
        metadata=metadata(app, ctx.namespace),
        spec=spec,
        opts=ctx.with_deps(*depends_on),
    )


def daemon_set(
    ctx: Context,
    resource_name: str,
    app: str,
    template: k8s.core.v1.PodTemplateSpecArgsDict,
    *,
    namespace: str | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.apps.v1.DaemonSet:
    """One pod of `app` per node, replaced one node at a time."""
    return k8s.apps.v1.DaemonSet(
        resource_name,
        metadata=metadata(app, namespace or ctx.namespace),
        spec={
            "selector": {"match_labels": selector_labels(app)},
            "update_strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 1}},
            "template": template,
        },
        opts=ctx.with_deps(*depends_on),
    )


def container_security(uid: int) -> k8s.core.v1.SecurityContextArgsDict:
    """Container-level part of "restricted": no escalation, no capabilities, read-only root."""
    return {
        "allow_privilege_escalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "read_only_root_filesystem": True,
        "run_as_non_root": True,
        "run_as_user": uid,
        "run_as_group": uid,
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def http_probe(
    path: str,
    port: str = HTTP_PORT_NAME,
    *,
    period: int = 10,
    timeout: int = 5,
    failures: int = 3,
    initial_delay: int = 0,
) -> k8s.core.v1.ProbeArgsDict:
    return {
        "http_get": {"path": path, "port": port},
        "period_seconds": period,
        "timeout_seconds": timeout,
        "failure_threshold": failures,
        "initial_delay_seconds": initial_delay,
    }


def tcp_probe(port: str) -> k8s.core.v1.ProbeArgsDict:
    """Ready when `port` accepts connections (for endpoints that answer 401 without a token)."""
    return {"tcp_socket": {"port": port}, "period_seconds": 10, "timeout_seconds": 5}


def tcp_liveness_probe(port: str, initial_delay: int | None = None) -> k8s.core.v1.ProbeArgsDict:
    """Restart only when `port` stops accepting connections (every 20 s, 6 failures)."""
    probe: k8s.core.v1.ProbeArgsDict = {
        "tcp_socket": {"port": port},
        "period_seconds": 20,
        "timeout_seconds": 5,
        "failure_threshold": 6,
    }
    if initial_delay is not None:
        probe["initial_delay_seconds"] = initial_delay
    return probe


def container_port(port: Port, on_host: bool = False) -> k8s.core.v1.ContainerPortArgsDict:
    spec: k8s.core.v1.ContainerPortArgsDict = {
        "name": port.name,
        "container_port": port.number,
        "protocol": port.protocol,
    }
    if on_host:
        spec["host_port"] = port.number
    return spec


def component_container(
    ctx: Context,
    component: Component,
    *,
    image: pulumi.Input[str],
    volume_mounts: list[k8s.core.v1.VolumeMountArgsDict],
    args: list[str] | None = None,
    command: list[str] | None = None,
    env: list[k8s.core.v1.EnvVarArgsDict] | None = None,
    startup_failures: int | None = None,
    readiness_delay: int = 0,
    tcp_liveness: bool = False,
    liveness_delay: int | None = None,
    host_ports: bool = False,
) -> k8s.core.v1.ContainerArgsDict:
    """The container of `component`: its ports, probes, resources and "restricted" security
    context, all from the contract. `startup_failures`: a startup probe on the readiness path
    (slow first starts); `tcp_liveness`: restart only when the port stops accepting
    connections; `host_ports`: publish each port on the node (hostNetwork pods)."""
    uid = component.security.uid
    port_name = component.port_name
    container: k8s.core.v1.ContainerArgsDict = {
        "name": component.app,
        "image": image,
        "ports": [container_port(p, host_ports) for p in component.ports],
        "readiness_probe": http_probe(
            component.readiness_path, port_name, initial_delay=readiness_delay
        ),
        "liveness_probe": (
            tcp_liveness_probe(port_name, initial_delay=liveness_delay)
            if tcp_liveness
            else http_probe(component.liveness_path, port_name, failures=6)
        ),
        "resources": container_resources(getattr(ctx.settings.resources, component.name)),
        "security_context": container_security(uid),
        "volume_mounts": volume_mounts,
    }
    if command is not None:
        container["command"] = command
    if args is not None:
        container["args"] = args
    if env is not None:
        container["env"] = env
    if startup_failures is not None:
        container["startup_probe"] = http_probe(
            component.readiness_path, port_name, failures=startup_failures
        )
    return container


def container_resources(resources: ComputeResources) -> k8s.core.v1.ResourceRequirementsArgsDict:
    return {
        "requests": {"cpu": resources.cpu_request, "memory": resources.memory_request},
        "limits": {"cpu": resources.cpu_limit, "memory": resources.memory_limit},
    }


def env_from_field(name: str, field_path: str) -> k8s.core.v1.EnvVarArgsDict:
    return {"name": name, "value_from": {"field_ref": {"field_path": field_path}}}


def pvc_spec(
    settings: KubernetesSettings, size: str
) -> k8s.core.v1.PersistentVolumeClaimSpecArgsDict:
    spec: k8s.core.v1.PersistentVolumeClaimSpecArgsDict = {
        "access_modes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if settings.storage.storage_class is not None:
        spec["storage_class_name"] = settings.storage.storage_class
    return spec


def unawaited_claim(
    ctx: Context, resource_name: str, app: str, claim_name: str, size: str
) -> k8s.core.v1.PersistentVolumeClaim:
    """A PVC for a Deployment's pod. Not awaited: a WaitForFirstConsumer class binds only once
    the pod exists, and the Deployment's own readiness covers the volume."""
    return k8s.core.v1.PersistentVolumeClaim(
        resource_name,
        metadata={
            **metadata(app, ctx.namespace, claim_name),
            "annotations": {"pulumi.com/skipAwait": "true"},
        },
        spec=pvc_spec(ctx.settings, size),
        opts=ctx.opts,
    )


def stateful_set(
    ctx: Context,
    resource_name: str,
    app: str,
    *,
    replicas: int,
    data_size: str,
    template: k8s.core.v1.PodTemplateSpecArgsDict,
    parallel: bool = False,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.apps.v1.StatefulSet:
    """A StatefulSet governed by the headless Service `app`, with one PVC `data` of `data_size`
    per pod, kept when the set is deleted or scaled down. `parallel`: start all pods at once."""
    spec: k8s.apps.v1.StatefulSetSpecArgsDict = {
        "service_name": app,
        "replicas": replicas,
        "selector": {"match_labels": selector_labels(app)},
        "persistent_volume_claim_retention_policy": {
            "when_deleted": "Retain",
            "when_scaled": "Retain",
        },
        "template": template,
        "volume_claim_templates": [
            {
                "metadata": {"name": "data", "labels": selector_labels(app)},
                "spec": pvc_spec(ctx.settings, data_size),
            }
        ],
    }
    if parallel:
        spec["pod_management_policy"] = "Parallel"
    return k8s.apps.v1.StatefulSet(
        resource_name,
        metadata=metadata(app, ctx.namespace),
        spec=spec,
        opts=ctx.with_deps(*depends_on),
    )


def spread_across_nodes(app: str) -> k8s.core.v1.AffinityArgsDict:
    """Prefer one replica per node (preferred, so a small cluster still schedules them)."""
    return {
        "pod_anti_affinity": {
            "preferred_during_scheduling_ignored_during_execution": [
                {
                    "weight": 100,
                    "pod_affinity_term": {
                        "label_selector": {"match_labels": selector_labels(app)},
                        "topology_key": "kubernetes.io/hostname",
                    },
                }
            ]
        }
    }


def tmp_volume() -> tuple[k8s.core.v1.VolumeArgsDict, k8s.core.v1.VolumeMountArgsDict]:
    """A small writable /tmp for containers with a read-only root filesystem."""
    return (
        {"name": "tmp", "empty_dir": {"size_limit": "64Mi"}},
        {"name": "tmp", "mount_path": "/tmp"},
    )


def file_name(path: str) -> str:
    """The last part of a container path: the key of that file in its ConfigMap or Secret."""
    return path.rsplit("/", 1)[-1]


def config_file_mount(path: str) -> k8s.core.v1.VolumeMountArgsDict:
    """The file `path` from the volume `config` (a ConfigMap or Secret key of the same name)."""
    return {
        "name": "config",
        "mount_path": path,
        "sub_path": file_name(path),
        "read_only": True,
    }


def config_volume(config_map: str) -> k8s.core.v1.VolumeArgsDict:
    """The ConfigMap `config_map` as the volume `config` that `config_file_mount` reads."""
    return {"name": "config", "config_map": {"name": config_map}}


def secret_volume(name: str, secret_name: str) -> k8s.core.v1.VolumeArgsDict:
    """A Secret as files readable by the pod's user and group only."""
    return {"name": name, "secret": {"secret_name": secret_name, "default_mode": 0o440}}


def config_map(
    ctx: Context, resource_name: str, app: str, name: str, data: Mapping[str, str]
) -> k8s.core.v1.ConfigMap:
    return k8s.core.v1.ConfigMap(
        resource_name,
        metadata=metadata(app, ctx.namespace, name),
        data=dict(data),
        opts=ctx.opts,
    )


def as_secret(value: pulumi.Input[str]) -> pulumi.Output[str]:
    """`value` marked secret (a no-op for Outputs that already are)."""
    return pulumi.Output.secret(value)


def secret(
    ctx: Context,
    resource_name: str,
    app: str,
    name: str,
    data: Mapping[str, pulumi.Output[str]],
    namespace: str | None = None,
    secret_type: str = "Opaque",
) -> k8s.core.v1.Secret:
    """A Secret whose values stay secret Outputs all the way to the provider."""
    return k8s.core.v1.Secret(
        resource_name,
        metadata=metadata(app, namespace or ctx.namespace, name),
        type=secret_type,
        string_data={key: as_secret(value) for key, value in data.items()},
        opts=ctx.opts,
    )


def disruption_budget(
    ctx: Context, resource_name: str, app: str
) -> k8s.policy.v1.PodDisruptionBudget:
    """At most one pod of `app` down for voluntary disruptions (drains, upgrades). With one
    replica this still allows a drain, so a single Grafana never blocks node maintenance."""
    return k8s.policy.v1.PodDisruptionBudget(
        resource_name,
        metadata=metadata(app, ctx.namespace),
        spec={"max_unavailable": 1, "selector": {"match_labels": selector_labels(app)}},
        opts=ctx.opts,
    )


def cluster_scoped_name(ctx: Context, app: str) -> str:
    """ClusterRole(Binding)s are not namespaced: prefix them with the namespace."""
    return f"{ctx.namespace}-{app}"


def read_only_cluster_role(
    ctx: Context,
    resource_name: str,
    app: str,
    service_account: k8s.core.v1.ServiceAccount,
    rules: list[k8s.rbac.v1.PolicyRuleArgsDict],
) -> k8s.rbac.v1.ClusterRoleBinding:
    """A ClusterRole with `rules` bound to `service_account` (returns the binding)."""
    name = cluster_scoped_name(ctx, app)
    role = k8s.rbac.v1.ClusterRole(
        f"{resource_name}-role",
        metadata={"name": name, "labels": labels(app)},
        rules=rules,
        opts=ctx.opts,
    )
    return k8s.rbac.v1.ClusterRoleBinding(
        f"{resource_name}-binding",
        metadata={"name": name, "labels": labels(app)},
        **granted_to(service_account, "ClusterRole", name),
        opts=ctx.with_deps(role),
    )


def granted_to(
    account: k8s.core.v1.ServiceAccount, kind: Literal["Role", "ClusterRole"], role: str
) -> dict[str, Any]:
    """`role_ref` and `subjects` of a (Cluster)RoleBinding granting `role` to `account`."""
    return {
        "role_ref": {"api_group": "rbac.authorization.k8s.io", "kind": kind, "name": role},
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": account.metadata.name,
                "namespace": account.metadata.namespace,
            }
        ],
    }


def service_account(
    ctx: Context, resource_name: str, app: str, namespace: str | None = None, token: bool = False
) -> k8s.core.v1.ServiceAccount:
    """`token`: mount the API token (only for pods that talk to the Kubernetes API)."""
    return k8s.core.v1.ServiceAccount(
        resource_name,
        metadata=metadata(app, namespace or ctx.namespace),
        automount_service_account_token=token,
        opts=ctx.opts,
    )


def service_url(ctx: Context, service: str) -> str:
    return f"http://{ctx.settings.service_host(service)}:{PORTS[service]}"


def service(
    ctx: Context,
    resource_name: str,
    app: str,
    ports: list[tuple[str, int, str]],
    *,
    headless: bool = False,
    publish_not_ready: bool = False,
) -> k8s.core.v1.Service:
    """A Service selecting `app`'s pods; `ports` are (name, port, protocol), target = name.

    `headless`: the governing Service of a StatefulSet (one DNS name per pod); its plain name
    resolves to every ready pod."""
    spec: k8s.core.v1.ServiceSpecArgsDict = {
        "selector": selector_labels(app),
        "ports": [
            {"name": name, "port": number, "target_port": name, "protocol": protocol}
            for name, number, protocol in ports
        ],
    }
    if headless:
        spec["cluster_ip"] = "None"
    if publish_not_ready:
        spec["publish_not_ready_addresses"] = True
    return k8s.core.v1.Service(
        resource_name, metadata=metadata(app, ctx.namespace), spec=spec, opts=ctx.opts
    )
