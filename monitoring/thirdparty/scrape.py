"""Scrape jobs of the component exporters: one job per type, one target per instance.

Each target carries `component` (the type) and `name` (the instance's configured name); every
series, alert and dashboard variable of a component is told apart by these two labels.
"""

from __future__ import annotations

from typing import Any

from monitoring import jobs
from monitoring.settings import ContentSettings
from monitoring.thirdparty.model import Kind

JOBS: dict[Kind, str] = {"postgres": jobs.POSTGRES, "redis": jobs.REDIS, "nginx": jobs.NGINX}
COMPONENT_LABEL = "component"
NAME_LABEL = "name"


def component_scrape_configs(settings: ContentSettings) -> list[dict[str, Any]]:
    """Targets come from `settings.targets.components`; every instance must have one."""
    components = settings.components
    addresses = {(kind, name): address for kind, name, address in settings.targets.components}
    jobs: list[dict[str, Any]] = []
    for kind in components.kinds:
        for instance in components.of(kind):
            if (kind, instance.name) not in addresses:
                raise ValueError(
                    f"targets.components: no exporter address for {kind} {instance.name}"
                )
        jobs.append(
            {
                "job_name": JOBS[kind],
                "static_configs": [
                    {
                        "targets": [addresses[(kind, instance.name)]],
                        "labels": {COMPONENT_LABEL: kind, NAME_LABEL: instance.name},
                    }
                    for instance in components.of(kind)
                ],
            }
        )
    return jobs
