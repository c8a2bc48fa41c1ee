"""Dashboard skeleton (time, refresh, links, variables) and the final JSON encoding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

TAG = "trading-monitoring"
MARKET_TAG = "market"


def new_dashboard(
    uid: str,
    title: str,
    description: str,
    tags: Sequence[str],
    variables: Sequence[cogbuilder.Builder[dm.VariableModel]],
    timezone: str = "browser",
) -> db.Dashboard:
    """A read-only dashboard (it is code: edit the Python, not the UI) with links to the rest."""
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG, *tags])
        .readonly()
        .time("now-6h", "now")
        .refresh("1m")
        .timezone(timezone)
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .variables(list(variables))
        .link(
            db.DashboardLink("Dashboards")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
        )
        .link(
            db.DashboardLink("Markets")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags([MARKET_TAG])
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
        )
    )


def encode(builder: db.Dashboard) -> dict[str, Any]:
    """The dashboard JSON: panel ids numbered 1..n (rows included), then SDK-encoded."""
    built = builder.build()
    next_id = 1
    for panel in built.panels or []:
        panel.id_val = next_id
        next_id += 1
        for nested in getattr(panel, "panels", None) or []:
            nested.id_val = next_id
            next_id += 1
    model: dict[str, Any] = json.loads(json.dumps(built, cls=JSONEncoder))
    return model
