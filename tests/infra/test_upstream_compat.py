"""Upstream compatibility of the pinned images and run settings (Docker 29, Docker Desktop,
cert-manager): each test pins one fix a reviewer traced to an upstream issue."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.settings.stack import ImagesConfig
from tests.infra.harness import StackRun, run_stack

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = "docker:index/container:Container"
CADVISOR_REPO = "ghcr.io/google/cadvisor"  # releases from v0.53 on are published only here
# cAdvisor <= 0.53 finds no per-container metrics on Docker 29 (API 1.41 refused by 29.0-29.2;
# the containerd image store hides the rw layer); fixed in v0.54.
CADVISOR_MIN = (0, 54)


def _cadvisor_version(ref: str) -> tuple[int, ...]:
    match = re.fullmatch(rf"{re.escape(CADVISOR_REPO)}:v(\d+)\.(\d+)\.(\d+)", ref)
    assert match, f"{ref!r} is not a {CADVISOR_REPO}:vX.Y.Z image"
    return tuple(int(part) for part in match.groups())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cadvisor_image_works_on_docker_29(stack: str) -> None:
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    ref = config["trading-monitoring:images"]["cadvisor"]
    assert _cadvisor_version(ref) >= CADVISOR_MIN
    assert ref == ImagesConfig().cadvisor  # the stack files show the default


def test_cadvisor_default_image_works_on_docker_29() -> None:
    assert _cadvisor_version(ImagesConfig().cadvisor) >= CADVISOR_MIN


def _node_exporter_root_mount(run: StackRun) -> dict[str, Any]:
    container = run.named(CONTAINER, "node-exporter").inputs
    (mount,) = [m for m in container["mounts"] if m["target"] == "/host/root"]
    assert mount["source"] == "/" and mount["type"] == "bind" and mount["readOnly"] is True
    return dict(mount)


def test_node_exporter_root_mount_is_rslave_by_default(dev_run: StackRun) -> None:
    mount = _node_exporter_root_mount(dev_run)
    assert mount["bindOptions"] == {"propagation": "rslave"}


def test_host_root_propagation_none_for_docker_desktop_and_rootless() -> None:
    # Docker Desktop (macOS) and rootless Docker refuse "rslave" on "/" (not a shared mount).
    run = run_stack("dev", overrides={"docker": {"hostRootPropagation": "none"}})
    mount = _node_exporter_root_mount(run)
    assert "bindOptions" not in mount


def test_cadvisor_runs_as_its_documented_docker_run(dev_run: StackRun) -> None:
    """cAdvisor's README `docker run`: privileged, /dev/kmsg (OOM events), read-only host
    mounts including /dev/disk (disk metrics)."""
    cadvisor = dev_run.named(CONTAINER, "cadvisor").inputs
    assert cadvisor["privileged"] is True
    assert cadvisor["devices"] == [{"hostPath": "/dev/kmsg", "containerPath": "/dev/kmsg"}]
    binds = {v["hostPath"]: (v["containerPath"], v.get("readOnly")) for v in cadvisor["volumes"]}
    assert binds == {
        "/": ("/rootfs", True),
        "/var/run": ("/var/run", True),
        "/sys": ("/sys", True),
        "/var/lib/docker": ("/var/lib/docker", True),
        "/dev/disk": ("/dev/disk", True),
    }


def test_only_cadvisor_is_privileged(dev_run: StackRun) -> None:
    privileged = {c.name for c in dev_run.of_type(CONTAINER) if c.inputs.get("privileged")}
    assert privileged == {"cadvisor"}


def test_loki_healthcheck_fits_the_pinned_image(dev_run: StackRun) -> None:
    """busybox wget exists in grafana/loki < 3.6 only; later images need the binary's own
    `-health` check. Bumping images.loki without changing the healthcheck fails here."""
    ref = dev_run.named("docker:index/remoteImage:RemoteImage", "loki-image").inputs["name"]
    match = re.fullmatch(r"grafana/loki:(\d+)\.(\d+)\.(\d+)", ref)
    assert match, ref
    check = dev_run.named(CONTAINER, "loki").inputs["healthcheck"]["tests"]
    if tuple(int(p) for p in match.groups()) < (3, 6, 0):
        assert check[0] == "CMD-SHELL" and "/busybox/wget" in check[1]
    else:
        assert check == ["CMD", "/usr/bin/loki", "-health"]
