"""Grafana dashboards built with grafana-foundation-sdk (no Pulumi here).

`build_dashboards(settings)` returns every dashboard with its stable uid, title, folder uid and
JSON model; `FOLDERS` lists the folders they go in. `panel_queries` and `expand_variables` let
tests run every panel query against a real Prometheus.
"""

from dashboards.build import build_dashboards
from dashboards.model import FOLDERS, Dashboard, Folder
from dashboards.queries import (
    PanelQuery,
    all_selected_values,
    expand_variables,
    iter_panels,
    panel_queries,
)

__all__ = [
    "FOLDERS",
    "Dashboard",
    "Folder",
    "PanelQuery",
    "all_selected_values",
    "build_dashboards",
    "expand_variables",
    "iter_panels",
    "panel_queries",
]
