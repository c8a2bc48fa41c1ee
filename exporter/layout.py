"""Which catalog metrics each database collector computes (the `collector` label values).

Kept apart from collectors.py so that config validation can name the SQL-backed metrics
without importing the database code.
"""

from __future__ import annotations

from exporter import catalog
from exporter.catalog import MetricSpec

SQL_COLLECTORS: dict[str, tuple[MetricSpec, ...]] = {
    "database": (catalog.DATABASE_SIZE, catalog.DATABASE_LAST_BACKUP),
    "data_quality": (
        catalog.OHLCV_ROWS,
        catalog.TICKERS,
        catalog.OHLCV_LAST_UPDATE,
        catalog.OHLCV_ROWS_MISSING_MARKET,
        catalog.TICKERS_IN_MULTIPLE_MARKETS,
    ),
    "collection": (
        catalog.COLLECTION_ATTEMPTS,
        catalog.COLLECTION_SUCCESSES,
        catalog.COLLECTION_FAILURES,
    ),
    "api": (
        catalog.API_REQUESTS,
        catalog.API_FAILURES,
        catalog.API_REQUEST_DURATION,
        catalog.API_RATE_LIMIT_USAGE,
    ),
    "trading": (
        catalog.ORDERS,
        catalog.ORDERS_FAILED,
        catalog.OPEN_POSITIONS,
        catalog.POSITION_EXPOSURE,
        catalog.POSITION_LIMIT_USAGE,
        catalog.STRATEGY_REALISED_PNL,
    ),
}
OTHER_COLLECTORS = ("market_status", "host")
# Append-mostly tables counted incrementally from a watermark (exporter/tally.py).
INCREMENTAL_TABLES = ("ohlcv", "collection_runs", "api_calls", "orders")
COLLECTORS = (*SQL_COLLECTORS, *OTHER_COLLECTORS)
SQL_METRICS = tuple(spec.name for specs in SQL_COLLECTORS.values() for spec in specs)
