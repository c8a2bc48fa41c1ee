"""Default SQL for every database-backed metric, against the reference schema (docs/exporter.md).

Contract of a metric query (also for overrides in the config file):
- one column per label of the metric (`market`, `side`, `endpoint`, `strategy`) plus the value
  column (`value` unless the metric says otherwise);
- a histogram returns its labels plus `le` (the upper bound a row's observations fall under,
  NULL for +Inf), `count` and `sum`; rows are folded into the configured buckets.
Metrics that share the same SQL text run it once per collector run.
The SQL is portable between SQLite and PostgreSQL except where a dialect entry says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter import catalog
from exporter.db import Dialect

_OHLCV_BY_MARKET = (
    "SELECT market, COUNT(*) AS row_count, COUNT(DISTINCT ticker) AS ticker_count, "
    "MAX(ts) AS last_ts FROM ohlcv GROUP BY market"
)
_COLLECTION_BY_MARKET = (
    "SELECT market, COUNT(*) AS attempts, "
    "SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS successes, "
    "SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failures "
    "FROM collection_runs GROUP BY market"
)
_API_BY_ENDPOINT = (
    "SELECT market, endpoint, COUNT(*) AS requests, "
    "SUM(CASE WHEN ok = 0 THEN 1 ELSE 0 END) AS failures "
    "FROM api_calls GROUP BY market, endpoint"
)
_ORDERS = (
    "SELECT market, side, COUNT(*) AS orders, "
    "SUM(CASE WHEN status IN ('rejected', 'failed') THEN 1 ELSE 0 END) AS failed "
    "FROM orders GROUP BY market, side"
)
_OPEN_POSITIONS = (
    "SELECT market, COUNT(*) AS positions, SUM(ABS(market_value)) AS exposure, "
    "MAX(CASE WHEN position_limit > 0 THEN ABS(market_value) / position_limit END) AS limit_usage "
    "FROM positions WHERE closed_at IS NULL GROUP BY market"
)

_SHARED: dict[str, tuple[str, str]] = {
    # metric name -> (sql, value column)
    catalog.OHLCV_ROWS.name: (_OHLCV_BY_MARKET, "row_count"),
    catalog.TICKERS.name: (_OHLCV_BY_MARKET, "ticker_count"),
    catalog.OHLCV_LAST_UPDATE.name: (_OHLCV_BY_MARKET, "last_ts"),
    catalog.OHLCV_ROWS_MISSING_MARKET.name: (
        "SELECT COUNT(*) AS value FROM ohlcv WHERE market IS NULL OR market = ''",
        "value",
    ),
    catalog.TICKERS_IN_MULTIPLE_MARKETS.name: (
        "SELECT COUNT(*) AS value FROM (SELECT ticker FROM "
        "(SELECT DISTINCT market, ticker FROM ohlcv WHERE market <> '') AS listed "
        "GROUP BY ticker HAVING COUNT(*) > 1) AS multi",
        "value",
    ),
    catalog.COLLECTION_ATTEMPTS.name: (_COLLECTION_BY_MARKET, "attempts"),
    catalog.COLLECTION_SUCCESSES.name: (_COLLECTION_BY_MARKET, "successes"),
    catalog.COLLECTION_FAILURES.name: (_COLLECTION_BY_MARKET, "failures"),
    catalog.API_REQUESTS.name: (_API_BY_ENDPOINT, "requests"),
    catalog.API_FAILURES.name: (_API_BY_ENDPOINT, "failures"),
    catalog.API_RATE_LIMIT_USAGE.name: (
        "SELECT r.market, r.endpoint, 1.0 * r.used / r.quota AS value FROM api_rate_limits r "
        "JOIN (SELECT market, endpoint, MAX(ts) AS ts FROM api_rate_limits "
        "GROUP BY market, endpoint) newest "
        "ON r.market = newest.market AND r.endpoint = newest.endpoint AND r.ts = newest.ts "
        "WHERE r.quota > 0",
        "value",
    ),
    catalog.DATABASE_LAST_BACKUP.name: (
        "SELECT MAX(finished_at) AS value FROM backups WHERE status = 'success'",
        "value",
    ),
    catalog.ORDERS.name: (_ORDERS, "orders"),
    catalog.ORDERS_FAILED.name: (_ORDERS, "failed"),
    catalog.OPEN_POSITIONS.name: (_OPEN_POSITIONS, "positions"),
    catalog.POSITION_EXPOSURE.name: (_OPEN_POSITIONS, "exposure"),
    catalog.POSITION_LIMIT_USAGE.name: (_OPEN_POSITIONS, "limit_usage"),
    catalog.STRATEGY_REALISED_PNL.name: (
        "SELECT strategy, SUM(realised_pnl) AS value FROM strategy_pnl GROUP BY strategy",
        "value",
    ),
}

_DATABASE_SIZE: dict[Dialect, str] = {
    "sqlite": "SELECT page_count * page_size AS value FROM pragma_page_count(), pragma_page_size()",
    "postgresql": "SELECT pg_database_size(current_database()) AS value",
}

# A probe that fails on a missing, unreadable or corrupt database (SQLite reads its schema).
PROBE: dict[Dialect, str] = {
    "sqlite": "SELECT COUNT(*) AS value FROM sqlite_master",
    "postgresql": "SELECT 1 AS value",
}


def histogram_sql(buckets: Sequence[float]) -> str:
    """API latency per bucket: each call counted under the smallest bound that holds it."""
    cases = " ".join(f"WHEN duration_seconds <= {b!r} THEN {b!r}" for b in buckets)
    return (
        f"SELECT market, endpoint, CASE {cases} ELSE NULL END AS le, "
        "COUNT(*) AS count, SUM(duration_seconds) AS sum "
        "FROM api_calls GROUP BY market, endpoint, 3"
    )


def default_query(name: str, dialect: Dialect, buckets: Sequence[float]) -> tuple[str, str]:
    """(sql, value column) of a database-backed metric."""
    if name == catalog.DATABASE_SIZE.name:
        return _DATABASE_SIZE[dialect], "value"
    if name == catalog.API_REQUEST_DURATION.name:
        return histogram_sql(buckets), "count"
    return _SHARED[name]
