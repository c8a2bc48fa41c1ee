"""The exporter image: pinned base and dependencies, non-root, health check, no extra imports."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from tests.exporter.harness import REPO

EXPORTER = REPO / "exporter"
# import name -> distribution name, for the third-party modules the exporter imports
DISTRIBUTIONS = {
    "prometheus_client": "prometheus-client",
    "yaml": "pyyaml",
    "psutil": "psutil",
    "psycopg": "psycopg",
    "exchange_calendars": "exchange-calendars",
    "pandas": "pandas",
}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_normalise(name.split("[")[0])] = version
    return pins


def test_requirements_are_exact_and_match_the_lock() -> None:
    image = _pins(EXPORTER / "requirements.txt")
    lock = _pins(REPO / "requirements.lock")
    assert image, "no requirements"
    for name, version in image.items():
        assert re.fullmatch(r"\d+(\.\d+)*(\.post\d+)?", version), (name, version)
        assert lock.get(name) == version, (name, version, lock.get(name))


def test_every_third_party_import_is_a_pinned_requirement() -> None:
    image = _pins(EXPORTER / "requirements.txt")
    for source in EXPORTER.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in (
                    "exporter",
                    "validation",
                    "__future__",
                ):
                    continue
                assert top in DISTRIBUTIONS, f"{source.name} imports {top}"
                assert _normalise(DISTRIBUTIONS[top]) in image, (source.name, top)


def test_dockerfile_is_pinned_non_root_and_has_a_python_healthcheck() -> None:
    text = (EXPORTER / "Dockerfile").read_text(encoding="utf-8")
    # The base is a build argument (the Pulumi program passes its pinned image); its default
    # is an exact tag of the project's Python minor version.
    assert re.findall(r"^FROM\s+(\S+)", text, re.M) == ["${PYTHON_IMAGE}"]
    base = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    major_minor = ".".join(map(str, sys.version_info[:2]))
    assert base and re.fullmatch(rf"python:{re.escape(major_minor)}\.\d+-slim-bookworm", base[0])
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and not user[-1].startswith(("0", "root")), user
    health = re.search(r"^HEALTHCHECK .*\n\s+CMD \[\"python\", .*?/healthz", text, re.M)
    assert health, "HEALTHCHECK must call /healthz with python (no curl in the image)"
    assert "9188" in text and "EXPOSE 9188" in text
    # Copied paths exist in the build context (the repository root) and are not ignored.
    ignore = (EXPORTER / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignore and "!exporter/" in ignore and "!validation/" in ignore
    assert "!demo_service/" in ignore  # the dev demo service ships in this image
    for src in re.findall(r"^COPY\s+(\S+)\s", text, re.M):
        assert src.startswith(("exporter/", "validation/", "demo_service/")), src
        assert (REPO / src).exists(), src


def test_docs_cover_every_metric_collector_and_table() -> None:
    from exporter import catalog
    from exporter.demo_db import SCHEMA
    from exporter.layout import COLLECTORS, SQL_COLLECTORS

    docs = (REPO / "docs" / "exporter.md").read_text(encoding="utf-8")
    suffix = {"counter": "_total", "info": "_info"}
    for spec in catalog.ALL:
        assert f"`{spec.name}{suffix.get(spec.type, '')}`" in docs, spec.name
    for name in (*COLLECTORS, *SQL_COLLECTORS):
        assert f"`{name}`" in docs, name
    for table in re.findall(r"CREATE TABLE (\w+)", SCHEMA):
        assert f"CREATE TABLE {table} " in docs, table
