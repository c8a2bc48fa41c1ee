"""CI hands prod credentials only to a job gated by the protected `prod` environment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

CI = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "ci.yml"
PROD_SECRETS = ("KUBECONFIG_PROD", "PULUMI_CONFIG_PASSPHRASE")


def _jobs() -> dict[str, Any]:
    jobs = yaml.safe_load(CI.read_text(encoding="utf-8"))["jobs"]
    assert isinstance(jobs, dict)
    return jobs


def test_the_prod_preview_runs_in_the_prod_environment() -> None:
    preview = _jobs()["preview"]
    assert preview["environment"] == "${{ matrix.stack }}"
    assert "prod" in preview["strategy"]["matrix"]["stack"]
    kubeconfig = [s for s in preview["steps"] if "KUBECONFIG_PROD" in str(s.get("env", {}))]
    assert kubeconfig and all("matrix.stack == 'prod'" in s["if"] for s in kubeconfig)


def test_only_environment_gated_jobs_read_prod_secrets() -> None:
    for name, job in _jobs().items():
        text = yaml.safe_dump(job)
        used = {s for s in PROD_SECRETS if re.search(rf"secrets\.{s}\b", text)}
        if used:
            assert "environment" in job, f"job {name} reads {sorted(used)} without an environment"
