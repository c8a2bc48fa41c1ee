"""Every container of the stack as a `Component` (components/model.py): one module each.

Adding a component: write `components/<name>.py` with a `COMPONENT`, add it to `COMPONENTS`
below, and follow the recipe in ARCHITECTURE.md.
"""

from __future__ import annotations

from components import (
    alertmanager,
    alloy,
    blackbox_exporter,
    cadvisor,
    demo_service,
    exporter,
    grafana,
    kube_state_metrics,
    loki,
    nginx_exporter,
    node_exporter,
    postgres_exporter,
    prometheus,
    redis_exporter,
)
from components.model import Component

COMPONENTS: tuple[Component, ...] = (
    prometheus.COMPONENT,
    alertmanager.COMPONENT,
    grafana.COMPONENT,
    loki.COMPONENT,
    alloy.COMPONENT,
    node_exporter.COMPONENT,
    cadvisor.COMPONENT,
    exporter.COMPONENT,
    # One container per declared instance (trading-monitoring:components).
    postgres_exporter.COMPONENT,
    redis_exporter.COMPONENT,
    nginx_exporter.COMPONENT,
    blackbox_exporter.COMPONENT,
    demo_service.COMPONENT,
    kube_state_metrics.COMPONENT,
)
# The component types of monitoring/thirdparty, by `Kind`.
THIRD_PARTY: dict[str, Component] = {
    "postgres": postgres_exporter.COMPONENT,
    "redis": redis_exporter.COMPONENT,
    "nginx": nginx_exporter.COMPONENT,
}

BY_NAME: dict[str, Component] = {component.name: component for component in COMPONENTS}
# The port each component listens on (the one Prometheus scrapes).
PORTS: dict[str, int] = {component.name: component.port for component in COMPONENTS}
