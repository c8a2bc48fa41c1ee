"""A stack with three user services (static targets, Kubernetes discovery, probe-only): synth
output passes promtool, amtool, the blackbox exporter's config check and the provider schemas;
the blackbox exporter is deployed on both targets with the same hardening as ours."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.synth import synth
from tests.infra.test_synth_artifacts import ROOT, SCHEMA_CHECK, SCHEMAS
from tests.monitoring.service_config import RAW_SERVICES
from tests.monitoring.test_promtool import _without_kubernetes_sd

# The monitoring tests' services: static targets (investiq-api, screener), Kubernetes
# discovery (gateway) and probe-only (ml).
SERVICES: list[dict[str, Any]] = RAW_SERVICES


CUSTOM = "tests/monitoring/custom"


def test_custom_dashboards_go_to_the_custom_folder(
    synthed: tuple[str, Path, dict[str, Any]],
) -> None:
    _, _, plan = synthed
    boards = {
        r["inputs"]["configJson"]: r["inputs"]
        for r in plan["resources"]
        if r["type"] == "grafana:oss/dashboard:Dashboard"
    }
    (custom,) = [b for text, b in boards.items() if '"uid": "investiq-business"' in text]
    assert custom["folder"] == "tm-folder-custom"
    folders = {
        r["inputs"]["uid"] for r in plan["resources"] if r["type"] == "grafana:oss/folder:Folder"
    }
    assert {"tm-folder-custom", "tm-folder-services"} <= folders


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _synth(stack: str, base: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    document = yaml.safe_load((ROOT / f"Pulumi.{base}.yaml").read_text())
    document["config"]["trading-monitoring:services"] = SERVICES
    # The team's own files, relative to the project directory.
    document["config"]["trading-monitoring:rules"] = {"files": [f"{CUSTOM}/team_rules.yml"]}
    document["config"]["trading-monitoring:dashboards"] = {"files": [f"{CUSTOM}/team_board.json"]}
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    out = tmp_path / "out"
    synth(stack, out, project_dir=tmp_path)
    return out, json.loads((out / "plan.json").read_text())


@pytest.fixture(scope="module", params=["dev", "prod"])
def synthed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, dict[str, Any]]:
    base = str(request.param)
    out, plan = _synth(f"svc{base}", base, tmp_path_factory.mktemp(f"svc-{base}"))
    return base, out, plan


def test_rendered_files_pass_the_real_tools(synthed: tuple[str, Path, dict[str, Any]]) -> None:
    _, out, _ = synthed
    config: dict[str, Any] = yaml.safe_load((out / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"service-investiq-api", "service-gateway", "probe"} <= jobs
    _without_kubernetes_sd(config)  # Debian's promtool 2.42 has no Kubernetes discovery
    checked = out / "prometheus-checked.yml"
    checked.write_text(yaml.safe_dump(config))
    rules = sorted(str(p) for p in (out / "rules").glob("*.yml"))
    assert any(r.endswith("services.yml") for r in rules)
    assert any(r.endswith("custom-team_rules.yml") for r in rules)
    for command in (
        ["promtool", "check", "config", "--syntax-only", str(checked)],
        ["promtool", "check", "rules", *rules],
        ["amtool", "check-config", str(out / "alertmanager.yml")],
        ["prometheus-blackbox-exporter", "--config.check", f"--config.file={out / 'blackbox.yml'}"],
    ):
        if shutil.which(command[0]) is None:
            pytest.fail(f"{command[0]} is not installed: run `make tools`")
        result = _run(command)
        assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "dashboards" / "tm-service-investiq-api.json").exists()


def test_inputs_match_the_provider_schemas(synthed: tuple[str, Path, dict[str, Any]]) -> None:
    _, out, _ = synthed
    if not SCHEMA_CHECK.exists():
        pytest.skip("the provider schema checker (shared/ beside the checkout) is not here")
    result = _run(
        [sys.executable, str(SCHEMA_CHECK), str(out / "plan.json"), "--schemas", str(SCHEMAS)]
    )
    assert result.returncode == 0, result.stdout
    assert " 0 violations" in result.stdout


def test_the_blackbox_exporter_is_deployed_and_hardened(
    synthed: tuple[str, Path, dict[str, Any]],
) -> None:
    base, _, plan = synthed
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in plan["resources"]:
        by_type.setdefault(resource["type"], []).append(resource)
    if base == "dev":
        containers = {r["name"]: r["inputs"] for r in by_type["docker:index/container:Container"]}
        blackbox = containers["blackbox-exporter"]
        assert blackbox["image"]  # the pulled, pinned image's id
        assert any(u["file"] == "/etc/blackbox_exporter/config.yml" for u in blackbox["uploads"])
        host = {"host": "host.docker.internal", "ip": "host-gateway"}
        assert host in blackbox["hosts"] and host in containers["prometheus"]["hosts"]
        images = {r["inputs"]["name"] for r in by_type["docker:index/remoteImage:RemoteImage"]}
        assert "prom/blackbox-exporter:v0.25.0" in images
    else:
        (deployment,) = [
            r["inputs"]
            for r in by_type["kubernetes:apps/v1:Deployment"]
            if r["inputs"]["metadata"]["name"] == "blackbox-exporter"
        ]
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == "prom/blackbox-exporter:v0.25.0"
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        assert container["resources"]["limits"]
        # Its probes may leave through the egress policies (any pod, externalCidrs).
        (egress,) = [
            r["inputs"]["spec"]
            for r in by_type["kubernetes:networking.k8s.io/v1:NetworkPolicy"]
            if r["inputs"]["metadata"]["name"] == "allow-blackbox-exporter-egress"
        ]
        assert egress["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "blackbox-exporter"
        assert {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]} in egress["egress"]


def test_prod_discovers_endpoints_with_the_existing_cluster_role(
    synthed: tuple[str, Path, dict[str, Any]],
) -> None:
    """`metrics.kubernetes` needs no extra RBAC (README): Prometheus' ClusterRole already lists
    and watches endpoints, services and pods cluster-wide; the job keeps one namespace."""
    base, out, plan = synthed
    if base != "prod":
        pytest.skip("Kubernetes only")
    config: dict[str, Any] = yaml.safe_load((out / "prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "service-gateway"]
    assert job["kubernetes_sd_configs"] == [
        {"role": "endpoints", "namespaces": {"names": ["trading"]}}
    ]
    roles = [
        r["inputs"]
        for r in plan["resources"]
        if r["type"] == "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
        and "prometheus" in r["inputs"]["metadata"]["name"]
    ]
    assert roles
    rules = [rule for role in roles for rule in role["rules"]]
    assert any(
        {"endpoints", "services", "pods"} <= set(rule.get("resources", []))
        and {"list", "watch"} <= set(rule["verbs"])
        for rule in rules
    ), rules
