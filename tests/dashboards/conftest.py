"""Settings for the dashboard tests: the six default markets, or any list of codes."""

from __future__ import annotations

import pytest

from dashboards import Dashboard, build_dashboards
from monitoring.settings import ContentSettings, Market, Targets

DEFAULT_MARKETS = (
    Market("kr", "Korea (KRX)", "XKRX", "Asia/Seoul"),
    Market("us", "United States (NYSE)", "XNYS", "America/New_York"),
    Market("cn", "China (SSE)", "XSHG", "Asia/Shanghai"),
    Market("hk", "Hong Kong (HKEX)", "XHKG", "Asia/Hong_Kong"),
    Market("jp", "Japan (TSE)", "XTKS", "Asia/Tokyo"),
    Market("vn", "Vietnam (HOSE)", None, "Asia/Ho_Chi_Minh", ("09:00-11:30", "13:00-14:45")),
)


def make_settings(
    markets: tuple[Market, ...] = DEFAULT_MARKETS, discovery: str = "static"
) -> ContentSettings:
    one = ("127.0.0.1:9",)
    targets = Targets(one, one, one, one, one, one, one, one)
    if discovery == "kubernetes":
        return ContentSettings(markets=markets, targets=targets, discovery="kubernetes")
    return ContentSettings(markets=markets, targets=targets)


def custom_market(code: str) -> Market:
    return Market(code, f"Market {code.upper()}", None, "UTC", ("09:00-17:00",))


@pytest.fixture(scope="session")
def settings() -> ContentSettings:
    return make_settings()


@pytest.fixture(scope="session")
def dashboards(settings: ContentSettings) -> list[Dashboard]:
    return build_dashboards(settings)
