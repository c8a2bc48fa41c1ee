"""benchmarks/synth_floor.py (the libraries' share of a synth) registers every resource of a
real synth plan, each through the SDK class its type belongs to."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.synth_floor import sdk_class

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("type_token", "expected"),
    [
        ("kubernetes:core/v1:Service", ("pulumi_kubernetes.core.v1", "Service")),
        (
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
            ("pulumi_kubernetes.rbac.v1", "RoleBinding"),
        ),
        (
            "kubernetes:cert-manager.io/v1:Certificate",
            ("pulumi_kubernetes.apiextensions", "CustomResource"),
        ),
        ("grafana:oss/dashboard:Dashboard", ("pulumiverse_grafana.oss", "Dashboard")),
        ("docker:index/image:Image", ("pulumi_docker", "Image")),
        ("pulumi:providers:kubernetes", ("pulumi_kubernetes", "Provider")),
        ("trading-monitoring:index:MonitoringStack", None),
    ],
)
def test_sdk_class_names_the_module_and_class_of_a_type(
    type_token: str, expected: tuple[str, str] | None
) -> None:
    assert sdk_class(type_token) == expected


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_floor_registers_every_resource_of_a_synth_plan(stack: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, "-m", "infra", "synth", "--stack", stack, "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    resources = json.loads((out / "plan.json").read_text())["resources"]
    for resource in resources:  # every type maps to a class the SDK has
        found = sdk_class(resource["type"])
        if found is not None:
            module, name = found
            assert hasattr(importlib.import_module(module), name), resource["type"]
    floor = subprocess.run(
        [sys.executable, "benchmarks/synth_floor.py", str(out / "plan.json")],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    assert floor.stdout.strip() == f"registered {len(resources)} of {len(resources)} resources"
