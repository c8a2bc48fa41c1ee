"""Prod-only (Kubernetes) stack settings: one validated pydantic model, no Pulumi here.

Read from the structured config key `trading-monitoring:kubernetes` (camelCase keys, see the
README table). Secrets are NOT here: the registry password and the exporter database DSN are
separate secret config keys (`SECRET_KEYS`), read by the target.
Every error names the key, the value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra.settings.base import StrictModel
from infra.settings.resources import (
    MAX_STORAGE,
    ComputeResources,
    compute_resources,
    memory_bytes,
    retention_size_bytes,
)
from validation import InvalidValue, check_image_tag, check_url

# Secret config keys (set with `pulumi config set --secret KEY VALUE`).
REGISTRY_PASSWORD_KEY = "registryPassword"
EXPORTER_DSN_KEY = "exporterDatabaseDsn"
# remote_write credentials (Prometheus reads them from files of a Secret).
REMOTE_WRITE_PASSWORD_KEY = "remoteWritePassword"
REMOTE_WRITE_TOKEN_KEY = "remoteWriteBearerToken"
SECRET_KEYS = (
    REGISTRY_PASSWORD_KEY,
    EXPORTER_DSN_KEY,
    REMOTE_WRITE_PASSWORD_KEY,
    REMOTE_WRITE_TOKEN_KEY,
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HOSTNAME = _DNS_SUBDOMAIN
_REGISTRY_SERVER = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$")
_REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
# Annotation key: optional DNS-subdomain prefix + "/" + a name of at most 63 characters.
_ANNOTATION_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


class Resources(StrictModel):
    """Per-component container resources (each replaces its default as a whole)."""

    prometheus: ComputeResources = compute_resources("500m", "2Gi", "2", "4Gi")
    alertmanager: ComputeResources = compute_resources("50m", "64Mi", "200m", "256Mi")
    grafana: ComputeResources = compute_resources("100m", "256Mi", "1", "512Mi")
    loki: ComputeResources = compute_resources("200m", "512Mi", "1", "2Gi")
    alloy: ComputeResources = compute_resources("50m", "128Mi", "500m", "512Mi")
    node_exporter: ComputeResources = compute_resources("50m", "32Mi", "250m", "128Mi")
    exporter: ComputeResources = compute_resources("50m", "64Mi", "500m", "256Mi")
    # Each instance of a standard component's exporter.
    postgres_exporter: ComputeResources = compute_resources("20m", "32Mi", "200m", "64Mi")
    redis_exporter: ComputeResources = compute_resources("20m", "16Mi", "200m", "64Mi")
    nginx_exporter: ComputeResources = compute_resources("10m", "16Mi", "100m", "32Mi")
    blackbox_exporter: ComputeResources = compute_resources("20m", "32Mi", "200m", "128Mi")
    kube_state_metrics: ComputeResources = compute_resources("10m", "32Mi", "100m", "128Mi")


class Storage(StrictModel):
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
            raise InvalidValue(
                "storageClass", self.storage_class, "a StorageClass name (DNS subdomain)"
            )
        for name in ("prometheus", "alertmanager", "grafana", "loki", "exporter"):
            memory_bytes(name, getattr(self, name), MAX_STORAGE)
        return self


class Replicas(StrictModel):
    prometheus: int = 2
    alertmanager: int = 3

    @model_validator(mode="after")
    def _check(self) -> Replicas:
        for name, low, high in (("prometheus", 1, 10), ("alertmanager", 1, 9)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise InvalidValue(name, value, f"an integer from {low} to {high}")
        return self


class Registry(StrictModel):
    """Where the exporter image is pushed. The password is the secret key `registryPassword`."""

    server: str
    username: str
    repository: str = "trading-monitoring/exporter"
    tag: str = "0.1.0"

    @model_validator(mode="after")
    def _check(self) -> Registry:
        if not _REGISTRY_SERVER.match(self.server):
            raise InvalidValue(
                "server",
                self.server,
                'a registry host[:port] without scheme, e.g. "ghcr.io" or "registry.local:5000"',
            )
        if not self.username.strip():
            raise InvalidValue("username", self.username, "a non-empty user name")
        if not _REPOSITORY.match(self.repository):
            raise InvalidValue(
                "repository",
                self.repository,
                'a lowercase repository path, e.g. "acme/trading-exporter"',
            )
        check_image_tag("tag", self.tag)
        return self

    @property
    def image_name(self) -> str:
        return f"{self.server}/{self.repository}:{self.tag}"


class Egress(StrictModel):
    """Egress NetworkPolicies: deny by default, then what each component needs (see
    infra/kubernetes/namespaces.py). Traffic leaving the pod network (receivers, remote_write,
    the database, the API server, kubelets) may only reach `externalCidrs` on the ports each
    component needs: narrow it to your networks, or widen a port list here."""

    enabled: bool = True
    external_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"])
    api_server_ports: list[int] = Field(default_factory=lambda: [443, 6443])
    database_port: int = 5432  # the exporter's database (exporterDatabase.mode = "dsn")
    receiver_ports: list[int] = Field(default_factory=lambda: [443])  # Slack, PagerDuty, hooks

    @model_validator(mode="after")
    def _check(self) -> Egress:
        if not self.external_cidrs:
            raise InvalidValue("externalCidrs", self.external_cidrs, "at least one CIDR")
        for cidr in self.external_cidrs:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise InvalidValue(
                    "externalCidrs", cidr, 'CIDRs such as "10.0.0.0/8" or "0.0.0.0/0"'
                ) from None
        for key, ports in (
            ("apiServerPorts", self.api_server_ports),
            ("receiverPorts", self.receiver_ports),
            ("databasePort", [self.database_port]),
        ):
            for number in ports:
                if isinstance(number, bool) or not 1 <= number <= 65535:
                    raise InvalidValue(key, number, "ports 1-65535")
        return self


_NGINX = "nginx.ingress.kubernetes.io/"
# Annotation sets that make an ingress controller authenticate every request to Prometheus
# and Alertmanager (they have no authentication of their own). Each entry: controller, the
# annotations (key -> required value, or None for any non-empty value), what it is. Any other
# annotations may be added; one of these sets must be complete (README "Security").
AUTH_SCHEMES: tuple[tuple[str, dict[str, str | None], str], ...] = (
    ("nginx", {_NGINX + "auth-url": None}, "ingress-nginx external authentication"),
    ("nginx", {_NGINX + "auth-type": "basic", _NGINX + "auth-secret": None}, "basic auth"),
    ("nginx", {_NGINX + "auth-type": "digest", _NGINX + "auth-secret": None}, "digest auth"),
    (
        "nginx",
        {_NGINX + "auth-tls-secret": None, _NGINX + "auth-tls-verify-client": "on"},
        "client certificates",
    ),
    ("nginx", {"nginx.org/basic-auth-secret": None}, "NGINX Inc's controller, basic auth"),
    (
        "traefik",
        {"traefik.ingress.kubernetes.io/router.middlewares": None},
        "Traefik middlewares (a basicAuth/forwardAuth Middleware)",
    ),
)


def auth_scheme(annotations: dict[str, str], class_name: str | None) -> str | None:
    """The authentication scheme `annotations` configure completely, for the controller that
    `class_name` names (any controller when the class names neither nginx nor traefik)."""
    controllers = [c for c in ("nginx", "traefik") if class_name and c in class_name]
    for controller, needed, what in AUTH_SCHEMES:
        if controllers and controller not in controllers:
            continue
        if all(
            annotations.get(key, "").strip() and (value is None or annotations[key] == value)
            for key, value in needed.items()
        ):
            return what
    return None


def auth_schemes_text() -> str:
    return "; ".join(
        " + ".join(f"{k}: {v or '<value>'}" for k, v in needed.items())
        for _, needed, _ in AUTH_SCHEMES
    )


class Ingress(StrictModel):
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
            raise InvalidValue("className", self.class_name, "an IngressClass name")
        for key, host in (
            ("grafanaHost", self.grafana_host),
            ("prometheusHost", self.prometheus_host),
            ("alertmanagerHost", self.alertmanager_host),
        ):
            if host is not None and not _HOSTNAME.match(host):
                raise InvalidValue(f"{key}", host, 'a DNS host name such as "grafana.example.com"')
        if self.tls_secret_name is not None and not _DNS_SUBDOMAIN.match(self.tls_secret_name):
            raise InvalidValue("tlsSecretName", self.tls_secret_name, "a Secret name")
        for key in self.auth_annotations:
            if not _ANNOTATION_KEY.match(key):
                raise InvalidValue(
                    "authAnnotations",
                    key,
                    'annotation keys such as "nginx.ingress.kubernetes.io/auth-url"',
                )
        if not _DNS_LABEL.match(self.controller_namespace):
            raise InvalidValue("controllerNamespace", self.controller_namespace, "a namespace name")
        if self.cert_manager_issuer is not None and not _DNS_SUBDOMAIN.match(
            self.cert_manager_issuer
        ):
            raise InvalidValue(
                "certManagerIssuer", self.cert_manager_issuer, "a ClusterIssuer name"
            )
        if not self.enabled:
            for key, host in (
                ("grafanaHost", self.grafana_host),
                ("prometheusHost", self.prometheus_host),
                ("alertmanagerHost", self.alertmanager_host),
            ):
                if host is not None:
                    raise InvalidValue(key, host, "unset while ingress.enabled is false")
            return self
        if self.grafana_host is None:
            raise InvalidValue("grafanaHost", None, "a host name when ingress.enabled is true")
        if self.tls_secret_name is None:
            raise InvalidValue(
                "tlsSecretName",
                None,
                "a Secret name when ingress.enabled is true (plain HTTP is refused; with "
                "certManagerIssuer, cert-manager fills it)",
            )
        if (self.prometheus_host or self.alertmanager_host) and not self.auth_annotations:
            host_key = "prometheusHost" if self.prometheus_host else "alertmanagerHost"
            raise InvalidValue(
                f"{host_key}",
                self.prometheus_host or self.alertmanager_host,
                "only together with ingress.authAnnotations that enforce authentication "
                "(Prometheus and Alertmanager have none of their own)",
            )
        if self.auth_annotations and auth_scheme(self.auth_annotations, self.class_name) is None:
            raise InvalidValue(
                "authAnnotations",
                self.auth_annotations,
                f"annotations that make the {self.class_name or 'ingress'} controller "
                f"authenticate, one complete set of: {auth_schemes_text()}",
            )
        return self


class ExporterDatabase(StrictModel):
    """`dsn`: the secret key `exporterDatabaseDsn` (e.g. postgresql://...).
    `pvc`: an SQLite file at `path` on a PVC that the trading system writes too."""

    mode: Literal["dsn", "pvc"] = "dsn"
    path: str = "/data/trading.db"
    # pvc mode: mount this existing claim (e.g. the trading system's); unset: create one.
    existing_claim: str | None = None

    @model_validator(mode="after")
    def _check(self) -> ExporterDatabase:
        if not self.path.startswith("/data/") or ".." in self.path:
            raise InvalidValue("path", self.path, "an absolute path under /data/")
        if self.existing_claim is not None:
            if self.mode != "pvc":
                raise InvalidValue("existingClaim", self.existing_claim, "only with mode 'pvc'")
            if not _DNS_SUBDOMAIN.match(self.existing_claim):
                raise InvalidValue(
                    "existingClaim", self.existing_claim, "a PersistentVolumeClaim name"
                )
        return self


class KubernetesSettings(StrictModel):
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
    egress: Egress = Field(default_factory=Egress)
    remote_write_url: str | None = None
    # "basic": username here, password in the secret remoteWritePassword; "bearer": the secret
    # remoteWriteBearerToken. Both reach Prometheus as files, never in prometheus.yml.
    remote_write_auth: Literal["none", "basic", "bearer"] = "none"
    remote_write_username: str | None = None
    grafana_url: str | None = None  # how `pulumi up` reaches Grafana when ingress is off
    # Scrape kubelet cAdvisor without verifying its certificate (self-signed kubelets, kubeadm).
    kubelet_insecure_skip_verify: bool = False

    @field_validator("kubeconfig", "context")
    @classmethod
    def _non_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            # The error location already names the field.
            raise InvalidValue("", value, "a non-empty string or unset")
        return value

    def _check_remote_write_auth(self) -> None:
        auth, url = self.remote_write_auth, self.remote_write_url
        if auth != "none" and url is None:
            raise InvalidValue("remoteWriteAuth", auth, "'none' while remoteWriteUrl is unset")
        if auth != "none" and url is not None and not url.startswith("https://"):
            raise InvalidValue("remoteWriteUrl", url, "an https:// URL when remoteWriteAuth is set")
        username = self.remote_write_username
        if auth == "basic" and (username is None or not username.strip()):
            raise InvalidValue(
                "remoteWriteUsername", username, "a user name when remoteWriteAuth is 'basic'"
            )
        if auth != "basic" and username is not None:
            raise InvalidValue(
                "remoteWriteUsername", username, "unset unless remoteWriteAuth is 'basic'"
            )

    @model_validator(mode="after")
    def _check(self) -> KubernetesSettings:
        for key, ns in (
            ("namespace", self.namespace),
            ("nodeExporterNamespace", self.node_exporter_namespace),
        ):
            if not _DNS_LABEL.match(ns) or len(ns) > 63:
                raise InvalidValue(
                    key, ns, "a namespace name (lowercase DNS label, at most 63 chars)"
                )
        if self.namespace == self.node_exporter_namespace:
            raise InvalidValue(
                "nodeExporterNamespace",
                self.node_exporter_namespace,
                f"a namespace other than namespace ({self.namespace}); it is privileged",
            )
        if not _DNS_SUBDOMAIN.match(self.cluster_domain):
            raise InvalidValue(
                "clusterDomain", self.cluster_domain, 'a DNS domain, e.g. "cluster.local"'
            )
        if self.remote_write_url is not None:
            check_url("remoteWriteUrl", self.remote_write_url)
        self._check_remote_write_auth()
        if self.grafana_url is not None:
            check_url("grafanaUrl", self.grafana_url)
        elif not self.ingress.enabled:
            raise InvalidValue(
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
        wanted = retention_size_bytes(retention_size)
        if not wanted:
            return  # "0" (no limit); the stack config validates the format itself
        volume = memory_bytes("storage.prometheus", self.storage.prometheus, MAX_STORAGE)
        if wanted > volume * Decimal("0.9"):
            raise InvalidValue(
                "retentionSize",
                retention_size,
                f"at most 90% of kubernetes.storage.prometheus ({self.storage.prometheus}); "
                "Prometheus needs the rest for its WAL and compactions",
            )

    def service_host(self, service: str) -> str:
        return f"{service}.{self.namespace}.svc.{self.cluster_domain}"
