"""build_dashboards: every dashboard of the stack, in its folder, with its stable uid."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards.boards.business import api, data_quality, trading
from dashboards.boards.database import database
from dashboards.boards.logs import logs
from dashboards.boards.market import market_dashboard
from dashboards.boards.meta import meta
from dashboards.boards.overview import overview
from dashboards.boards.system import system
from dashboards.layout import encode
from dashboards.levels import panel_levels
from dashboards.model import MARKETS, MONITORING, PLATFORM, TRADING, Dashboard, Folder
from monitoring.settings import ContentSettings


def _dashboard(builder: db.Dashboard, folder: Folder) -> Dashboard:
    model = encode(builder)
    return Dashboard(
        uid=str(model["uid"]), title=str(model["title"]), folder_uid=folder.uid, model=model
    )


def build_dashboards(settings: ContentSettings) -> list[Dashboard]:
    """The fixed dashboards, then one dashboard per configured market (in settings order)."""
    lv = panel_levels(settings.thresholds)
    planned: list[tuple[db.Dashboard, Folder]] = [
        (overview(lv), TRADING),
        (trading(lv), TRADING),
        (api(lv), TRADING),
        (data_quality(lv), TRADING),
        (database(lv), PLATFORM),
        (system(settings, lv), PLATFORM),
        (logs(), PLATFORM),
        (meta(lv), MONITORING),
        *((market_dashboard(market, lv), MARKETS) for market in settings.markets),
    ]
    return [_dashboard(builder, folder) for builder, folder in planned]
