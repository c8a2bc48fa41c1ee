"""Over a hundred bad stack files through the synth CLI: each exits 2 with ONE line on stderr
that names the key (no traceback), registers no resource and writes nothing to --out.

Each case changes Pulumi.dev.yaml or Pulumi.prod.yaml (dotted paths into the `config`
mapping, `trading-monitoring:` implied unless the path names a namespace) or is a whole file
of its own (YAML-level errors). tests/infra/test_config_errors.py checks the full text of
the messages; this table checks that no hole is left.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import synth

ROOT = Path(__file__).resolve().parents[2]
NS = "trading-monitoring"
BASE = {
    stack: yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) for stack in ("dev", "prod")
}
PROD_KUBERNETES = BASE["prod"]["config"][f"{NS}:kubernetes"]
DELETE = object()


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    """`a.b.0.c` below config["trading-monitoring:a"]; a path with ':' is a whole key."""
    config = document["config"]
    if ":" in path:
        config[path] = value
        return
    head, *rest = path.split(".")
    if not rest:
        if value is DELETE:
            config.pop(f"{NS}:{head}", None)
        else:
            config[f"{NS}:{head}"] = value
        return
    node = config.setdefault(f"{NS}:{head}", {})
    for part in rest[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
    last = rest[-1]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value


def _file(stack: str, changes: dict[str, Any]) -> str:
    document = copy.deepcopy(BASE[stack])
    for path, value in changes.items():
        _set(document, path, value)
    return yaml.safe_dump(document, sort_keys=False)


def _default_route(**route: Any) -> dict[str, Any]:
    """Overrides: the notifications block with one email receiver and these default-route keys."""
    return {
        "receivers": DELETE,
        "notifications": {
            "receivers": [{"name": "leads", "email": {"to": ["a@example.com"]}}],
            "default": {"receiver": "leads", **route},
        },
    }


def _service(**extra: Any) -> list[dict[str, Any]]:
    return [{"name": "api", "metrics": {"targets": ["api.internal:8080"]}, **extra}]


def _ingress(annotations: dict[str, str], class_name: str = "nginx") -> dict[str, Any]:
    return {
        "kubernetes.ingress.prometheusHost": "prometheus.example.com",
        "kubernetes.ingress.className": class_name,
        "kubernetes.ingress.authAnnotations": annotations,
    }


DEV_FILE = (ROOT / "Pulumi.dev.yaml").read_text()
# External labels that would change how alerts route, mute and group (the list).
ROUTING_LABELS = ("market", "severity", "category", "service", "team", "job", "instance")

# (id, stack, changes or a whole file's text, text the one line must contain: the key)
CASES: list[tuple[str, str, dict[str, Any] | str, str]] = [
    # --- numbers: finite, in range, of the right type --------------------------------------
    (
        "threshold NaN",
        "dev",
        {"thresholds.apiLatencyP95Seconds": math.nan},
        "thresholds.apiLatencyP95Seconds",
    ),
    (
        "threshold inf",
        "dev",
        {"thresholds.apiLatencyP95Seconds": math.inf},
        "thresholds.apiLatencyP95Seconds",
    ),
    (
        "ratio -inf",
        "dev",
        {"thresholds.orderFailureRatio": -math.inf},
        "thresholds.orderFailureRatio",
    ),
    (
        "negative latency",
        "dev",
        {"thresholds.apiLatencyP95Seconds": -1},
        "thresholds.apiLatencyP95Seconds",
    ),
    (
        "stale warning 0",
        "dev",
        {"thresholds.staleDataWarningSeconds": 0},
        "thresholds.staleDataWarningSeconds",
    ),
    (
        "stale critical negative",
        "dev",
        {"thresholds.staleDataCriticalSeconds": -60},
        "thresholds.staleDataCriticalSeconds",
    ),
    (
        "whole number truncated",
        "dev",
        {"thresholds.staleDataWarningSeconds": 1800.9},
        "thresholds.staleDataWarningSeconds",
    ),
    (
        "bool as number",
        "dev",
        {"thresholds.staleDataWarningSeconds": True},
        "thresholds.staleDataWarningSeconds",
    ),
    (
        "string as number",
        "dev",
        {"thresholds.staleDataWarningSeconds": "1800"},
        "thresholds.staleDataWarningSeconds",
    ),
    (
        "string as ratio",
        "dev",
        {"thresholds.orderFailureRatio": "0.1"},
        "thresholds.orderFailureRatio",
    ),
    ("ratio 0", "dev", {"thresholds.orderFailureRatio": 0}, "thresholds.orderFailureRatio"),
    ("ratio above 1", "dev", {"thresholds.orderFailureRatio": 1.5}, "thresholds.orderFailureRatio"),
    (
        "objective 1",
        "dev",
        {"thresholds.apiAvailabilityObjective": 1.0},
        "thresholds.apiAvailabilityObjective",
    ),
    (
        "collector duration 0",
        "dev",
        {"thresholds.collectorDurationSeconds": 0},
        "thresholds.collectorDurationSeconds",
    ),
    (
        "collector duration 2h",
        "dev",
        {"thresholds.collectorDurationSeconds": 7200},
        "thresholds.collectorDurationSeconds",
    ),
    (
        "growth negative",
        "dev",
        {"thresholds.databaseGrowthBytesPerDay": -5},
        "thresholds.databaseGrowthBytesPerDay",
    ),
    (
        "free bytes huge",
        "dev",
        {"thresholds.diskFreeBytesMinimum": 1e19},
        "thresholds.diskFreeBytesMinimum",
    ),
    (
        "backup age 0",
        "dev",
        {"thresholds.backupMaxAgeSeconds": 0},
        "thresholds.backupMaxAgeSeconds",
    ),
    ("fill days 0", "dev", {"thresholds.volumeFillDays": 0}, "thresholds.volumeFillDays"),
    ("fill days fraction", "dev", {"thresholds.volumeFillDays": 2.5}, "thresholds.volumeFillDays"),
    (
        "remote write behind 0",
        "dev",
        {"thresholds.remoteWriteBehindSeconds": 0},
        "thresholds.remoteWriteBehindSeconds",
    ),
    (
        "freshness age huge",
        "dev",
        {"thresholds.dataFreshnessMaxAgeSeconds": 99999999999},
        "thresholds.dataFreshnessMaxAgeSeconds",
    ),
    (
        "threshold duration text",
        "dev",
        {"thresholds.collectionFor": "5 minutes"},
        "thresholds.collectionFor",
    ),
    (
        "threshold duration number",
        "dev",
        {"thresholds.targetDownFor": 5},
        "thresholds.targetDownFor",
    ),
    (
        "stalled window 0",
        "dev",
        {"thresholds.collectionStalledWindow": "0s"},
        "thresholds.collectionStalledWindow",
    ),
    ("fill window 0", "dev", {"thresholds.volumeFillWindow": "0m"}, "thresholds.volumeFillWindow"),
    (
        "SLO period short",
        "dev",
        {"thresholds.sloPeriodInterval": "20s"},
        "thresholds.sloPeriodInterval",
    ),
    ("threshold for overflow", "dev", {"thresholds.cpuFor": "300y"}, "thresholds.cpuFor"),
    (
        "unknown threshold",
        "dev",
        {"thresholds.orderFailureRate": 0.2},
        "thresholds.orderFailureRate",
    ),
    (
        "service objective NaN",
        "dev",
        {
            "services": _service(
                slo={
                    "requests": {"metric": "a_total"},
                    "errors": {"metric": "b_total"},
                    "objectives": {"availability": math.nan},
                }
            )
        },
        "services[0].slo.objectives.availability",
    ),
    (
        "warning above critical",
        "dev",
        {"thresholds.apiErrorRatioWarning": 0.3},
        "thresholds.apiErrorRatioCritical",
    ),
    (
        "stale critical before warning",
        "dev",
        {"thresholds.staleDataCriticalSeconds": 600},
        "thresholds.staleDataCriticalSeconds",
    ),
    (
        "disk free critical above warning",
        "dev",
        {"thresholds.diskFreeRatioCritical": 0.5},
        "thresholds.diskFreeRatioCritical",
    ),
    (
        "exporter interval from string",
        "dev",
        {"exporter.refresh_interval": "30"},
        "exporter.refresh_interval",
    ),
    (
        "exporter interval NaN",
        "dev",
        {"exporter.timeout": math.nan},
        "exporter.timeout",
    ),
    (
        "exporter buckets NaN",
        "dev",
        {"exporter.histogram_buckets": [0.1, math.nan]},
        "exporter.histogram_buckets",
    ),
    (
        "exporter buckets infinite",
        "dev",
        {"exporter.histogram_buckets": [0.1, math.inf]},
        "exporter.histogram_buckets",
    ),
    # --- durations ----------------------------------------------------------------------
    ("retention overflow", "dev", {"retentionTime": "99999999y"}, "retentionTime"),
    ("retention beyond Go", "dev", {"retentionTime": "293y"}, "retentionTime"),
    ("retention 0", "dev", {"retentionTime": "0s"}, "retentionTime"),
    ("log retention overflow", "dev", {"logRetentionTime": "99999999h"}, "logRetentionTime"),
    ("log retention short", "dev", {"logRetentionTime": "12h"}, "logRetentionTime"),
    ("log retention days", "dev", {"logRetentionTime": "7d"}, "logRetentionTime"),
    ("evaluation 0", "dev", {"evaluationInterval": "0s"}, "evaluationInterval"),
    ("scrape interval 0", "dev", {"scrapeInterval": "0s"}, "scrapeInterval"),
    ("scrape timeout 0", "dev", {"scrapeTimeout": "0s"}, "scrapeTimeout"),
    ("scrape timeout above interval", "dev", {"scrapeTimeout": "30s"}, "scrapeTimeout"),
    ("scrape interval unitless", "dev", {"scrapeInterval": "15"}, "scrapeInterval"),
    ("evaluation units out of order", "dev", {"evaluationInterval": "30s1m"}, "evaluationInterval"),
    ("retention size spaced", "dev", {"retentionSize": "20 GB"}, "retentionSize"),
    ("retention size huge", "dev", {"retentionSize": "99999999EB"}, "retentionSize"),
    ("retention size above volume", "prod", {"retentionSize": "49GB"}, "retentionSize"),
    (
        "route group interval 0",
        "dev",
        _default_route(groupInterval="0s"),
        "groupInterval",
    ),
    (
        "route repeat interval 0",
        "dev",
        _default_route(repeatInterval="0s"),
        "repeatInterval",
    ),
    (
        "service scrape interval 0",
        "dev",
        {"services": _service(metrics={"targets": ["api.internal:8080"], "interval": "0s"})},
        "services[0].metrics.interval",
    ),
    (
        "service alert for overflow",
        "dev",
        {
            "services": _service(
                alerts=[
                    {
                        "name": "Down",
                        "expr": "up == 0",
                        "severity": "critical",
                        "summary": "down",
                        "for": "300y",
                    }
                ]
            )
        },
        "services[0].alerts[0].for",
    ),
    # --- ports 1-65535 everywhere ---------------------------------------------------------
    (
        "adapter port 0",
        "dev",
        {"markets.5.adapterTarget": "adapter.internal:0"},
        "markets.5.adapterTarget",
    ),
    (
        "adapter port 99999",
        "dev",
        {"markets.5.adapterTarget": "adapter.internal:99999"},
        "markets.5.adapterTarget",
    ),
    (
        "adapter without port",
        "dev",
        {"markets.5.adapterTarget": "adapter.internal"},
        "markets.5.adapterTarget",
    ),
    (
        "smarthost port 0",
        "dev",
        {"receivers.smtpSmarthost": "smtp.example.com:0"},
        "receivers.smtpSmarthost",
    ),
    (
        "smarthost port 70000",
        "dev",
        {"receivers.smtpSmarthost": "smtp.example.com:70000"},
        "receivers.smtpSmarthost",
    ),
    ("host port 0", "dev", {"docker.ports.grafana": 0}, "docker.ports.grafana"),
    ("host port 99999", "dev", {"docker.ports.grafana": 99999}, "docker.ports.grafana"),
    ("host port string", "dev", {"docker.ports.grafana": "3000"}, "docker.ports.grafana"),
    ("host port fraction", "dev", {"docker.ports.grafana": 3000.5}, "docker.ports.grafana"),
    ("host port privileged", "dev", {"docker.ports.loki": 80}, "docker.ports.loki"),
    (
        "egress database port 0",
        "prod",
        {"kubernetes.egress.databasePort": 0},
        "kubernetes.egress.databasePort",
    ),
    (
        "egress receiver port 70000",
        "prod",
        {"kubernetes.egress.receiverPorts": [443, 70000]},
        "kubernetes.egress.receiverPorts",
    ),
    (
        "egress API port string",
        "prod",
        {"kubernetes.egress.apiServerPorts": ["443"]},
        "kubernetes.egress.apiServerPorts",
    ),
    (
        "service target port 0",
        "dev",
        {"services": _service(metrics={"targets": ["api.internal:0"]})},
        "services[0].metrics.targets[0]",
    ),
    (
        "service probe tcp port",
        "dev",
        {"services": [{"name": "api", "probes": [{"name": "tcp", "tcp": "api.internal:99999"}]}]},
        "services[0].probes[0].tcp",
    ),
    (
        "service probe url port",
        "dev",
        {
            "services": [
                {"name": "api", "probes": [{"name": "web", "url": "http://api.internal:0/health"}]}
            ]
        },
        "services[0].probes[0].url",
    ),
    (
        "service discovery port 0",
        "dev",
        {
            "services": [
                {
                    "name": "api",
                    "metrics": {"kubernetes": {"namespace": "apps", "service": "api", "port": 0}},
                }
            ]
        },
        "services[0].metrics.kubernetes.port",
    ),
    (
        "postgres port 0",
        "dev",
        {
            "components.postgres": [
                {
                    "name": "main",
                    "address": "db.internal:0",
                    "database": "trading",
                    "user": "monitor",
                    "passwordSecret": "tradingDbPassword",
                }
            ]
        },
        "components.postgres[0].address",
    ),
    (
        "redis port 0",
        "dev",
        {"components.redis": [{"name": "cache", "address": "redis://cache.internal:0"}]},
        "components.redis[0].address",
    ),
    (
        "redis port 99999",
        "dev",
        {"components.redis": [{"name": "cache", "address": "redis://cache.internal:99999"}]},
        "components.redis[0].address",
    ),
    (
        "nginx status port 0",
        "dev",
        {
            "components.nginx": [
                {"name": "edge", "statusUrl": "http://nginx.internal:0/stub_status"}
            ]
        },
        "components.nginx[0].statusUrl",
    ),
    (
        "grafana URL port 0",
        "prod",
        {"kubernetes.grafanaUrl": "http://localhost:0"},
        "kubernetes.grafanaUrl",
    ),
    # --- no coercion ------------------------------------------------------------------------
    ("bool from yes", "dev", {"docker.exporterDemoDatabase": "yes"}, "docker.exporterDemoDatabase"),
    (
        "bool from string true",
        "dev",
        {"receivers.smtpRequireTls": "true"},
        "receivers.smtpRequireTls",
    ),
    ("bool from 1", "dev", {"receivers.pagerduty": 1}, "receivers.pagerduty"),
    (
        "int from string",
        "prod",
        {"kubernetes.replicas.prometheus": "2"},
        "kubernetes.replicas.prometheus",
    ),
    (
        "int from fraction",
        "prod",
        {"kubernetes.replicas.prometheus": 2.5},
        "kubernetes.replicas.prometheus",
    ),
    (
        "egress enabled string",
        "prod",
        {"kubernetes.egress.enabled": "false"},
        "kubernetes.egress.enabled",
    ),
    (
        "kubelet verify string",
        "prod",
        {"kubernetes.kubeletInsecureSkipVerify": "no"},
        "kubernetes.kubeletInsecureSkipVerify",
    ),
    (
        "ingress enabled string",
        "prod",
        {"kubernetes.ingress.enabled": "true"},
        "kubernetes.ingress.enabled",
    ),
    ("exporter enabled string", "dev", {"exporter.enabled": "yes"}, "exporter.enabled"),
    ("market name number", "dev", {"markets.0.name": 5}, "markets.0.name"),
    (
        "replicas out of range",
        "prod",
        {"kubernetes.replicas.alertmanager": 0},
        "kubernetes.replicas.alertmanager",
    ),
    (
        "component flag from string",
        "dev",
        {
            "components.postgres": [
                {
                    "name": "main",
                    "address": "db.internal:5432",
                    "database": "trading",
                    "user": "monitor",
                    "passwordSecret": "tradingDbPassword",
                    "replicationLagQueries": "yes",
                }
            ]
        },
        "components.postgres.0.replicationLagQueries",
    ),
    # --- images, case-insensitively ---------------------------------------------------------
    ("image LATEST", "dev", {"images.grafana": "grafana/grafana:LATEST"}, "images.grafana"),
    ("image Latest", "dev", {"images.prometheus": "prom/prometheus:Latest"}, "images.prometheus"),
    ("image untagged", "dev", {"images.loki": "grafana/loki"}, "images.loki"),
    (
        "image bad digest",
        "dev",
        {"images.alloy": "grafana/alloy:v1.9.2@sha256:abc"},
        "images.alloy",
    ),
    (
        "image uppercase repository",
        "dev",
        {"images.grafana": "Grafana/Grafana:11.6.16"},
        "images.grafana",
    ),
    (
        "registry tag latest",
        "prod",
        {"kubernetes.registry.tag": "LATEST"},
        "kubernetes.registry.tag",
    ),
    # --- namespaces that look like ours -----------------------------------------------------
    (
        "namespace typo",
        "dev",
        {"trading-monitorng:scrapeInterval": "30s"},
        "trading-monitorng:scrapeInterval",
    ),
    (
        "namespace underscore",
        "dev",
        {"trading_monitoring:scrapeInterval": "30s"},
        "trading_monitoring:scrapeInterval",
    ),
    (
        "namespace camel case",
        "dev",
        {"TradingMonitoring:target": "docker"},
        "TradingMonitoring:target",
    ),
    (
        "namespace missing letter",
        "dev",
        {"trading-monitorin:markets": []},
        "trading-monitorin:markets",
    ),
    (
        "namespace run together",
        "dev",
        {"tradingmonitoring:environment": "dev"},
        "tradingmonitoring:environment",
    ),
    (
        "namespace secure value",
        "dev",
        {"trading-monitoing:smtpPassword": {"secure": "AAABAx"}},
        "trading-monitoing:smtpPassword",
    ),
    (
        "no namespace",
        "dev",
        "config:\n  scrapeInterval: 30s\n" + DEV_FILE.split("config:\n", 1)[1],
        "scrapeInterval",
    ),
    # --- YAML -------------------------------------------------------------------------------
    (
        "duplicate key",
        "dev",
        DEV_FILE + "  trading-monitoring:scrapeInterval: 30s\n",
        "trading-monitoring:scrapeInterval",
    ),
    (
        "duplicate nested key",
        "dev",
        DEV_FILE.replace("    namePrefix: tm\n", "    namePrefix: tm\n    namePrefix: tm2\n"),
        "namePrefix",
    ),
    (
        "duplicate key in a market",
        "dev",
        DEV_FILE.replace(
            '      name: "Vietnam (HOSE)"\n', '      name: "Vietnam (HOSE)"\n      name: VN\n'
        ),
        "name",
    ),
    (
        "duplicate secure key",
        "dev",
        DEV_FILE
        + "  trading-monitoring:smtpPassword:\n    secure: AAAB\n"
        + "  trading-monitoring:smtpPassword:\n    secure: AAAC\n",
        "trading-monitoring:smtpPassword",
    ),
    (
        "unclosed flow sequence",
        "dev",
        DEV_FILE.replace(
            'sessions: ["09:00-11:30", "13:00-14:45"]', 'sessions: ["09:00-11:30", "13:00-14:45"'
        ),
        "Pulumi.bad.yaml:",
    ),
    (
        "tab indentation",
        "dev",
        DEV_FILE.replace(
            "  trading-monitoring:target: docker", "\ttrading-monitoring:target: docker"
        ),
        "Pulumi.bad.yaml:",
    ),
    (
        "bad indentation",
        "dev",
        DEV_FILE.replace(
            "  trading-monitoring:environment: dev",
            "  trading-monitoring:environment: dev\n    extra: x",
        ),
        "Pulumi.bad.yaml:",
    ),
    (
        "python object tag",
        "dev",
        DEV_FILE.replace(
            "trading-monitoring:environment: dev",
            "trading-monitoring:environment: !!python/object/apply:os.system [id]",
        ),
        "Pulumi.bad.yaml:",
    ),
    (
        "python name tag",
        "dev",
        DEV_FILE.replace(
            "trading-monitoring:environment: dev",
            "trading-monitoring:environment: !!python/name:os.system ''",
        ),
        "Pulumi.bad.yaml:",
    ),
    (
        "unknown tag",
        "dev",
        DEV_FILE.replace(
            "trading-monitoring:environment: dev", "trading-monitoring:environment: !vault dev"
        ),
        "Pulumi.bad.yaml:",
    ),
    ("not a mapping", "dev", "- config\n- x\n", "Pulumi.bad.yaml"),
    ("config not a mapping", "dev", "config: [1, 2]\n", "config"),
    # --- a target's block under the other target ----------------------------------------
    ("kubernetes block on docker", "prod", {"target": "docker"}, "kubernetes"),
    (
        "docker block on kubernetes",
        "dev",
        {"target": "kubernetes", "kubernetes": PROD_KUBERNETES},
        "docker",
    ),
    (
        "kubernetes target without its block",
        "dev",
        {"target": "kubernetes", "docker": DELETE},
        "kubernetes",
    ),
    ("unknown target", "dev", {"target": "swarm"}, "target"),
    # --- external labels -----------------------------------------------------------------
    *(
        (f"external label {name}", "dev", {"externalLabels": {name: "x"}}, f"externalLabels.{name}")
        for name in (*ROUTING_LABELS, "alertname", "env", "replica", "__name__", "__tmp_x")
    ),
    (
        "external label invalid name",
        "dev",
        {"externalLabels": {"desk-name": "x"}},
        "externalLabels.desk-name",
    ),
    # --- host paths -----------------------------------------------------------------------
    ("socket is the host root", "dev", {"docker.dockerSocket": "/"}, "docker.dockerSocket"),
    ("socket double slash root", "dev", {"docker.dockerSocket": "//"}, "docker.dockerSocket"),
    ("socket with ..", "dev", {"docker.dockerSocket": "/var/run/../../etc"}, "docker.dockerSocket"),
    (
        "socket relative",
        "dev",
        {"docker.dockerSocket": "var/run/docker.sock"},
        "docker.dockerSocket",
    ),
    (
        "socket with bind options",
        "dev",
        {"docker.dockerSocket": "/var/run/docker.sock:rw"},
        "docker.dockerSocket",
    ),
    (
        "database path root",
        "dev",
        {"docker.exporterDatabasePath": "/"},
        "docker.exporterDatabasePath",
    ),
    (
        "database path with ..",
        "dev",
        {"docker.exporterDatabasePath": "/data/../etc/passwd"},
        "docker.exporterDatabasePath",
    ),
    (
        "database path a directory",
        "dev",
        {"docker.exporterDatabasePath": "/data/"},
        "docker.exporterDatabasePath",
    ),
    (
        "PVC path with ..",
        "prod",
        {"kubernetes.exporterDatabase.path": "/data/../etc/trading.db"},
        "kubernetes.exporterDatabase.path",
    ),
    # --- resource sizes -----------------------------------------------------------------
    (
        "100000 CPUs",
        "dev",
        {"docker.resources.prometheus.cpuLimit": "100000"},
        "docker.resources.prometheus.cpuLimit",
    ),
    (
        "CPU 0",
        "dev",
        {"docker.resources.grafana.cpuRequest": "0"},
        "docker.resources.grafana.cpuRequest",
    ),
    (
        "memory 0",
        "dev",
        {"docker.resources.loki.memoryRequest": "0"},
        "docker.resources.loki.memoryRequest",
    ),
    (
        "memory huge",
        "prod",
        {"kubernetes.resources.prometheus.memoryLimit": "99999Ti"},
        "kubernetes.resources.prometheus.memoryLimit",
    ),
    ("volume huge", "prod", {"kubernetes.storage.loki": "99999999Ti"}, "kubernetes.storage.loki"),
    ("volume 0", "prod", {"kubernetes.storage.grafana": "0Gi"}, "kubernetes.storage.grafana"),
    # --- ingress authentication ---------------------------------------------------------
    (
        "auth annotations that authenticate nothing",
        "prod",
        _ingress({"foo": "bar"}),
        "kubernetes.ingress.authAnnotations",
    ),
    (
        "basic auth without its secret",
        "prod",
        _ingress({"nginx.ingress.kubernetes.io/auth-type": "basic"}),
        "kubernetes.ingress.authAnnotations",
    ),
    (
        "traefik middleware on nginx",
        "prod",
        _ingress(
            {"traefik.ingress.kubernetes.io/router.middlewares": "monitoring-auth@kubernetescrd"}
        ),
        "kubernetes.ingress.authAnnotations",
    ),
    (
        "nginx auth on traefik",
        "prod",
        _ingress({"nginx.ingress.kubernetes.io/auth-url": "https://auth.example.com/"}, "traefik"),
        "kubernetes.ingress.authAnnotations",
    ),
    (
        "client certificates unverified",
        "prod",
        _ingress(
            {
                "nginx.ingress.kubernetes.io/auth-tls-secret": "monitoring/ca",
                "nginx.ingress.kubernetes.io/auth-tls-verify-client": "off",
            }
        ),
        "kubernetes.ingress.authAnnotations",
    ),
    (
        "empty auth URL",
        "prod",
        _ingress({"nginx.ingress.kubernetes.io/auth-url": " "}),
        "kubernetes.ingress.authAnnotations",
    ),
    (
        "prometheus host without annotations",
        "prod",
        _ingress({}),
        "kubernetes.ingress.prometheusHost",
    ),
    # --- template syntax where text ends up in templates ---------------------------------
    (
        "runbook URL template",
        "dev",
        {"runbookBaseUrl": "https://wiki.example.com/{{ .Labels.x }}"},
        "runbookBaseUrl",
    ),
    (
        "runbook URL jinja",
        "dev",
        {"runbookBaseUrl": "https://wiki.example.com/{%x%}"},
        "runbookBaseUrl",
    ),
    (
        "email to template",
        "dev",
        {"receivers.emailTo": "{{ .x }}@example.com"},
        "receivers.emailTo",
    ),
    (
        "email from template",
        "dev",
        {"receivers.emailFrom": "alerts{{x}}@example.com"},
        "receivers.emailFrom",
    ),
    (
        "grafana URL template",
        "prod",
        {"kubernetes.grafanaUrl": "https://grafana.example.com/{{x}}"},
        "kubernetes.grafanaUrl",
    ),
    (
        "remote write URL template",
        "prod",
        {"kubernetes.remoteWriteUrl": "https://mimir.example.com/}}"},
        "kubernetes.remoteWriteUrl",
    ),
    (
        "status URL template",
        "dev",
        {"components.nginx": [{"name": "edge", "statusUrl": "http://nginx.internal/{{x}}"}]},
        "components.nginx[0].statusUrl",
    ),
    (
        "service runbook template",
        "dev",
        {
            "services": _service(
                alerts=[
                    {
                        "name": "Down",
                        "expr": "up == 0",
                        "severity": "critical",
                        "summary": "down",
                        "runbook": "https://wiki.example.com/{{$labels.job}}",
                    }
                ]
            )
        },
        "services[0].alerts[0].runbook",
    ),
    (
        "service alert summary unclosed template",
        "dev",
        {
            "services": _service(
                alerts=[
                    {
                        "name": "Down",
                        "expr": "up == 0",
                        "severity": "critical",
                        "summary": "{{ $labels.instance is down",
                    }
                ]
            )
        },
        "services[0].alerts[0].summary",
    ),
    (
        "service alert description stray braces",
        "dev",
        {
            "services": _service(
                alerts=[
                    {
                        "name": "Down",
                        "expr": "up == 0",
                        "severity": "critical",
                        "summary": "down",
                        "description": "{{ $value }} }} {{ }}",
                    }
                ]
            )
        },
        "services[0].alerts[0].description",
    ),
    (
        "notification email template",
        "dev",
        {
            "receivers": DELETE,
            "notifications": {
                "receivers": [{"name": "leads", "email": {"to": ["{{x}}@example.com"]}}],
                "default": {"receiver": "leads"},
            },
        },
        "notifications.receivers[0].email.to",
    ),
    (
        "smtp from template",
        "dev",
        {
            "receivers": DELETE,
            "notifications": {
                "receivers": [{"name": "leads", "email": {"to": ["a@example.com"]}}],
                "default": {"receiver": "leads"},
                "smtp": {"from": "{{x}}@example.com"},
            },
        },
        "notifications.smtp.from",
    ),
]


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every resource the synth registers (the mocks' monitor, recorded here)."""
    seen: list[str] = []
    original = synth.RecordingMonitor.RegisterResource

    def record(self: synth.RecordingMonitor, request: Any) -> Any:
        seen.append(request.type)
        return original(self, request)

    monkeypatch.setattr(synth.RecordingMonitor, "RegisterResource", record)
    return seen


def test_the_table_is_large_and_its_ids_unique() -> None:
    assert len(CASES) >= 100
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("stack", "change", "key"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_stack_file_is_one_line_naming_the_key(
    stack: str,
    change: dict[str, Any] | str,
    key: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    registered: list[str],
) -> None:
    text = change if isinstance(change, str) else _file(stack, change)
    (tmp_path / "Pulumi.bad.yaml").write_text(text)
    out = tmp_path / "out"
    argv = ["synth", "--stack", "bad", "--out", str(out), "--project-dir", str(tmp_path)]
    status = synth.main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == 2, captured.out + captured.err
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert key in lines[0], lines[0]
    assert "is invalid" in lines[0] or "is not" in lines[0] or ".yaml" in lines[0], lines[0]
    assert not out.exists()
    assert registered == []


def test_the_unchanged_files_synth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same path with the files unchanged exits 0 (each case above differs by its change)."""
    for stack in ("dev", "prod"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(_file(stack, {}))
        argv = [
            "synth",
            "--stack",
            stack,
            "--out",
            str(tmp_path / stack),
            "--project-dir",
            str(tmp_path),
        ]
        assert synth.main(argv) == 0, capsys.readouterr().err
