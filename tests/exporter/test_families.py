"""Query rows become bounded, well-typed families (label policy, histogram folding)."""

from __future__ import annotations

import pytest

from exporter import catalog
from exporter.continuity import MonotonicCounters, StickyStrategies
from exporter.families import LabelDomain, QueryShapeError, histogram_family, sample_family
from exporter.scheduler import serialise
from tests.exporter.harness import parse

DOMAIN = LabelDomain(markets=("kr", "us"), endpoints=("quotes",), max_strategies=3)


def test_labels_are_bounded_and_missing_combinations_are_zero() -> None:
    rows: list[dict[str, object]] = [
        {"market": "KR", "side": "Buy", "orders": 5},
        {"market": "xx", "side": "buy", "orders": 7},  # unknown market: dropped
        {"market": "us", "side": "short", "orders": 9},  # unknown side: dropped
        {"market": None, "side": "buy", "orders": 1},
    ]
    family = sample_family(catalog.ORDERS, "h", rows, "orders", DOMAIN)
    samples = parse(serialise([family]).decode())
    assert samples == {
        ("trading_orders_total", (("market", "kr"), ("side", "buy"))): 5.0,
        ("trading_orders_total", (("market", "kr"), ("side", "sell"))): 0.0,
        ("trading_orders_total", (("market", "us"), ("side", "buy"))): 0.0,
        ("trading_orders_total", (("market", "us"), ("side", "sell"))): 0.0,
    }


def test_unknown_endpoints_fold_into_other_and_ratios_take_the_max() -> None:
    rows = [
        {"market": "kr", "endpoint": "news", "value": 0.2},
        {"market": "kr", "endpoint": "chat", "value": 0.7},
    ]
    family = sample_family(catalog.API_RATE_LIMIT_USAGE, "h", rows, "value", DOMAIN)
    samples = parse(serialise([family]).decode())
    key = ("trading_api_rate_limit_usage_ratio", (("endpoint", "other"), ("market", "kr")))
    assert samples[key] == 0.7


def _pnl(values: dict[str, float], strategies: StickyStrategies | None = None) -> dict[str, float]:
    rows = [{"strategy": name, "value": value} for name, value in values.items()]
    family = sample_family(
        catalog.STRATEGY_REALISED_PNL, "h", rows, "value", DOMAIN, strategies=strategies
    )
    samples = parse(serialise([family]).decode())
    return {dict(labels)["strategy"]: v for (_, labels), v in samples.items()}


def test_strategies_are_capped_keeping_the_largest_absolute_pnl() -> None:
    values = {"s0": 0.0, "s1": 1.0, "s2": -7.0, "s3": 3.0, "s4": 4.0, "s5": 0.5}
    assert _pnl(values) == {"s2": -7.0, "s4": 4.0, "s3": 3.0, "other": 0.0 + 1.0 + 0.5}


def test_strategies_with_their_own_series_keep_them() -> None:
    strategies = StickyStrategies(limit=3, other="other")
    first = {"b": 10.0, "c": 5.0, "d": 1.0, "e": 0.5}
    assert _pnl(first, strategies) == {"b": 10.0, "c": 5.0, "d": 1.0, "other": 0.5}
    # A newcomer (first by name, largest P&L) does not push `d` into "other", even at P&L 0.
    second = {"a": 100.0, "b": 10.0, "c": 5.0, "d": 0.0, "e": 0.5}
    assert _pnl(second, strategies) == {"b": 10.0, "c": 5.0, "d": 0.0, "other": 100.5}
    # `c`'s rows are gone: its slot goes to the largest newcomer.
    third = {"a": 100.0, "b": 10.0, "d": 0.0, "e": 0.5}
    assert _pnl(third, strategies) == {"a": 100.0, "b": 10.0, "d": 0.0, "other": 0.5}


def test_a_strategy_named_other_shares_the_overflow_series() -> None:
    strategies = StickyStrategies(limit=1, other="other")
    assert _pnl({"other": 2.0, "x": 1.0, "y": 0.5}, strategies) == {"other": 3.5}


