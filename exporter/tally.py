"""Incremental aggregates over append-mostly tables, advanced from a watermark column.

A tally keeps, per group (e.g. market and endpoint), the aggregates of one table (COUNT, SUM,
MAX) in memory, and on each refresh reads only the rows past its watermark: a column that
grows with every insert (SQLite `rowid`, an identity `id`, or a timestamp), read through its
index. So a refresh costs what was added since the last one, not the size of the table.

- **Settled rows and the tail.** Rows up to the *edge* are settled: counted once, for good.
  Rows past it form the tail, re-read on every refresh until they settle, so a row whose
  counted columns may still change (a table's `pending` condition, e.g. an order still `new`)
  is counted as it is now, and a row that commits late with a lower id (concurrent writers on
  PostgreSQL) is still seen. The edge trails the previous refresh's newest row, stops before
  the first pending row, and is never more than `max_tail` watermark units behind the newest.
- **Backfills** (rows with old timestamps) get a new id, so an id watermark counts them at once.
  A timestamp watermark counts them only at the next reconciliation.
- **Deletes and updates of settled rows** are seen by `reconcile()`, a full pass run on its own
  schedule, off the collectors' path. It recounts every settled row in watermark chunks and
  replaces the settled aggregates; what settled while it ran is added back on top.
- The first refresh is such a full pass too (chunked, with progress reports).

Exact between reconciliations except for: rows deleted (still counted), settled rows updated
(counted as first seen), rows inserted with a watermark value at or below the edge (SQLite
hands out the ids of deleted newest rows again: rows inserted in the same refresh interval as
such a delete; a transaction that commits more than one refresh after taking its id).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Merge = Literal["sum", "max"]
Row = dict[str, Any]
Key = tuple[Any, ...]
Groups = dict[Key, list[Any]]
Query = Callable[[str], list[Row]]
Progress = Callable[[str], None]

log = logging.getLogger("exporter")
CHUNK = 1_000_000  # watermark units per statement of a full pass
MAX_TAIL = 50_000  # watermark units the edge may trail the newest row
_SETTLED = "settled_"


@dataclass(frozen=True)
class TallySpec:
    """What to aggregate from one table: GROUP BY `keys`, aggregates `values`."""

    table: str
    keys: tuple[tuple[str, str], ...]  # (column name, SQL expression)
    values: tuple[tuple[str, str, Merge], ...]  # (column name, SQL aggregate, how to merge)
    pending: str | None = None  # SQL condition: the row's counted columns may still change

    def rows(self, groups: Mapping[Key, list[Any]]) -> list[Row]:
        """One row per group: its key columns and values, like the SQL's."""
        names = [name for name, _ in self.keys] + [name for name, _, _ in self.values]
        return [dict(zip(names, (*key, *values), strict=True)) for key, values in groups.items()]

    def select(self, watermark: str | None, low: int, high: int, settle: int) -> str:
        """The aggregates of rows with low < watermark <= high; `settled_` says which part
        is at or below `settle`. Without a watermark: the whole table, all settled."""
        keys = ", ".join(f"{expr} AS {name}" for name, expr in self.keys)
        values = ", ".join(f"{agg} AS {name}" for name, agg, _ in self.values)
        group = ", ".join(str(i + 1) for i in range(len(self.keys)))
        if watermark is None:
            return f"SELECT {keys}, {values}, 1 AS {_SETTLED} FROM {self.table} GROUP BY {group}"
        flag = len(self.keys) + len(self.values) + 1
        return (
            f"SELECT {keys}, {values}, "
            f"CASE WHEN {watermark} <= {settle} THEN 1 ELSE 0 END AS {_SETTLED} "
            f"FROM {self.table} WHERE {watermark} > {low} AND {watermark} <= {high} "
            f"GROUP BY {group}, {flag}"
        )


def _combine(spec: TallySpec, a: list[Any], b: list[Any]) -> list[Any]:
    """Two groups' aggregates as one (NULL: nothing there)."""
    combined = []
    for (_, _, how), x, y in zip(spec.values, a, b, strict=True):
        if x is None or y is None:
            combined.append(y if x is None else x)
        else:
            combined.append(x + y if how == "sum" else max(x, y))
    return combined


def _merge(spec: TallySpec, into: Groups, groups: Mapping[Key, list[Any]]) -> None:
    for key, values in groups.items():
        have = into.get(key)
        into[key] = list(values) if have is None else _combine(spec, have, values)


def _number(row: Row, column: str) -> int | None:
    value = row.get(column)
    return None if value is None else int(value)


