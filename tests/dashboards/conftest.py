"""Settings for the dashboard tests: the six default markets, or any list of codes."""

from __future__ import annotations

import pytest

from dashboards import Dashboard, build_dashboards
from monitoring.alert_catalog import DEFAULT_MARKETS
from monitoring.settings import ContentSettings, Market, Targets


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
