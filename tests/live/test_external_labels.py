"""A `$` in an external label value reaches a real Prometheus as a `$`.

Prometheus 3 (the pinned image) expands `$VAR` in external label values, and 2.x does with
`--enable-feature=expand-external-labels`: the rendered prometheus.yml writes the user's `$`
as `$$` and the flags turn expansion on, so the Debian Prometheus 2.42 here loads the values
exactly as configured (and not `$HOME` expanded, nor `$$`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from components import prometheus
from infra.settings import stack as cfg
from monitoring.render import render_prometheus_config
from tests.infra.harness import stack_config
from tests.live.processes import HOST, ManagedProcess, get_json, start_on_free_port

pytestmark = pytest.mark.live

LABELS = {"desk": "fx$desk", "home": "$HOME", "braces": "${HOSTNAME}", "twice": "a$$b"}


def test_dollar_signs_in_external_label_values_are_literal(tmp_path: Path) -> None:
    if shutil.which("prometheus") is None:
        pytest.fail("the live test needs prometheus on PATH: run `make tools`")
    config, _ = cfg.load_stack_config(
        stack_config("dev", {"externalLabels": LABELS}), cfg.placeholder_secret
    )
    settings = config.content
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(render_prometheus_config(settings))
    args = prometheus.args(settings, str(config_file), str(tmp_path / "data"))
    assert "--enable-feature=expand-external-labels" in args
    process: ManagedProcess | None = None
    try:
        process, port = start_on_free_port(
            "prometheus",
            lambda port: ["prometheus", *args, f"--web.listen-address={HOST}:{port}"],
            "/-/ready",
            tmp_path / "prometheus.log",
        )
        loaded = get_json(f"http://{HOST}:{port}/api/v1/status/config")["data"]["yaml"]
    finally:
        if process is not None:
            process.stop()
    labels = yaml.safe_load(loaded)["global"]["external_labels"]
    assert {name: labels[name] for name in LABELS} == LABELS
    assert labels["env"] == "dev"
