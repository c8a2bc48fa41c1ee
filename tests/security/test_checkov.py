"""checkov over the rendered prod manifests: every failed check is a reviewed exception.

The manifests are the Kubernetes resources `python -m infra synth --stack prod` plans (their
inputs are complete manifests: apiVersion, kind, metadata, spec). checkov runs from its own
virtualenv (`make checkov`), offline (`--skip-download`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / ".venv" / "checkov" / "bin" / "checkov"
SKIPS = REPO / "security" / "checkov-skips.yml"


def _checkov(directory: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make checkov` (make test does)")
    args = ["-d", str(directory), "--framework", "kubernetes", "--skip-download", "--quiet"]
    run = subprocess.run(
        [str(CHECKOV), *args, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.stdout.strip(), run.stderr  # exit status 1 just means "some check failed"
    report = json.loads(run.stdout)
    assert isinstance(report, dict) and report["check_type"] == "kubernetes", run.stdout[:500]
    return report


def _failures(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["check_id"], f["resource"]) for f in report["results"]["failed_checks"]}


def _write_manifests(resources: list[dict[str, Any]], directory: Path) -> int:
    directory.mkdir()
    count = 0
    for resource in resources:
        inputs = resource["inputs"]
        if resource["type"].startswith("kubernetes:") and "apiVersion" in inputs:
            count += 1
            name = f"{count:03d}-{inputs['kind']}-{resource['name']}.yaml"
            (directory / name).write_text(yaml.safe_dump(inputs), encoding="utf-8")
    return count


@pytest.fixture(scope="module")
def prod_manifests(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    root = tmp_path_factory.mktemp("checkov")
    synth = subprocess.run(
        [sys.executable, "-m", "infra", "synth", "--stack", "prod", "--out", str(root / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert synth.returncode == 0, synth.stdout + synth.stderr
    plan = json.loads((root / "out" / "plan.json").read_text(encoding="utf-8"))
    count = _write_manifests(plan["resources"], root / "manifests")
    return root / "manifests", count


def _reviewed_skips() -> set[tuple[str, str]]:
    doc = yaml.safe_load(SKIPS.read_text(encoding="utf-8"))
    skips: set[tuple[str, str]] = set()
    for entry in doc["skips"]:
        assert set(entry) == {"check", "title", "resources", "reason"}, entry
        assert len(entry["reason"].split()) >= 12, f"{entry['check']}: give the reason"
        assert entry["resources"], entry["check"]
        skips |= {(entry["check"], resource) for resource in entry["resources"]}
    return skips


def test_prod_manifests_pass_checkov_but_for_reviewed_exceptions(
    prod_manifests: tuple[Path, int],
) -> None:
    directory, count = prod_manifests
    assert count >= 40  # namespaces, workloads, services, RBAC, policies, ...
    report = _checkov(directory)
    summary = report["summary"]
    assert summary["parsing_errors"] == 0 and summary["resource_count"] >= count
    assert summary["passed"] > 500
    failures, skips = _failures(report), _reviewed_skips()
    unreviewed = sorted(failures - skips)
    stale = sorted(skips - failures)
    assert not unreviewed, f"fix these or review them into {SKIPS.name}: {unreviewed}"
    assert not stale, f"these no longer fail: remove them from {SKIPS.name}: {stale}"


def test_checkov_finds_a_privileged_container(tmp_path: Path) -> None:
    """The check above can fail: a privileged, root pod is reported."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "monitoring"},
        "spec": {
            "containers": [
                {"name": "bad", "image": "busybox:1.37", "securityContext": {"privileged": True}}
            ]
        },
    }
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod), encoding="utf-8")
    failures = _failures(_checkov(tmp_path))
    assert ("CKV_K8S_16", "Pod.monitoring.bad") in failures  # privileged
    assert not failures & _reviewed_skips()