def test_histogram_rows_fold_into_configured_buckets() -> None:
    # Raw observations (one row each) and pre-bucketed rows both work; NULL le means +Inf.
    rows: list[dict[str, object]] = [
        {"market": "kr", "endpoint": "quotes", "le": 0.003, "count": 1, "sum": 0.003},
        {"market": "kr", "endpoint": "quotes", "le": 0.1, "count": 2, "sum": 0.15},
        {"market": "kr", "endpoint": "quotes", "le": None, "count": 1, "sum": 12.0},
    ]
    family = histogram_family(catalog.API_REQUEST_DURATION, "h", rows, (0.01, 0.1, 1.0), DOMAIN)
    samples = parse(serialise([family]).decode())
    labels = (("endpoint", "quotes"), ("market", "kr"))

    def bucket(le: str) -> float:
        return samples[
            ("trading_api_request_duration_seconds_bucket", tuple(sorted((*labels, ("le", le)))))
        ]

    assert [bucket(b) for b in ("0.01", "0.1", "1.0", "+Inf")] == [1, 3, 3, 4]
    assert samples[("trading_api_request_duration_seconds_count", labels)] == 4
    assert samples[("trading_api_request_duration_seconds_sum", labels)] == pytest.approx(12.153)
    # Pre-filled combinations exist with zero counts.
    assert (
        samples[
            (
                "trading_api_request_duration_seconds_count",
                (("endpoint", "quotes"), ("market", "us")),
            )
        ]
        == 0
    )


def test_wrong_query_shape_is_an_error_naming_the_column() -> None:
    with pytest.raises(QueryShapeError, match="'market'"):
        sample_family(catalog.OHLCV_ROWS, "h", [{"value": 1}], "value", DOMAIN)
    with pytest.raises(QueryShapeError, match="'row_count'"):
        sample_family(catalog.OHLCV_ROWS, "h", [{"market": "kr"}], "row_count", DOMAIN)


def _api_rows(requests: int, failures: int) -> list[dict[str, object]]:
    return [{"market": "kr", "endpoint": "quotes", "requests": requests, "failures": failures}]


def _counter(
    family_rows: list[dict[str, object]], column: str, counters: MonotonicCounters
) -> float:
    family = sample_family(catalog.API_REQUESTS, "h", family_rows, column, DOMAIN, counters)
    samples = parse(serialise([family]).decode())
    return samples[("trading_api_requests_total", (("endpoint", "quotes"), ("market", "kr")))]


def test_counters_absorb_deleted_rows_and_count_new_ones() -> None:
    counters = MonotonicCounters()
    assert _counter(_api_rows(51, 0), "requests", counters) == 51
    # A retention job deletes 27 rows: the counter stays put instead of "resetting".
    assert _counter(_api_rows(24, 0), "requests", counters) == 51
    # 5 new rows: +5.
    assert _counter(_api_rows(29, 0), "requests", counters) == 56
    # Every row gone (the series is missing from the query result): still exported, still 56.
    assert _counter([], "requests", counters) == 56
    assert _counter(_api_rows(3, 0), "requests", counters) == 59
    # Gauges are left alone: the same rows as a gauge go down.
    key = ("trading_ohlcv_rows", (("market", "kr"),))
    for rows, want in (([{"market": "kr", "value": 9}], 9), ([], 0)):
        family = sample_family(catalog.OHLCV_ROWS, "h", rows, "value", DOMAIN, counters)
        assert parse(serialise([family]).decode())[key] == want


def test_histogram_buckets_never_decrease_and_stay_cumulative() -> None:
    counters = MonotonicCounters()
    labels = (("endpoint", "quotes"), ("market", "kr"))

    def scrape(fast: int, slow: int) -> list[float]:
        rows: list[dict[str, object]] = [
            {"market": "kr", "endpoint": "quotes", "le": 0.01, "count": fast, "sum": fast * 0.01},
            {"market": "kr", "endpoint": "quotes", "le": 1.0, "count": slow, "sum": slow * 1.0},
        ]
        family = histogram_family(
            catalog.API_REQUEST_DURATION, "h", rows, (0.01, 1.0), DOMAIN, counters
        )
        samples = parse(serialise([family]).decode())
        name = "trading_api_request_duration_seconds"
        buckets = [
            samples[(f"{name}_bucket", tuple(sorted((*labels, ("le", le)))))]
            for le in ("0.01", "1.0", "+Inf")
        ]
        return [*buckets, samples[(f"{name}_count", labels)], samples[(f"{name}_sum", labels)]]

    assert scrape(10, 0) == pytest.approx([10, 10, 10, 10, 0.1])
    # 10 fast calls deleted and 10 slow ones added in one refresh: the +Inf count is unchanged
    # in the database, yet the slow bucket grew; per-bucket tracking sees it.
    assert scrape(0, 10) == pytest.approx([10, 20, 20, 20, 10.1])
    # 5 fast calls added, the 10 slow ones deleted: buckets stay ordered (le=0.01 <= le=1).
    assert scrape(5, 0) == pytest.approx([15, 25, 25, 25, 10.15])
