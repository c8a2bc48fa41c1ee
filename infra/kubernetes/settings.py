"""Prod-only (Kubernetes) stack settings: one validated pydantic model, no Pulumi here.

Read from the structured config key `trading-monitoring:kubernetes` (camelCase keys, see the
README table). Secrets are NOT here: the registry password and the exporter database DSN are
separate secret config keys (`SECRET_KEYS`), read by the target.
Every error names the key, the value and what is allowed.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infra.settings_base import ConfigModel

CONFIG_KEY = "kubernetes"
# Secret config keys (set with `pulumi config set --secret KEY VALUE`).
REGISTRY_PASSWORD_KEY = "registryPassword"
EXPORTER_DSN_KEY = "exporterDatabaseDsn"
SECRET_KEYS = (REGISTRY_PASSWORD_KEY, EXPORTER_DSN_KEY)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HOSTNAME = _DNS_SUBDOMAIN
_REGISTRY_SERVER = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$")
_REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# Annotation key: optional DNS-subdomain prefix + "/" + a name of at most 63 characters.
_ANNOTATION_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_CPU = re.compile(r"^([0-9]+(\.[0-9]+)?)(m?)$")
_MEMORY = re.compile(r"^([0-9]+(\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


class SettingError(ValueError):
    """A bad value: `key` is relative to the model that raised it (the formatter adds the path)."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        super().__init__(f"{key} = {value!r} is invalid: allowed {allowed}")
        self.key = key
        self.value = value
        self.allowed = allowed

    def full_message(self, prefix: str) -> str:
        key = ".".join(part for part in (prefix, self.key) if part)
        return f"{key} = {self.value!r} is invalid: allowed {self.allowed}"


def _fail(key: str, value: object, allowed: str) -> SettingError:
    return SettingError(key, value, allowed)


def cpu_millicores(key: str, value: str) -> Decimal:
    """A CPU quantity ("250m", "1", "0.5") in millicores; error names the key otherwise."""
    match = _CPU.match(value)
    if not match:
        raise _fail(key, value, 'a CPU quantity such as "250m", "1" or "0.5"')
    amount = Decimal(match.group(1))
    result = amount if match.group(3) else amount * 1000
    if result <= 0:
        raise _fail(key, value, "a CPU quantity greater than 0")
    return result


def memory_bytes(key: str, value: str) -> Decimal:
    """A memory/storage quantity ("512Mi", "2Gi", "1G") in bytes."""
    match = _MEMORY.match(value)
    if not match:
        raise _fail(
            key, value, 'a quantity such as "512Mi", "2Gi" or "1G" (units Ki Mi Gi Ti k M G T)'
        )
    result = Decimal(match.group(1)) * _MEMORY_UNITS[match.group(3) or ""]
    if result <= 0:
        raise _fail(key, value, "a quantity greater than 0")
    return result


class _StrictModel(ConfigModel):
    """The shared config base, strict: no silent coercion of Kubernetes settings."""

    model_config = ConfigDict(strict=True)


class ComputeResources(_StrictModel):
    """requests and limits of one container. Limits must be >= requests."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    @field_validator("cpu_request", "memory_request", "cpu_limit", "memory_limit", mode="before")
    @classmethod
    def _number_as_quantity(cls, value: object) -> object:
        """YAML `cpuLimit: 2` is a number; Kubernetes takes it as the quantity "2"."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> ComputeResources:
        # Keys in the messages are relative to the component (the caller prefixes them).
        cpu_req = cpu_millicores("cpuRequest", self.cpu_request)
        cpu_lim = cpu_millicores("cpuLimit", self.cpu_limit)
        mem_req = memory_bytes("memoryRequest", self.memory_request)
        mem_lim = memory_bytes("memoryLimit", self.memory_limit)
        if cpu_lim < cpu_req:
            raise _fail("cpuLimit", self.cpu_limit, f">= cpuRequest ({self.cpu_request})")
        if mem_lim < mem_req:
            raise _fail(
                "memoryLimit", self.memory_limit, f">= memoryRequest ({self.memory_request})"
            )
        return self