class Tally:
    """The running aggregates of one table (thread-safe: a collector refreshes it while the
    reconciler may recount it)."""

    def __init__(
        self,
        spec: TallySpec,
        watermark: str | None,
        max_tail: int = MAX_TAIL,
        lag: bool = True,
        optional: bool = False,
    ) -> None:
        self.spec = spec
        self.watermark = watermark
        self.max_tail = max_tail
        # Keep the previous refresh's rows in the tail: PostgreSQL writers may commit out of
        # id order. SQLite has one writer at a time (ids commit in order): no lag needed.
        self.lag = lag
        # A default watermark the schema may lack (an `ohlcv` without `id` on PostgreSQL, as
        # before the tallies): then the table is recounted whole every run, with a warning.
        self.optional = optional
        self._lock = threading.Lock()
        self._settled: Groups = {}
        self._tail: Groups = {}
        self._edge: int | None = None  # rows with watermark <= edge are in _settled
        self._last_high: int | None = None
        self._since: Groups | None = None  # settled during a running reconciliation

    @property
    def edge(self) -> int | None:
        """Rows with a watermark up to here are settled (None: not counted yet)."""
        return self._edge

    @property
    def counted(self) -> bool:
        """Whether the first full count has completed (incremental refreshes from now on)."""
        return self.watermark is None or self._edge is not None

    def refresh(self, query: Query, progress: Progress) -> Groups:
        """Advance from the watermark; the aggregates of every group (do not modify)."""
        if self.optional and self._edge is None and not self._has_watermark(query):
            log.warning(
                "%s has no column %s: recounting it whole on every run; add the column "
                "(docs/exporter.md, Incremental counts) or name one under tables.%s.watermark",
                self.spec.table,
                self.watermark,
                self.spec.table,
            )
            self.watermark = None
        if self.watermark is None:
            return self._scan(query, 0, 0, 0, progress)[0]
        high = self._bound(query, "MAX")
        with self._lock:
            edge, last_high = self._edge, self._last_high
        first = edge is None
        if edge is None:
            low = self._bound(query, "MIN")
            edge = 0 if low is None else low - 1
        if high is None:
            high = min(edge, 0)
        if high < edge:
            # The newest rows were deleted: nothing exists past `high`, and SQLite hands their
            # ids out again, so the edge comes down (what was deleted stays counted).
            edge = high
        settle = self._settle_point(query, edge, high, last_high)
        settled, tail = self._scan(query, edge, high, settle, progress if first else None)
        with self._lock:
            _merge(self.spec, self._settled, settled)
            if self._since is not None:
                _merge(self.spec, self._since, settled)
            self._edge, self._last_high, self._tail = settle, high, tail
            merged: Groups = dict(self._settled)  # shallow: the tail's groups are new lists
        for key, values in tail.items():
            have = merged.get(key)
            merged[key] = values if have is None else _combine(self.spec, have, values)
        return merged

    def reconcile(self, query: Query, progress: Progress) -> bool:
        """Recount every settled row; False if it cannot yet (no first count so far)."""
        if self.watermark is None:
            return True  # recounted whole on every refresh anyway
        with self._lock:
            if self._edge is None:
                return False
            edge = self._edge
            self._since = {}
        try:
            low = self._bound(query, "MIN")
            start = edge if low is None else min(edge, low - 1)
            full = self._scan(query, start, edge, edge, progress)[0]
            with self._lock:
                assert self._since is not None
                _merge(self.spec, full, self._since)
                self._settled = full
        finally:
            with self._lock:
                self._since = None
        return True

    def _has_watermark(self, query: Query) -> bool:
        """False only if the table is readable but lacks the watermark column."""
        try:
            query(f"SELECT {self.watermark} FROM {self.spec.table} WHERE 1 = 0")
            return True
        except Exception:  # any error: see whether the table itself reads
            query(f"SELECT * FROM {self.spec.table} WHERE 1 = 0")  # raises if it does not
            return False

    def _bound(self, query: Query, which: Literal["MIN", "MAX"]) -> int | None:
        rows = query(f"SELECT {which}({self.watermark}) AS bound FROM {self.spec.table}")
        return _number(rows[0], "bound") if rows else None

    def _settle_point(self, query: Query, edge: int, high: int, last_high: int | None) -> int:
        """Where the edge moves: up to the previous refresh's newest row (late commits land
        behind it), before the first pending row, never more than max_tail behind `high`."""
        floor = max(edge, high - self.max_tail)
        point = high if last_high is None or not self.lag else min(high, last_high)
        if self.spec.pending is not None and high > floor:
            rows = query(
                f"SELECT MIN({self.watermark}) AS first FROM {self.spec.table} "
                f"WHERE {self.watermark} > {floor} AND {self.watermark} <= {high} "
                f"AND ({self.spec.pending})"
            )
            first = _number(rows[0], "first") if rows else None
            if first is not None:
                point = min(point, first - 1)
        return max(floor, point)

    def _scan(
        self, query: Query, low: int, high: int, settle: int, progress: Progress | None
    ) -> tuple[Groups, Groups]:
        """(settled, tail) aggregates of low < watermark <= high, in CHUNK-sized statements.
        An empty range still runs one (cheap) statement: a dropped column fails at once."""
        settled: Groups = {}
        tail: Groups = {}
        names = [name for name, _ in self.spec.keys]
        columns = [name for name, _, _ in self.spec.values]
        started, reported = time.monotonic(), time.monotonic()
        start = low
        while True:
            stop = min(high, start + CHUNK)
            rows = query(self.spec.select(self.watermark, start, stop, settle))
            for flag, target in ((True, settled), (False, tail)):
                chunk = {
                    tuple(row[n] for n in names): [row[c] for c in columns]
                    for row in rows
                    if (row[_SETTLED] in (1, True)) == flag
                }
                _merge(self.spec, target, chunk)
            start = stop
            if start >= high or self.watermark is None:
                break
            if progress is not None and time.monotonic() - reported >= 5:
                reported = time.monotonic()
                done = (start - low) / max(1, high - low)
                progress(
                    f"{self.spec.table}: {done:.0%} of {self.watermark} {low + 1}..{high} "
                    f"counted in {reported - started:.0f}s"
                )
        return settled, tail
