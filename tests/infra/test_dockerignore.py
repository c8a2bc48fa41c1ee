"""The exporter image's build context is the repository root. pulumi-docker applies only the
root `.dockerignore` to the context it hashes and sends (pulumi-docker#508), so that file must
keep out everything exporter/Dockerfile does not COPY, and keep in everything it does."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(excludes, pattern) per line of the root .dockerignore, in order."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        for part in re.split(r"(\*\*/?|\*|\?)", pattern):
            if part in ("**", "**/"):
                regex += "(?:.*/)?" if part == "**/" else ".*"
            elif part == "*":
                regex += "[^/]*"
            elif part == "?":
                regex += "[^/]"
            else:
                regex += re.escape(part)
        rules.append((not negated, re.compile(regex)))
    return rules


def _sent(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for excludes, regex in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = excludes
    return not excluded


def _copy_sources() -> list[str]:
    sources = []
    for line in (ROOT / "exporter" / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            args = [a for a in line.split()[1:] if not a.startswith("--")]
            sources += args[:-1]
    return sources


def test_root_dockerignore_sends_only_what_the_exporter_dockerfile_copies() -> None:
    rules = _rules()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    local = [
        ".venv/bin/python",
        ".pulumi-state/stacks/dev.json",
        "out/dev/plan.json",
        "exporter/__pycache__/cli.cpython-311.pyc",
        "exporter/sub/__pycache__/x.cpython-311.pyc",
        "tests/infra/__pycache__/x.cpython-311.pyc",
        "validation/__pycache__/__init__.cpython-311.pyc",
    ]
    sent = {path for path in [*tracked, *local] if _sent(path, rules)}
    sources = _copy_sources()
    assert sources == ["exporter/requirements.txt", "validation/", "exporter/", "demo_service/"]
    for source in sources:
        assert any(p == source or p.startswith(source) for p in sent), source
    outside = {p for p in sent if not any(p.startswith(s.rstrip("/") + "/") for s in sources)}
    outside -= set(sources)
    assert outside == set(), "sent to the daemon but never copied"
    assert not [p for p in sent if "__pycache__" in p or p.endswith(".pyc")]
    # pulumi-docker needs the Dockerfile inside the context it sends (pulumi-docker#508).
    assert "exporter/Dockerfile" in sent
    assert "exporter/requirements.txt" in sent and "exporter/cli.py" in sent