def compute_resources(cpu_req: str, mem_req: str, cpu_lim: str, mem_lim: str) -> ComputeResources:
    """A container's requests and limits, in that order (the defaults' shorthand)."""
    return ComputeResources(
        cpu_request=cpu_req, memory_request=mem_req, cpu_limit=cpu_lim, memory_limit=mem_lim
    )


class Resources(_StrictModel):
    """Per-component container resources (each replaces its default as a whole)."""

    prometheus: ComputeResources = compute_resources("500m", "2Gi", "2", "4Gi")
    alertmanager: ComputeResources = compute_resources("50m", "64Mi", "200m", "256Mi")
    grafana: ComputeResources = compute_resources("100m", "256Mi", "1", "512Mi")
    loki: ComputeResources = compute_resources("200m", "512Mi", "1", "2Gi")
    alloy: ComputeResources = compute_resources("50m", "128Mi", "500m", "512Mi")
    node_exporter: ComputeResources = compute_resources("50m", "32Mi", "250m", "128Mi")
    exporter: ComputeResources = compute_resources("50m", "64Mi", "500m", "256Mi")


class Storage(_StrictModel):
    """PVC sizes; `storageClass` unset uses the cluster's default StorageClass."""

    storage_class: str | None = None
    prometheus: str = "50Gi"
    alertmanager: str = "1Gi"
    grafana: str = "5Gi"
    loki: str = "50Gi"
    exporter: str = "1Gi"  # only used when exporter.database is "pvc"

    @model_validator(mode="after")
    def _check(self) -> Storage:
        if self.storage_class is not None and not _DNS_SUBDOMAIN.match(self.storage_class):
            raise _fail("storageClass", self.storage_class, "a StorageClass name (DNS subdomain)")
        for name in ("prometheus", "alertmanager", "grafana", "loki", "exporter"):
            memory_bytes(name, getattr(self, name))
        return self


