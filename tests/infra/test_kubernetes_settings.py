"""KubernetesSettings: defaults, and one clear error per bad key (key, value, what is allowed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from infra.settings.base import ConfigError, format_validation_error
from infra.settings.kubernetes import KubernetesSettings
from infra.settings.resources import cpu_millicores, memory_bytes
from infra.synth import SynthError
from tests.infra.harness import REAL_SECRETS, new_monitor, run_stack, stack_config

MINIMAL: dict[str, Any] = {
    "registry": {"server": "registry.example.com:5000", "username": "ci"},
    "grafanaUrl": "http://127.0.0.1:3000",
}


def load_kubernetes_settings(raw: object) -> KubernetesSettings:
    """The `kubernetes` key validated and its errors formatted as the stack config does."""
    try:
        return KubernetesSettings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, KubernetesSettings, "kubernetes")) from None


def with_change(path: str, value: Any) -> dict[str, Any]:
    """MINIMAL with `a.b.c` set to value (None removes it)."""
    raw: dict[str, Any] = json.loads(json.dumps(MINIMAL))
    *parents, last = path.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return raw


def test_defaults_match_the_ha_layout() -> None:
    settings = load_kubernetes_settings(MINIMAL)
    assert settings.namespace == "monitoring"
    assert settings.node_exporter_namespace == "monitoring-node"
    assert settings.replicas.prometheus == 2
    assert settings.replicas.alertmanager == 3
    assert settings.kubeconfig is None  # ambient
    assert settings.exporter_database.mode == "dsn"
    assert (
        settings.registry.image_name
        == "registry.example.com:5000/trading-monitoring/exporter:0.1.0"
    )
    assert settings.grafana_provider_url() == "http://127.0.0.1:3000"
    assert settings.service_host("grafana") == "grafana.monitoring.svc.cluster.local"


def test_grafana_provider_url_is_the_ingress_host_when_enabled() -> None:
    raw = with_change("grafanaUrl", None)
    raw["ingress"] = {"enabled": True, "grafanaHost": "grafana.example.com", "tlsSecretName": "t"}
    assert load_kubernetes_settings(raw).grafana_provider_url() == "https://grafana.example.com"


BAD: list[tuple[str, Any, str, str]] = [
    # (path, value, key in the message, what is allowed)
    ("namespace", "Monitoring", "kubernetes.namespace", "namespace name"),
    ("nodeExporterNamespace", "monitoring", "kubernetes.nodeExporterNamespace", "other than"),
    ("clusterDomain", "cluster_local", "kubernetes.clusterDomain", "DNS domain"),
    ("kubeconfig", "  ", "kubernetes.kubeconfig", "non-empty"),
    ("replicas.prometheus", 0, "kubernetes.replicas.prometheus", "from 1 to 10"),
    ("replicas.alertmanager", 12, "kubernetes.replicas.alertmanager", "from 1 to 9"),
    ("replicas.prometheus", "2", "kubernetes.replicas.prometheus", "valid integer"),
    ("storage.prometheus", "50GB", "kubernetes.storage.prometheus", '"2Gi"'),
    ("storage.storageClass", "Fast_SSD", "kubernetes.storage.storageClass", "StorageClass"),
    (
        "resources.grafana",
        {"cpuRequest": "2", "memoryRequest": "1Gi", "cpuLimit": "1", "memoryLimit": "1Gi"},
        "kubernetes.resources.grafana.cpuLimit",
        ">= cpuRequest (2)",
    ),
    (
        "resources.loki",
        {"cpuRequest": "1", "memoryRequest": "1Gi", "cpuLimit": "1", "memoryLimit": "lots"},
        "kubernetes.resources.loki.memoryLimit",
        '"512Mi"',
    ),
    ("registry.server", "https://ghcr.io", "kubernetes.registry.server", "without scheme"),
    ("registry.tag", "latest", "kubernetes.registry.tag", "other than 'latest'"),
    ("registry.repository", "Acme/Exporter", "kubernetes.registry.repository", "lowercase"),
    ("exporterDatabase.mode", "mysql", "kubernetes.exporterDatabase.mode", "'dsn' or 'pvc'"),
    ("exporterDatabase.path", "/etc/passwd", "kubernetes.exporterDatabase.path", "under /data/"),
    ("remoteWriteUrl", "mimir:9009", "kubernetes.remoteWriteUrl", "http:// or https://"),
    ("grafanaUrl", None, "kubernetes.grafanaUrl", "ingress.enabled is false"),
    ("ingress.grafanaHost", "grafana.example.com", "kubernetes.ingress.grafanaHost", "unset"),
    ("ingress.enabled", "yes", "kubernetes.ingress.enabled", "valid boolean"),
    ("replicaz", 2, "kubernetes.replicaz", "allowed keys here are"),
    ("ingress.authAnnotations", {"auth url": "x"}, "kubernetes.ingress.authAnnotations", "keys"),
]


@pytest.mark.parametrize(("path", "value", "key", "allowed"), BAD)
def test_each_bad_value_is_one_clear_error(path: str, value: Any, key: str, allowed: str) -> None:
    with pytest.raises(ValueError) as error:
        load_kubernetes_settings(with_change(path, value))
    message = str(error.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"trading-monitoring:{key} "), message
    assert allowed in message, message
    if value is not None and not isinstance(value, dict) and key.endswith(path.split(".")[-1]):
        assert repr(value) in message, message


def test_ingress_enabled_needs_host_and_tls() -> None:
    raw = with_change("ingress", {"enabled": True})
    with pytest.raises(
        ValueError, match=r"^trading-monitoring:kubernetes\.ingress\.grafanaHost = None"
    ):
        load_kubernetes_settings(raw)
    raw = with_change("ingress", {"enabled": True, "grafanaHost": "g.example.com"})
    with pytest.raises(
        ValueError, match=r"^trading-monitoring:kubernetes\.ingress\.tlsSecretName = None.*refused"
    ):
        load_kubernetes_settings(raw)


def test_prometheus_host_needs_auth_annotations() -> None:
    ingress = {
        "enabled": True,
        "grafanaHost": "g.example.com",
        "tlsSecretName": "tls",
        "prometheusHost": "p.example.com",
    }
    with pytest.raises(ValueError, match=r"prometheusHost = 'p.example.com'.*authAnnotations"):
        load_kubernetes_settings(with_change("ingress", ingress))
    ingress["authAnnotations"] = {"nginx.ingress.kubernetes.io/auth-url": "https://a/b"}
    assert load_kubernetes_settings(with_change("ingress", ingress)).ingress.prometheus_host


def test_existing_claim_only_in_pvc_mode() -> None:
    raw = with_change("exporterDatabase", {"mode": "dsn", "existingClaim": "trading-db"})
    with pytest.raises(ValueError, match=r"existingClaim = 'trading-db'.*only with mode 'pvc'"):
        load_kubernetes_settings(raw)
    raw = with_change("exporterDatabase", {"mode": "pvc", "existingClaim": "trading-db"})
    assert load_kubernetes_settings(raw).exporter_database.existing_claim == "trading-db"


def test_not_an_object() -> None:
    with pytest.raises(
        ValueError,
        match=r"^trading-monitoring:kubernetes = 'prod' is invalid: allowed a valid dictionary",
    ):
        load_kubernetes_settings("prod")


def test_quantities() -> None:
    assert cpu_millicores("k", "250m") == 250
    assert cpu_millicores("k", "1.5") == 1500
    assert memory_bytes("k", "1Gi") == 2**30
    assert memory_bytes("k", "1G") == 10**9
    with pytest.raises(ValueError, match="k = '0m' is invalid"):
        cpu_millicores("k", "0m")
    with pytest.raises(ValueError, match="k = '1gb' is invalid"):
        memory_bytes("k", "1gb")


def test_model_rejects_unknown_nested_keys() -> None:
    with pytest.raises(ValueError, match=r"kubernetes\.storage\.lokii = .1Gi. is not a known key"):
        load_kubernetes_settings(with_change("storage.lokii", "1Gi"))
    assert KubernetesSettings.model_validate(MINIMAL).storage.loki == "50Gi"


def test_stack_config_errors_name_the_full_key_before_any_resource() -> None:
    prod_kubernetes = json.loads(stack_config("prod")["kubernetes"])
    bad = {**prod_kubernetes, "replicas": {"prometheus": 0, "alertmanager": 3}}
    monitor = new_monitor()
    with pytest.raises(SynthError) as error:
        run_stack("prod", overrides={"kubernetes": bad}, secrets=REAL_SECRETS, monitor=monitor)
    assert (
        "trading-monitoring:kubernetes.replicas.prometheus = 0 is invalid: "
        "allowed an integer from 1 to 10" in str(error.value)
    )
    assert monitor.recorded == []


def test_prod_secrets_are_required_before_any_resource() -> None:
    secrets = {k: v for k, v in REAL_SECRETS.items() if k != "registryPassword"}
    monitor = new_monitor()
    with pytest.raises(SynthError, match=r"registryPassword is not set"):
        run_stack("prod", secrets=secrets, monitor=monitor)
    assert monitor.recorded == []


def test_size_retention_must_fit_the_prometheus_volume() -> None:
    settings = load_kubernetes_settings(with_change("storage.prometheus", "50Gi"))
    settings.check_retention_size("45GB")  # Prometheus units are base 2: 45GiB = 90% of 50Gi
    settings.check_retention_size("0")  # no size limit
    with pytest.raises(
        ValueError, match=r"^retentionSize = '46GB' is invalid: allowed at most 90%"
    ):
        settings.check_retention_size("46GB")


def test_prod_stack_refuses_a_retention_size_larger_than_the_volume() -> None:
    monitor = new_monitor()
    with pytest.raises(Exception, match=r"trading-monitoring:retentionSize = '60GB' is invalid"):
        run_stack(
            "prod", overrides={"retentionSize": "60GB"}, secrets=REAL_SECRETS, monitor=monitor
        )
    assert not [r for r in monitor.recorded if r.type.startswith("kubernetes:")]


def test_numeric_cpu_quantities_are_accepted() -> None:
    raw = with_change(
        "resources.loki",
        {"cpuRequest": 0.5, "memoryRequest": "1Gi", "cpuLimit": 2, "memoryLimit": "2Gi"},
    )
    loki = load_kubernetes_settings(raw).resources.loki
    assert (loki.cpu_request, loki.cpu_limit) == ("0.5", "2")
    with pytest.raises(ValueError, match=r"resources\.loki\.cpuRequest = True is invalid"):
        load_kubernetes_settings(with_change("resources.loki.cpuRequest", True))


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("remoteWriteUrl", "https://tenant:Rw-S3cret@mimir.example.com/api/v1/push"),
        ("remoteWriteUrl", "https://tenant@mimir.example.com/api/v1/push"),
        ("grafanaUrl", "https://admin:Gf-S3cret@grafana.example.com"),
    ],
)
def test_urls_with_credentials_are_refused_without_showing_them(path: str, url: str) -> None:
    """Credentials in a URL would spread into prometheus.yml, alert annotations and the plan."""
    with pytest.raises(ValueError) as error:
        load_kubernetes_settings(with_change(path, url))
    message = str(error.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"trading-monitoring:kubernetes.{path} "), message
    assert "without user:password@" in message and "secret" in message, message
    assert "S3cret" not in message, message
