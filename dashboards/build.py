"""build_dashboards: every dashboard of the stack, in its folder, with its stable uid."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards.boards.business import api, data_quality, trading
from dashboards.boards.market import market_dashboard
from dashboards.boards.meta import meta
from dashboards.boards.overview import overview
from dashboards.boards.platform import database, logs, system
from dashboards.layout import encode
from dashboards.model import MARKETS, MONITORING, PLATFORM, TRADING, Dashboard, Folder
from monitoring.settings import ContentSettings


def _dashboard(builder: db.Dashboard, folder: Folder) -> Dashboard:
    model = encode(builder)
    return Dashboard(
        uid=str(model["uid"]), title=str(model["title"]), folder_uid=folder.uid, model=model
    )


def build_dashboards(settings: ContentSettings) -> list[Dashboard]:
    """The fixed dashboards, then one dashboard per configured market (in settings order)."""
    planned: list[tuple[db.Dashboard, Folder]] = [
        (overview(), TRADING),
        (trading(), TRADING),
        (api(), TRADING),
        (data_quality(), TRADING),
        (database(), PLATFORM),
        (system(settings), PLATFORM),
        (logs(), PLATFORM),
        (meta(), MONITORING),
        *((market_dashboard(market), MARKETS) for market in settings.markets),
    ]
    return [_dashboard(builder, folder) for builder, folder in planned]
