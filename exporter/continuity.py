"""State that keeps exported series continuous across refreshes, for the process's life.

- `MonotonicCounters`: a counter's value is a COUNT(*) over rows that a retention job may
  delete. A drop would look like a counter reset to Prometheus, and rate()/increase() would
  count the whole value again. Each series exports `database value + offset`; when the database
  value drops, the drop is added to the offset, so the exported value never decreases.
- `StickyStrategies`: once a strategy has its own series it keeps it; only strategies that find
  no free slot are summed into strategy="other".

Each SQL collector owns one of each; a collector's runs never overlap, so no lock is needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

SeriesKey = tuple[str, ...]


@dataclass
class _Track:
    last: float  # the database value seen at the last refresh
    offset: float  # the sum of every drop seen so far


class MonotonicCounters:
    """Exported value = database value + the drops absorbed so far; never decreases.

    Deletions and insertions landing in the same refresh net out: the exported increase is
    then max(0, inserted - deleted) instead of `inserted` (an undercount of min(inserted,
    deleted) for that refresh). A series seen once keeps being exported (its database value
    counts as 0 when its rows are gone), so it never vanishes and comes back lower.
    """

    def __init__(self) -> None:
        self._series: dict[str, dict[SeriesKey, _Track]] = {}

    def adjust(self, metric: str, values: Mapping[SeriesKey, float]) -> dict[SeriesKey, float]:
        tracks = self._series.setdefault(metric, {})
        adjusted: dict[SeriesKey, float] = {}
        for key in [*values, *(k for k in tracks if k not in values)]:
            value = values.get(key, 0.0)
            track = tracks.get(key)
            if track is None:
                track = tracks[key] = _Track(last=value, offset=0.0)
            elif value < track.last:
                track.offset += track.last - value
            track.last = value
            adjusted[key] = value + track.offset
        return adjusted


class StickyStrategies:
    """At most `limit` strategies have their own series; the rest share strategy="other".

    A strategy that got its own series keeps it for as long as it has rows, whatever its P&L
    and whatever strategies appear later, so series never move into or out of "other" behind
    a dashboard's back. Free slots go to newcomers by largest absolute value (then by name),
    deterministic within a refresh. A strategy whose rows are all gone frees its slot.
    """

    def __init__(self, limit: int, other: str) -> None:
        self._limit = limit
        self._other = other
        self._kept: dict[str, set[str]] = {}

    def fold(self, metric: str, values: Mapping[str, float]) -> dict[str, float]:
        kept = self._kept.setdefault(metric, set())
        kept.intersection_update(values)
        newcomers = sorted(
            (name for name in values if name not in kept), key=lambda n: (-abs(values[n]), n)
        )
        free = max(0, self._limit - len(kept))
        kept.update(newcomers[:free])
        folded = {name: value for name, value in values.items() if name in kept}
        if newcomers[free:]:
            # A strategy really named "other" shares that series with the overflow.
            overflow = math.fsum(values[name] for name in newcomers[free:])
            folded[self._other] = folded.get(self._other, 0.0) + overflow
        return folded
