"""The component dashboards of the declared component types (Platform folder)."""

from __future__ import annotations

from dashboards.boards.components import BOARDS
from dashboards.build import dashboard_in
from dashboards.model import PLATFORM, Dashboard
from monitoring.thirdparty.model import Components
from monitoring.thirdparty.rules import DEFAULT_THRESHOLDS, ComponentThresholds


def build_component_dashboards(
    components: Components, thresholds: ComponentThresholds = DEFAULT_THRESHOLDS
) -> list[Dashboard]:
    """One dashboard per component type with at least one instance."""
    return [dashboard_in(BOARDS[kind](thresholds), PLATFORM) for kind in components.kinds]
