"""`python -m infra synth` output: plan.json shape, artifacts that real tools accept."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.synth import SECRET, synth
from monitoring import render

ROOT = Path(__file__).resolve().parents[2]
# The team's provider-schema checker lives in `shared/`, beside the checkout (CI clones there too).
SHARED = next(
    (
        p
        for p in (Path(__file__).resolve().parents[3] / "shared", Path("/work/shared"))
        if p.is_dir()
    ),
    Path("/work/shared"),
)
SCHEMA_CHECK = SHARED / "tools" / "schema_check.py"
SCHEMAS = SHARED / "provider-schemas"


@pytest.fixture(scope="module")
def dev_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "dev"
    synth("dev", out)
    return out


def test_plan_shape(dev_out: Path) -> None:
    plan = json.loads((dev_out / "plan.json").read_text())
    assert plan["stack"] == "dev"
    assert set(plan) == {"stack", "resources", "outputs"}
    for resource in plan["resources"]:
        assert set(resource) == {"type", "name", "parent", "inputs"}
    parents = {r["parent"] for r in plan["resources"]}
    assert "pulumi:pulumi:Stack::trading-monitoring-dev" in parents  # the MonitoringStack
    assert "trading-monitoring:dev:DockerTarget::dev" in parents
    assert plan["outputs"]["grafanaAdminPassword"] == SECRET


def test_every_artifact_is_written(dev_out: Path) -> None:
    names = {p.relative_to(dev_out).as_posix() for p in dev_out.rglob("*") if p.is_file()}
    assert {"plan.json", "prometheus.yml", "alertmanager.yml", "loki.yml", "config.alloy"} <= names
    assert any(n.startswith("rules/") for n in names)
    assert "dashboards/tm-overview.json" in names


def test_synth_is_deterministic(dev_out: Path, tmp_path: Path) -> None:
    synth("dev", tmp_path / "again")
    for path in dev_out.rglob("*"):
        if path.is_file():
            again = tmp_path / "again" / path.relative_to(dev_out)
            assert again.read_text() == path.read_text(), path.name


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_rendered_prometheus_files(dev_out: Path) -> None:
    rules = sorted(str(p) for p in (dev_out / "rules").glob("*.yml"))
    for command in (
        ["promtool", "check", "config", "--syntax-only", str(dev_out / "prometheus.yml")],
        ["promtool", "check", "rules", *rules],
    ):
        run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool not installed")
def test_amtool_accepts_the_review_copy_of_alertmanager_yml(dev_out: Path) -> None:
    command = ["amtool", "check-config", str(dev_out / "alertmanager.yml")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.skipif(
    not SCHEMA_CHECK.exists(),
    reason="the provider schema checker (shared/ beside the checkout) is not here",
)
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_inputs_match_the_real_provider_schemas(stack: str, tmp_path: Path) -> None:
    synth(stack, tmp_path / stack)
    command = [sys.executable, str(SCHEMA_CHECK), str(tmp_path / stack / "plan.json")]
    run = subprocess.run(
        [*command, "--schemas", str(SCHEMAS)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout
    assert " 0 violations" in run.stdout


def test_encrypted_stack_secrets_become_placeholders(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    ciphertext = "v1:Zm9vYmFyYmF6:c2VjcmV0LWNpcGhlcnRleHQ="
    document["config"]["trading-monitoring:exporterDatabaseDsn"] = {"secure": ciphertext}
    document["config"]["trading-monitoring:webhookUrl"] = {"secure": ciphertext}
    document["config"]["trading-monitoring:receivers"]["webhook"] = True
    (tmp_path / "Pulumi.enc.yaml").write_text(yaml.safe_dump(document))
    result = synth("enc", tmp_path / "out", project_dir=tmp_path)
    (exporter,) = [r for r in result.resources if r.name == "exporter" and r.custom]
    assert any(
        a.startswith("--db-url-file=") for a in exporter.inputs["command"]
    )  # the DSN is used, as on deploy
    texts = [p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert not any(ciphertext in text for text in texts)
    alertmanager = (tmp_path / "out" / "alertmanager.yml").read_text()
    assert "https://secret.invalid/webhookUrl" in alertmanager


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_libyaml_writes_what_pure_python_pyyaml_writes(
    stack: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """synth emits YAML with libyaml (7x faster); every output byte matches PyYAML's own."""
    assert render.YAML_DUMPER is render.LibyamlDumper
    synth(stack, tmp_path / "libyaml")
    monkeypatch.setattr(render, "YAML_DUMPER", render.PurePythonDumper)
    synth(stack, tmp_path / "python")
    written = sorted(p.relative_to(tmp_path / "python") for p in (tmp_path / "python").rglob("*"))
    assert written == sorted(
        p.relative_to(tmp_path / "libyaml") for p in (tmp_path / "libyaml").rglob("*")
    )
    for relative in written:
        if (tmp_path / "python" / relative).is_file():
            python = (tmp_path / "python" / relative).read_bytes()
            assert (tmp_path / "libyaml" / relative).read_bytes() == python, relative
