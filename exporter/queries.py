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

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from exporter import catalog
from exporter.db import Dialect
from exporter.tally import Groups, Row, TallySpec

_FAILED_ORDER = "status IN ('rejected', 'failed')"
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
    f"SUM(CASE WHEN {_FAILED_ORDER} THEN 1 ELSE 0 END) AS failed "
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


def _bucket(buckets: Sequence[float]) -> str:
    """The smallest bound that holds a call's duration (NULL: +Inf)."""
    cases = " ".join(f"WHEN duration_seconds <= {b!r} THEN {b!r}" for b in buckets)
    return f"CASE {cases} ELSE NULL END"


def histogram_sql(buckets: Sequence[float]) -> str:
    """API latency per bucket: each call counted under the smallest bound that holds it."""
    return (
        f"SELECT market, endpoint, {_bucket(buckets)} AS le, "
        "COUNT(*) AS count, SUM(duration_seconds) AS sum "
        "FROM api_calls GROUP BY market, endpoint, 3"
    )


# --- incremental aggregates (exporter/tally.py) ----------------------------------------------
# The tables counted from a watermark, and what each keeps per group. Metrics that use their
# default SQL are served from these instead; an overridden metric runs its own SQL each time.


def tally_specs(buckets: Sequence[float]) -> dict[str, TallySpec]:
    """Table -> what its tally aggregates (one pass per table, `api_calls` included)."""
    count = "COUNT(*)"
    return {
        "ohlcv": TallySpec(
            "ohlcv",
            keys=(("market", "market"), ("ticker", "ticker")),
            values=(("row_count", count, "sum"), ("last_ts", "MAX(ts)", "max")),
        ),
        "collection_runs": TallySpec(
            "collection_runs",
            keys=(("market", "market"),),
            values=(
                ("attempts", count, "sum"),
                ("successes", "SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END)", "sum"),
                ("failures", "SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END)", "sum"),
            ),
            pending="status NOT IN ('success', 'failed')",  # still running
        ),
        "api_calls": TallySpec(
            "api_calls",
            keys=(("market", "market"), ("endpoint", "endpoint"), ("le", _bucket(buckets))),
            values=(
                ("count", count, "sum"),
                ("sum", "SUM(duration_seconds)", "sum"),
                ("failures", "SUM(CASE WHEN ok = 0 THEN 1 ELSE 0 END)", "sum"),
            ),
        ),
        "orders": TallySpec(
            "orders",
            keys=(("market", "market"), ("side", "side")),
            values=(
                ("orders", count, "sum"),
                ("failed", f"SUM(CASE WHEN {_FAILED_ORDER} THEN 1 ELSE 0 END)", "sum"),
            ),
            pending="status NOT IN ('filled', 'cancelled', 'rejected', 'failed')",
        ),
    }


# The ohlcv tally's groups: (market, ticker) -> [row_count, last_ts]. Loops over tuples, not
# dict rows: with tens of thousands of pairs this is most of a refresh's CPU.


def _ohlcv_by_market(spec: TallySpec, pairs: Groups) -> list[Row]:
    """Per market: rows, tickers (pairs with rows) and the newest bar, like _OHLCV_BY_MARKET."""
    rows: dict[object, int] = defaultdict(int)
    tickers: dict[object, int] = defaultdict(int)
    last: dict[object, int] = {}
    for (market, _), (count, ts) in pairs.items():
        rows[market] += count or 0
        tickers[market] += 1
        if ts is not None and (market not in last or ts > last[market]):
            last[market] = ts
    return [
        {"market": m, "row_count": rows[m], "ticker_count": tickers[m], "last_ts": last.get(m)}
        for m in rows
    ]


def _missing_market(spec: TallySpec, pairs: Groups) -> list[Row]:
    missing = sum(count or 0 for (market, _), (count, _) in pairs.items() if not market)
    return [{"value": missing}]


def _multiple_markets(spec: TallySpec, pairs: Groups) -> list[Row]:
    first: dict[object, object] = {}
    multi: set[object] = set()
    for market, ticker in pairs:
        if market:
            seen = first.setdefault(ticker, market)
            if seen != market:
                multi.add(ticker)
    return [{"value": len(multi)}]


def _rows(spec: TallySpec, groups: Groups) -> list[Row]:
    return spec.rows(groups)


@dataclass(frozen=True)
class Incremental:
    """A metric served from a table's tally: its rows after `derive`, and the value column."""

    table: str
    value_column: str
    derive: Callable[[TallySpec, Groups], list[Row]] = _rows


INCREMENTAL: dict[str, Incremental] = {
    catalog.OHLCV_ROWS.name: Incremental("ohlcv", "row_count", _ohlcv_by_market),
    catalog.TICKERS.name: Incremental("ohlcv", "ticker_count", _ohlcv_by_market),
    catalog.OHLCV_LAST_UPDATE.name: Incremental("ohlcv", "last_ts", _ohlcv_by_market),
    catalog.OHLCV_ROWS_MISSING_MARKET.name: Incremental("ohlcv", "value", _missing_market),
    catalog.TICKERS_IN_MULTIPLE_MARKETS.name: Incremental("ohlcv", "value", _multiple_markets),
    catalog.COLLECTION_ATTEMPTS.name: Incremental("collection_runs", "attempts"),
    catalog.COLLECTION_SUCCESSES.name: Incremental("collection_runs", "successes"),
    catalog.COLLECTION_FAILURES.name: Incremental("collection_runs", "failures"),
    catalog.API_REQUESTS.name: Incremental("api_calls", "count"),
    catalog.API_FAILURES.name: Incremental("api_calls", "failures"),
    catalog.API_REQUEST_DURATION.name: Incremental("api_calls", "count"),
    catalog.ORDERS.name: Incremental("orders", "orders"),
    catalog.ORDERS_FAILED.name: Incremental("orders", "failed"),
}


def default_query(name: str, dialect: Dialect, buckets: Sequence[float]) -> tuple[str, str]:
    """(sql, value column) of a database-backed metric."""
    if name == catalog.DATABASE_SIZE.name:
        return _DATABASE_SIZE[dialect], "value"
    if name == catalog.API_REQUEST_DURATION.name:
        return histogram_sql(buckets), "count"
    return _SHARED[name]
