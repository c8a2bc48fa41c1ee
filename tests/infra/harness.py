"""Run the real Pulumi program under mocks for tests (shared by the dev and prod tests).

`run_stack("dev", overrides={...}, secrets={...})` reads Pulumi.<stack>.yaml, applies config
overrides (key without namespace -> value; objects as Python values), sets the given secret
keys, and returns a `StackRun` with every registered resource.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from infra import pulumi_runtime
from infra.synth import (
    RecordedResource,
    RecordingMonitor,
    SynthMocks,
    SynthResult,
    read_stack_config,
    run_program,
    stack_file,
)

# Real-looking secret values (none of them may appear in plain text anywhere).
REAL_SECRETS: dict[str, str] = {
    "slackApiUrl": "https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/s3cr3tSlackToken9xYz",
    "pagerdutyRoutingKey": "R0ut1ngK3yPagerDuty0123456789ab",
    "smtpPassword": "Smtp-P4ssw0rd!-do-not-leak",
    "webhookUrl": "https://alerts.example.net/hooks/8f3c2a9e-webhook-token",
    "heartbeatUrl": "https://hc-ping.com/2b7e1516-28ae-d2a6-abf7-158809cf4f3c",
    "exporterDatabaseDsn": "postgresql://trader:Db-P4ss-very-secret@db.internal:5432/trading",
    "registryPassword": "ghp_RegistryT0kenThatMustNeverLeak000",
}

# Every receiver enabled, so every secret is used.
ALL_RECEIVERS: dict[str, Any] = {
    "slackChannel": "#trading-alerts",
    "slackCriticalChannel": "#trading-oncall",
    "emailTo": "oncall@example.com",
    "emailFrom": "alertmanager@example.com",
    "smtpSmarthost": "smtp.example.com:587",
    "smtpUsername": "alertmanager@example.com",
    "pagerduty": True,
    "webhook": True,
    "heartbeat": True,
}


@dataclass
class StackRun:
    result: SynthResult
    monitor: RecordingMonitor
    stack: Any  # infra.stack.MonitoringStack

    @property
    def resources(self) -> list[RecordedResource]:
        return self.result.resources

    def of_type(self, typ: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == typ]

    def by_urn(self) -> dict[str, RecordedResource]:
        return {r.urn: r for r in self.resources}

    def named(self, typ: str, name: str) -> RecordedResource:
        matches = [r for r in self.of_type(typ) if r.name == name]
        assert len(matches) == 1, f"{typ} {name}: {len(matches)} matches"
        return matches[0]


def stack_config(stack: str, overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    raw = read_stack_config(stack_file(stack))
    for key, value in (overrides or {}).items():
        raw[key] = value if isinstance(value, str) else json.dumps(value)
    return raw


def run_stack(
    stack: str = "dev",
    overrides: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    monitor: RecordingMonitor | None = None,
) -> StackRun:
    result, used_monitor, built = run_program(
        stack, stack_config(stack, overrides), dict(secrets or {}), monitor=monitor
    )
    return StackRun(result, used_monitor, built)


def new_monitor() -> RecordingMonitor:
    return RecordingMonitor(SynthMocks())


def plain_strings(wire: Any) -> Iterator[str]:
    """Every string in a wire value that is NOT inside a secret-wrapped value."""
    if isinstance(wire, dict):
        if pulumi_runtime.wire_signature(wire) == pulumi_runtime.SECRET_SIG:
            return
        for key, value in wire.items():
            yield str(key)
            yield from plain_strings(value)
    elif isinstance(wire, list):
        for value in wire:
            yield from plain_strings(value)
    elif isinstance(wire, str):
        yield wire
