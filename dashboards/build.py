"""build_dashboards: every dashboard of the stack, in its folder, with its stable uid."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard as db

from dashboards import sections
from dashboards.boards.business import api, data_quality, trading
from dashboards.boards.components import BOARDS
from dashboards.boards.database import database
from dashboards.boards.logs import logs
from dashboards.boards.market import market_dashboard
from dashboards.boards.meta import meta
from dashboards.boards.overview import overview
from dashboards.boards.service import service_dashboards
from dashboards.boards.system import system
from dashboards.layout import encode
from dashboards.levels import panel_levels
from dashboards.model import MARKETS, MONITORING, PLATFORM, TRADING, Dashboard, Folder
from dashboards.panels import MARKET_VAR_SELECTOR, row
from monitoring.alerts import unavailable_series
from monitoring.availability import prune_panels
from monitoring.settings import MARKET_CODE, MARKET_CODE_ALLOWED, ContentSettings
from monitoring.slo import SLO, slos
from validation import InvalidValue, check_unique


def dashboard_in(builder: db.Dashboard, folder: Folder) -> Dashboard:
    model = encode(builder)
    return Dashboard(
        uid=str(model["uid"]), title=str(model["title"]), folder_uid=folder.uid, model=model
    )


def _with_slos(builder: db.Dashboard, slos: Sequence[SLO]) -> db.Dashboard:
    """An "SLOs" row on the dashboard each SLO's burn-rate alerts link to."""
    uid = builder.build().uid
    for slo in (s for s in slos if s.dashboard_uid == uid):
        builder = builder.with_row(row(f"SLO: {slo.title}"))
        for panel in sections.slo_panels(slo, MARKET_VAR_SELECTOR):
            builder = builder.with_panel(panel)
    return builder


def check_markets(settings: ContentSettings) -> None:
    """One clear error for a market code that cannot name a dashboard (`tm-market-<code>`: the
    market code rule keeps it within Grafana's 40 characters) or appears twice."""
    for market in settings.markets:
        if not MARKET_CODE.match(market.code):
            raise InvalidValue("markets[].code", market.code, MARKET_CODE_ALLOWED)
    check_unique("markets", (m.code for m in settings.markets), "market codes")


def build_dashboards(settings: ContentSettings) -> list[Dashboard]:
    """The fixed dashboards, one dashboard per configured market (in settings order), then one
    per declared component type, then one per user service (folder Services)."""
    check_markets(settings)
    lv = panel_levels(settings.thresholds)
    slo_list = slos(settings)
    planned: list[tuple[db.Dashboard, Folder]] = [
        (overview(lv), TRADING),
        (trading(lv), TRADING),
        (api(lv), TRADING),
        (data_quality(lv), TRADING),
        (database(lv), PLATFORM),
        (system(settings, lv), PLATFORM),
        (logs(), PLATFORM),
        (meta(settings, lv), MONITORING),
        *((market_dashboard(market, lv, slo_list), MARKETS) for market in settings.markets),
        # One per declared component type (PostgreSQL, Redis, NGINX).
        *(
            (BOARDS[kind](settings.component_thresholds), PLATFORM)
            for kind in settings.components.kinds
        ),
    ]
    built = [dashboard_in(_with_slos(builder, slo_list), folder) for builder, folder in planned]
    built += service_dashboards(settings, settings.services, settings.service_thresholds)
    missing = unavailable_series(settings)
    if not missing and settings.exporter_enabled:
        return built
    return [
        dataclasses.replace(
            board, model=prune_panels(board.model, missing, not settings.exporter_enabled)
        )
        for board in built
    ]