class Replicas(_StrictModel):
    prometheus: int = 2
    alertmanager: int = 3

    @model_validator(mode="after")
    def _check(self) -> Replicas:
        for name, low, high in (("prometheus", 1, 10), ("alertmanager", 1, 9)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise _fail(name, value, f"an integer from {low} to {high}")
        return self


class Registry(_StrictModel):
    """Where the exporter image is pushed. The password is the secret key `registryPassword`."""

    server: str
    username: str
    repository: str = "trading-monitoring/exporter"
    tag: str = "0.1.0"

    @model_validator(mode="after")
    def _check(self) -> Registry:
        if not _REGISTRY_SERVER.match(self.server):
            raise _fail(
                "server",
                self.server,
                'a registry host[:port] without scheme, e.g. "ghcr.io" or "registry.local:5000"',
            )
        if not self.username.strip():
            raise _fail("username", self.username, "a non-empty user name")
        if not _REPOSITORY.match(self.repository):
            raise _fail(
                "repository",
                self.repository,
                'a lowercase repository path, e.g. "acme/trading-exporter"',
            )
        if not _IMAGE_TAG.match(self.tag) or self.tag == "latest":
            raise _fail("tag", self.tag, "a Docker tag other than 'latest'")
        return self

    @property
    def image_name(self) -> str:
        return f"{self.server}/{self.repository}:{self.tag}"


class Ingress(_StrictModel):
    """Optional Ingress with TLS for Grafana (and, with auth annotations, Prometheus/AM)."""

    enabled: bool = False
    class_name: str | None = None
    grafana_host: str | None = None
    prometheus_host: str | None = None
    alertmanager_host: str | None = None
    tls_secret_name: str | None = None
    cert_manager_issuer: str | None = None  # a cert-manager ClusterIssuer name
    # Namespace of the ingress controller pods (the NetworkPolicy lets them reach Grafana).
    controller_namespace: str = "ingress-nginx"
    # Annotations of the Prometheus/Alertmanager Ingress that enforce authentication.
    auth_annotations: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Ingress:
        if self.class_name is not None and not _DNS_SUBDOMAIN.match(self.class_name):
            raise _fail("className", self.class_name, "an IngressClass name")
        for key, host in (
            ("grafanaHost", self.grafana_host),
            ("prometheusHost", self.prometheus_host),
            ("alertmanagerHost", self.alertmanager_host),
        ):
            if host is not None and not _HOSTNAME.match(host):
                raise _fail(f"{key}", host, 'a DNS host name such as "grafana.example.com"')
        if self.tls_secret_name is not None and not _DNS_SUBDOMAIN.match(self.tls_secret_name):
            raise _fail("tlsSecretName", self.tls_secret_name, "a Secret name")
        for key in self.auth_annotations:
            if not _ANNOTATION_KEY.match(key):
                raise _fail(
                    "authAnnotations",
                    key,
                    'annotation keys such as "nginx.ingress.kubernetes.io/auth-url"',
                )
        if not _DNS_LABEL.match(self.controller_namespace):
            raise _fail("controllerNamespace", self.controller_namespace, "a namespace name")
        if self.cert_manager_issuer is not None and not _DNS_SUBDOMAIN.match(
            self.cert_manager_issuer
        ):
            raise _fail("certManagerIssuer", self.cert_manager_issuer, "a ClusterIssuer name")
        if not self.enabled:
            for key, host in (
                ("grafanaHost", self.grafana_host),
                ("prometheusHost", self.prometheus_host),
                ("alertmanagerHost", self.alertmanager_host),
            ):
                if host is not None:
                    raise _fail(key, host, "unset while ingress.enabled is false")
            return self
        if self.grafana_host is None:
            raise _fail("grafanaHost", None, "a host name when ingress.enabled is true")
        if self.tls_secret_name is None:
            raise _fail(
                "tlsSecretName",
                None,
                "a Secret name when ingress.enabled is true (plain HTTP is refused; with "
                "certManagerIssuer, cert-manager fills it)",
            )
        if (self.prometheus_host or self.alertmanager_host) and not self.auth_annotations:
            host_key = "prometheusHost" if self.prometheus_host else "alertmanagerHost"
            raise _fail(
                f"{host_key}",
                self.prometheus_host or self.alertmanager_host,
                "only together with ingress.authAnnotations that enforce authentication "
                "(Prometheus and Alertmanager have none of their own)",
            )
        return self


class ExporterDatabase(_StrictModel):
    """`dsn`: the secret key `exporterDatabaseDsn` (e.g. postgresql://...).
    `pvc`: an SQLite file at `path` on a PVC that the trading system writes too."""

    mode: Literal["dsn", "pvc"] = "dsn"
    path: str = "/data/trading.db"
    # pvc mode: mount this existing claim (e.g. the trading system's); unset: create one.
    existing_claim: str | None = None

    @model_validator(mode="after")
    def _check(self) -> ExporterDatabase:
        if not self.path.startswith("/data/") or ".." in self.path:
            raise _fail("path", self.path, "an absolute path under /data/")
        if self.existing_claim is not None:
            if self.mode != "pvc":
                raise _fail("existingClaim", self.existing_claim, "only with mode 'pvc'")
            if not _DNS_SUBDOMAIN.match(self.existing_claim):
                raise _fail("existingClaim", self.existing_claim, "a PersistentVolumeClaim name")
        return self


class KubernetesSettings(_StrictModel):
    """Everything the prod (Kubernetes) target needs beyond ContentSettings."""

    kubeconfig: str | None = None  # path or contents; unset: ambient (KUBECONFIG / ~/.kube)
    context: str | None = None
    namespace: str = "monitoring"
    node_exporter_namespace: str = "monitoring-node"
    cluster_domain: str = "cluster.local"
    storage: Storage = Field(default_factory=Storage)
    replicas: Replicas = Field(default_factory=Replicas)
    resources: Resources = Field(default_factory=Resources)
    registry: Registry
    exporter_database: ExporterDatabase = Field(default_factory=ExporterDatabase)
    ingress: Ingress = Field(default_factory=Ingress)
    remote_write_url: str | None = None
    grafana_url: str | None = None  # how `pulumi up` reaches Grafana when ingress is off
    # Scrape kubelet cAdvisor without verifying its certificate (self-signed kubelets, kubeadm).
    kubelet_insecure_skip_verify: bool = False

    @field_validator("kubeconfig", "context")
    @classmethod
    def _non_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            # The error location already names the field.
            raise _fail("", value, "a non-empty string or unset")
        return value

    @model_validator(mode="after")
    def _check(self) -> KubernetesSettings:
        for key, ns in (
            ("namespace", self.namespace),
            ("nodeExporterNamespace", self.node_exporter_namespace),
        ):
            if not _DNS_LABEL.match(ns) or len(ns) > 63:
                raise _fail(key, ns, "a namespace name (lowercase DNS label, at most 63 chars)")
        if self.namespace == self.node_exporter_namespace:
            raise _fail(
                "nodeExporterNamespace",
                self.node_exporter_namespace,
                f"a namespace other than namespace ({self.namespace}); it is privileged",
            )
        if not _DNS_SUBDOMAIN.match(self.cluster_domain):
            raise _fail("clusterDomain", self.cluster_domain, 'a DNS domain, e.g. "cluster.local"')
        if self.remote_write_url is not None:
            _check_url("remoteWriteUrl", self.remote_write_url)
        if self.grafana_url is not None:
            _check_url("grafanaUrl", self.grafana_url)
        elif not self.ingress.enabled:
            raise _fail(
                "grafanaUrl",
                None,
                "a URL (e.g. http://localhost:3000 with `kubectl port-forward`) when "
                "ingress.enabled is false: `pulumi up` configures Grafana through it",
            )
        return self

    def grafana_provider_url(self) -> str:
        """How `pulumi up` reaches Grafana: the explicit URL, else the ingress host."""
        if self.grafana_url is not None:
            return self.grafana_url.rstrip("/")
        return f"https://{self.ingress.grafana_host}"

    def check_retention_size(self, retention_size: str) -> None:
        """Prometheus' size retention (`retentionSize`, base-2 units) must leave headroom on
        its volume for the WAL and compactions; "0" (no size limit) is accepted."""
        if retention_size in ("0", "0B", ""):
            return
        match = re.match(r"^(\d+)(B|KB|MB|GB|TB|PB|EB)$", retention_size)
        if match is None:
            return  # the stack config validates the format itself
        power = ("B", "KB", "MB", "GB", "TB", "PB", "EB").index(match.group(2))
        wanted = Decimal(match.group(1)) * 1024**power
        volume = memory_bytes("storage.prometheus", self.storage.prometheus)
        if wanted > volume * Decimal("0.9"):
            raise SettingError(
                "retentionSize",
                retention_size,
                f"at most 90% of {CONFIG_KEY}.storage.prometheus ({self.storage.prometheus}); "
                "Prometheus needs the rest for its WAL and compactions",
            )

    def service_host(self, service: str) -> str:
        return f"{service}.{self.namespace}.svc.{self.cluster_domain}"


def _check_url(key: str, value: str) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise _fail(key, value, "an http:// or https:// URL with a host")


def load_kubernetes_settings(raw: object) -> KubernetesSettings:
    """Validate the `kubernetes` config object; raise ONE ValueError naming key, value, allowed."""
    if not isinstance(raw, dict):
        raise ValueError(
            f"{CONFIG_KEY} = {raw!r} is invalid: allowed an object (see the README's config table)"
        )
    try:
        return KubernetesSettings.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(format_validation_error(exc)) from None


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, each naming `kubernetes.<key>`, the value and what is allowed."""
    lines = []
    for err in exc.errors():
        path = ".".join([CONFIG_KEY, *(str(part) for part in err["loc"])])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, SettingError):
            lines.append(cause.full_message(path))
        elif err["type"] == "extra_forbidden":
            allowed = ", ".join(_keys_at(err["loc"][:-1]))
            lines.append(
                f"{path} = {err.get('input')!r} is not a known key: allowed keys here are {allowed}"
            )
        else:
            lines.append(f"{path} = {err.get('input')!r} is invalid: {err['msg']}")
    return "\n".join(lines)


def _keys_at(loc: tuple[int | str, ...]) -> list[str]:
    """The camelCase keys of the model found at `loc` (for 'unknown key' errors)."""
    model: type[BaseModel] = KubernetesSettings
    for part in loc:
        fields = {(f.alias or n): f for n, f in model.model_fields.items()}
        annotation = fields[str(part)].annotation if str(part) in fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(f.alias or n for n, f in model.model_fields.items())
