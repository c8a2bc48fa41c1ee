"""Loki and Alloy configs (monitoring/logs.py) for both discovery modes."""

from __future__ import annotations

import dataclasses
import re

import yaml

from components import PORTS, alloy, loki
from monitoring.logs import render_alloy_config, render_loki_config
from monitoring.settings import ContentSettings, Market, Targets


def _settings(discovery: str = "static", environment: str = "dev") -> ContentSettings:
    targets = Targets(
        prometheus=("tm-prometheus:9090",),
        alertmanagers=("am-0:9093", "am-1:9093"),
        exporter=("tm-exporter:9188",),
        node_exporter=("tm-node-exporter:9100",),
        cadvisor=("tm-cadvisor:8080",),
        grafana=("tm-grafana:3000",),
        loki=("tm-loki:3100",),
        alloy=("tm-alloy:12345",),
    )
    market = Market(code="kr", name="Korea", calendar="XKRX", timezone="Asia/Seoul")
    settings = ContentSettings(markets=(market,), targets=targets, environment=environment)
    return dataclasses.replace(settings, discovery=discovery)  # type: ignore[arg-type]


def _balanced(text: str) -> bool:
    depth = 0
    for char in re.sub(r'"(\\.|[^"\\])*"', '""', text):  # ignore braces inside strings
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def test_loki_keeps_logs_for_the_retention_period_only() -> None:
    config = yaml.safe_load(render_loki_config(_settings(), "336h"))
    assert config["auth_enabled"] is False
    assert config["server"]["http_listen_port"] == PORTS["loki"]
    assert config["limits_config"]["retention_period"] == "336h"
    assert config["compactor"]["retention_enabled"] is True
    assert config["compactor"]["delete_request_store"] == "filesystem"
    (schema,) = config["schema_config"]["configs"]
    assert (schema["store"], schema["schema"], schema["index"]["period"]) == ("tsdb", "v13", "24h")
    assert config["ruler"]["alertmanager_url"] == "http://am-0:9093,http://am-1:9093"
    assert config["analytics"]["reporting_enabled"] is False
    assert loki.CONFIG_PATH.startswith("/etc/loki/")


def test_alloy_on_docker_tails_containers_into_loki() -> None:
    text = render_alloy_config(_settings(), docker_host="unix:///var/run/docker.sock")
    assert _balanced(text)
    assert 'discovery.docker "containers"' in text
    assert 'loki.source.docker "containers"' in text
    assert "discovery.kubernetes" not in text
    assert 'url = "http://tm-loki:3100/loki/api/v1/push"' in text
    assert 'target_label  = "container"' in text  # the Logs dashboard selects by container
    assert 'env = "dev",' in text


def test_alloy_on_kubernetes_tails_the_pods_of_its_node() -> None:
    text = render_alloy_config(_settings("kubernetes", "prod"))
    assert _balanced(text)
    assert 'loki.source.kubernetes "pods"' in text
    assert f'sys.env("{alloy.NODE_NAME_ENV}")' in text
    assert "discovery.docker" not in text
    assert 'target_label  = "container"' in text and 'target_label  = "namespace"' in text
    assert 'env = "prod",' in text


def test_alloy_strings_are_escaped() -> None:
    settings = dataclasses.replace(_settings(), external_labels=(("team", 'a"b\\c'),))
    text = render_alloy_config(settings)
    assert 'team = "a\\"b\\\\c",' in text
    assert _balanced(text)


def test_alloy_listens_where_the_targets_expect_it() -> None:
    args = alloy.args()
    assert args[0] == "run" and args[-1] == alloy.CONFIG_PATH
    assert f"--server.http.listen-addr=0.0.0.0:{PORTS['alloy']}" in args
    assert "--disable-reporting" in args
