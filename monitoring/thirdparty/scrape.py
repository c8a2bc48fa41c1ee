"""Scrape jobs of the component exporters: one job per type, one target per instance.

Each target carries `component` (the type) and `name` (the instance's configured name); every
series, alert and dashboard variable of a component is told apart by these two labels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitoring.thirdparty.model import Components, Kind

JOBS: dict[Kind, str] = {"postgres": "postgres", "redis": "redis", "nginx": "nginx"}
COMPONENT_LABEL = "component"
NAME_LABEL = "name"

# (component type, instance name) -> host:port of its exporter as Prometheus reaches it.
TargetAddress = Callable[[Kind, str], str]


def scrape_configs(
    components: Components, address: TargetAddress, interval: str | None = None
) -> list[dict[str, Any]]:
    """`interval` (also the timeout) overrides the global one: postgres_exporter takes about a
    second to answer while its database is down, longer than a test's 1 s scrape timeout."""
    timing = {"scrape_interval": interval, "scrape_timeout": interval} if interval else {}
    jobs: list[dict[str, Any]] = []
    for kind in components.kinds:
        jobs.append(
            {
                "job_name": JOBS[kind],
                **timing,
                "static_configs": [
                    {
                        "targets": [address(kind, instance.name)],
                        "labels": {COMPONENT_LABEL: kind, NAME_LABEL: instance.name},
                    }
                    for instance in components.of(kind)
                ],
            }
        )
    return jobs
