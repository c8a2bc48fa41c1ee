"""Fixed Grafana dashboard uids: alerts link to them, `dashboards/` builds them."""

from __future__ import annotations

OVERVIEW = "tm-overview"
API = "tm-api"
DATABASE = "tm-database"
TRADING = "tm-trading"
DATA_QUALITY = "tm-data-quality"
SYSTEM = "tm-system"
LOGS = "tm-logs"
META = "tm-meta"
MARKET_PREFIX = "tm-market-"


def market_uid(market_code: str) -> str:
    """Uid of one market's dashboard, e.g. `tm-market-kr`."""
    return f"{MARKET_PREFIX}{market_code}"


FIXED: tuple[str, ...] = (OVERVIEW, API, DATABASE, TRADING, DATA_QUALITY, SYSTEM, LOGS, META)

# One dashboard per standard component type (monitoring/thirdparty): tm-postgres, tm-redis...
COMPONENT_PREFIX = "tm-"


def component_uid(kind: str) -> str:
    """Uid of a component type's dashboard, e.g. `tm-postgres`."""
    return f"{COMPONENT_PREFIX}{kind}"


SERVICE_PREFIX = "tm-service-"


def service_uid(service_name: str) -> str:
    """Uid of one user service's dashboard, e.g. `tm-service-investiq-api`."""
    return f"{SERVICE_PREFIX}{service_name}"
