"""Fixtures for the infra tests: one program run per configuration, shared by the module."""

from __future__ import annotations

import pytest

from tests.infra.harness import ALL_RECEIVERS, REAL_SECRETS, StackRun, run_stack


@pytest.fixture(scope="module")
def dev_run() -> StackRun:
    """The dev stack exactly as Pulumi.dev.yaml configures it (no secrets set)."""
    return run_stack("dev")


@pytest.fixture(scope="module")
def dev_run_all_secrets() -> StackRun:
    """Dev with every receiver on, real-looking secrets and a real exporter database URL."""
    overrides = {"receivers": ALL_RECEIVERS, "docker": {"exporterDemoDatabase": False}}
    return run_stack("dev", overrides=overrides, secrets=REAL_SECRETS)
