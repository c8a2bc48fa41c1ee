"""Loki and Grafana Alloy configuration renderers (pure functions, no Pulumi).

Loki runs as one single-binary instance with filesystem storage and compactor retention (Loki
deletes nothing unless the compactor's retention is enabled). Alloy replaces Promtail (end of
life 2026-03-02): on Docker it tails every container of the engine through the Docker socket;
on Kubernetes (one Alloy per node) it tails the pods of its own node through the API server.
"""

from __future__ import annotations

import json

import yaml

from components import alloy, loki
from components.model import DOCKER_SERVICE_LABEL
from monitoring.settings import ContentSettings

# Docker discovery exposes container labels with every other character replaced by "_".
_DOCKER_SERVICE_META = "__meta_docker_container_label_" + "".join(
    c if c.isalnum() else "_" for c in DOCKER_SERVICE_LABEL
)

# Schema start date: fixed forever once data exists (a new schema gets a new, later entry).
LOKI_SCHEMA_FROM = "2025-01-01"


def render_loki_config(settings: ContentSettings, retention_period: str) -> str:
    """Loki 3.x config: tsdb + filesystem, retention `retention_period` (hours, e.g. "168h")."""
    alertmanager_urls = ",".join(f"http://{target}" for target in settings.targets.alertmanagers)
    config = {
        "auth_enabled": False,
        "server": {
            "http_listen_port": loki.COMPONENT.port,
            "grpc_listen_port": loki.GRPC_PORT,
            "log_level": "info",
        },
        "common": {
            "instance_addr": "127.0.0.1",
            "path_prefix": loki.DATA_DIR,
            "storage": {
                "filesystem": {
                    "chunks_directory": f"{loki.DATA_DIR}/chunks",
                    "rules_directory": f"{loki.DATA_DIR}/rules",
                }
            },
            "replication_factor": 1,
            "ring": {"kvstore": {"store": "inmemory"}},
        },
        "schema_config": {
            "configs": [
                {
                    "from": LOKI_SCHEMA_FROM,
                    "store": "tsdb",
                    "object_store": "filesystem",
                    "schema": "v13",
                    "index": {"prefix": "index_", "period": "24h"},
                }
            ]
        },
        "limits_config": {
            "retention_period": retention_period,
            "reject_old_samples": True,
            "reject_old_samples_max_age": retention_period,
            "allow_structured_metadata": True,
            "volume_enabled": True,
        },
        "compactor": {
            "working_directory": f"{loki.DATA_DIR}/compactor",
            "compaction_interval": "10m",
            "retention_enabled": True,
            "retention_delete_delay": "2h",
            "delete_request_store": "filesystem",
        },
        "ruler": {"alertmanager_url": alertmanager_urls},
        "analytics": {"reporting_enabled": False},
    }
    return yaml.safe_dump(config, sort_keys=False)


def _string(value: str) -> str:
    """An Alloy string literal (Alloy strings use Go escapes, which JSON's are a subset of)."""
    return json.dumps(value)


def _loki_write(settings: ContentSettings) -> str:
    endpoints = "\n".join(
        f"  endpoint {{\n    url = {_string(f'http://{target}/loki/api/v1/push')}\n  }}"
        for target in settings.targets.loki
    )
    labels = {"env": settings.environment, **dict(settings.external_labels)}
    label_lines = "\n".join(f"    {key} = {_string(value)}," for key, value in labels.items())
    return (
        f'loki.write "default" {{\n{endpoints}\n  external_labels = {{\n{label_lines}\n  }}\n}}\n'
    )


# Log stream labels: (discovered meta label, our label, regex extracting the value or None).
_DOCKER_LABELS = (
    ("__meta_docker_container_name", "container", "/(.*)"),
    ("__meta_docker_container_log_stream", "stream", None),
    (_DOCKER_SERVICE_META, "service", None),
)
_KUBERNETES_LABELS = (
    ("__meta_kubernetes_namespace", "namespace", None),
    ("__meta_kubernetes_pod_name", "pod", None),
    ("__meta_kubernetes_pod_container_name", "container", None),
    ("__meta_kubernetes_pod_label_app_kubernetes_io_name", "service", None),
)


def _relabel(name: str, targets: str, rules: tuple[tuple[str, str, str | None], ...]) -> str:
    """A `discovery.relabel` block copying each meta label to our label."""
    blocks = []
    for source, target, regex in rules:
        lines = [f"    source_labels = [{_string(source)}]"]
        if regex is not None:
            lines.append(f"    regex         = {_string(regex)}")
        lines.append(f"    target_label  = {_string(target)}")
        blocks.append("  rule {\n" + "\n".join(lines) + "\n  }")
    rules_text = "\n".join(blocks)
    return f'discovery.relabel "{name}" {{\n  targets = {targets}\n\n{rules_text}\n}}'


def _docker_sources(docker_host: str) -> str:
    host = _string(docker_host)
    return f"""discovery.docker "containers" {{
  host             = {host}
  refresh_interval = "15s"
}}

{_relabel("containers", "[]", _DOCKER_LABELS)}

loki.source.docker "containers" {{
  host          = {host}
  targets       = discovery.docker.containers.targets
  relabel_rules = discovery.relabel.containers.rules
  forward_to    = [loki.write.default.receiver]
}}
"""


def _kubernetes_sources() -> str:
    node = f"sys.env({_string(alloy.NODE_NAME_ENV)})"
    return f"""discovery.kubernetes "pods" {{
  role = "pod"

  selectors {{
    role  = "pod"
    field = "spec.nodeName=" + {node}
  }}
}}

{_relabel("pods", "discovery.kubernetes.pods.targets", _KUBERNETES_LABELS)}

loki.source.kubernetes "pods" {{
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.default.receiver]
}}
"""


def render_alloy_config(
    settings: ContentSettings, docker_host: str = "unix:///var/run/docker.sock"
) -> str:
    """Alloy config: container logs -> Loki, labelled container/service (and namespace/pod).

    `settings.discovery` picks the source: "static" (Docker, via `docker_host`) or "kubernetes".
    """
    sources = (
        _kubernetes_sources()
        if settings.discovery == "kubernetes"
        else _docker_sources(docker_host)
    )
    header = (
        "// Rendered by monitoring/logs.py: container logs to Loki. Do not edit by hand.\n"
        'logging {\n  level  = "info"\n  format = "logfmt"\n}\n\n'
    )
    return header + sources + "\n" + _loki_write(settings)
