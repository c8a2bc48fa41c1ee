"""Build prometheus_client metric families from catalog specs, with bounded label values."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from exporter.catalog import MetricSpec
from exporter.config import OTHER_ENDPOINT, SIDES, ExporterConfig
from exporter.continuity import MonotonicCounters, StickyStrategies

LabelKey = tuple[str, ...]


class QueryShapeError(Exception):
    """A query result does not have the columns its metric needs."""


@dataclass(frozen=True)
class LabelDomain:
    """The allowed values of each label; anything else is dropped or folded into `other`."""

    markets: tuple[str, ...]
    endpoints: tuple[str, ...]
    max_strategies: int

    @classmethod
    def from_config(cls, config: ExporterConfig) -> LabelDomain:
        return cls(config.market_codes, config.endpoints, config.max_strategies)

    def values(self, label: str) -> tuple[str, ...] | None:
        """Every value of an enumerable label (pre-filled with 0), else None."""
        return {"market": self.markets, "side": SIDES, "endpoint": self.endpoints}.get(label)

    def normalise(self, label: str, raw: object) -> str | None:
        """The label value for a database value, or None to drop the row."""
        if raw is None:
            return None
        text = str(raw).strip().lower() if label != "strategy" else str(raw).strip()
        if label == "market":
            return text if text in self.markets else None
        if label == "side":
            return text if text in SIDES else None
        if label == "endpoint":
            return text if text in self.endpoints else OTHER_ENDPOINT
        return text or None


def cached_help(spec: MetricSpec, collector: str, interval: float, timeout: float) -> str:
    text = (
        f"{spec.help} Cached: computed every {interval:g}s off the scrape path by collector "
        f"{collector!r}; may be up to {interval + timeout:g}s old."
    )
    if spec.type in ("counter", "histogram"):
        text += " Never decreases while the exporter runs: deleted rows stay counted."
    return text


def _value(raw: object) -> float:
    if raw is None:
        return 0.0  # NULL aggregate: nothing there (a timestamp of 0 means "never")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise QueryShapeError(f"value {raw!r} is not a number") from None
    return value


def _combine(spec: MetricSpec) -> str:
    """How rows that land on the same labels merge: ratios and times take the max."""
    return "max" if spec.name.endswith(("_ratio", "_timestamp_seconds")) else "sum"


def _row_labels(spec: MetricSpec, row: Mapping[str, Any], domain: LabelDomain) -> LabelKey | None:
    key = []
    for label in spec.labels:
        if label not in row:
            raise QueryShapeError(f"{spec.name}: the query returns no column {label!r}")
        value = domain.normalise(label, row[label])
        if value is None:
            return None
        key.append(value)
    return tuple(key)


def _prefill(spec: MetricSpec, domain: LabelDomain) -> list[LabelKey]:
    domains = [domain.values(label) for label in spec.labels]
    if any(d is None for d in domains):
        return []
    return [tuple(combo) for combo in product(*[d for d in domains if d is not None])]


def _fold_strategies(
    samples: dict[LabelKey, float], spec: MetricSpec, strategies: StickyStrategies
) -> dict[LabelKey, float]:
    """Strategies beyond the cap are summed into strategy="other" (see StickyStrategies)."""
    if spec.labels != ("strategy",):
        return samples
    folded = strategies.fold(spec.name, {key[0]: value for key, value in samples.items()})
    return {(name,): value for name, value in folded.items()}


def sample_family(
    spec: MetricSpec,
    help_text: str,
    rows: Sequence[Mapping[str, Any]],
    value_column: str,
    domain: LabelDomain,
    counters: MonotonicCounters | None = None,
    strategies: StickyStrategies | None = None,
) -> Metric:
    """A gauge or counter family from query rows.

    `counters` keeps counters from decreasing and `strategies` keeps the strategies that have
    their own series stable, across refreshes; without them each call stands alone.
    """
    samples: dict[LabelKey, float] = dict.fromkeys(_prefill(spec, domain), 0.0)
    combine = _combine(spec)
    for row in rows:
        if value_column not in row:
            raise QueryShapeError(f"{spec.name}: the query returns no column {value_column!r}")
        key = _row_labels(spec, row, domain)
        if key is None:
            continue
        value = _value(row[value_column])
        if key in samples and combine == "max":
            samples[key] = max(samples[key], value)
        else:
            samples[key] = samples.get(key, 0.0) + value
    if not spec.labels and not samples:
        samples[()] = 0.0
    if strategies is None:
        strategies = StickyStrategies(domain.max_strategies, OTHER_ENDPOINT)
    samples = _fold_strategies(samples, spec, strategies)
    if counters is not None and spec.type == "counter":
        samples = counters.adjust(spec.name, samples)
    return labelled_family(spec, help_text, samples)


def labelled_family(spec: MetricSpec, help_text: str, samples: Mapping[LabelKey, float]) -> Metric:
    family: GaugeMetricFamily | CounterMetricFamily
    if spec.type == "counter":
        family = CounterMetricFamily(spec.name, help_text, labels=list(spec.labels))
    elif spec.type == "gauge":
        family = GaugeMetricFamily(spec.name, help_text, labels=list(spec.labels))
    else:
        raise QueryShapeError(f"{spec.name}: type {spec.type} has no plain samples")
    for key in sorted(samples):
        family.add_metric(list(key), samples[key])
    return family


def histogram_family(
    spec: MetricSpec,
    help_text: str,
    rows: Sequence[Mapping[str, Any]],
    buckets: Sequence[float],
    domain: LabelDomain,
    counters: MonotonicCounters | None = None,
) -> Metric:
    """A histogram from rows of (labels..., le, count, sum); le NULL means +Inf.

    With `counters`, each bucket's own count and sum never decrease, so the cumulative
    buckets, `_count` and `_sum` never decrease and the buckets stay ordered.
    """
    width = len(buckets) + 1
    counts: dict[LabelKey, list[float]] = {key: [0.0] * width for key in _prefill(spec, domain)}
    sums: dict[LabelKey, list[float]] = {key: [0.0] * width for key in counts}
    for row in rows:
        for column in ("le", "count", "sum"):
            if column not in row:
                raise QueryShapeError(f"{spec.name}: the query returns no column {column!r}")
        key = _row_labels(spec, row, domain)
        if key is None:
            continue
        le = math.inf if row["le"] is None else _value(row["le"])
        index = bisect.bisect_left(buckets, le)
        counts.setdefault(key, [0.0] * width)[index] += _value(row["count"])
        sums.setdefault(key, [0.0] * width)[index] += _value(row["sum"])
    if counters is not None:
        counts = _monotonic_buckets(spec.name, "count", counts, width, counters)
        sums = _monotonic_buckets(spec.name, "sum", sums, width, counters)
    family = HistogramMetricFamily(spec.name, help_text, labels=list(spec.labels))
    bounds = [*(repr(float(b)) for b in buckets), "+Inf"]
    for key in sorted(counts):
        cumulative, running = [], 0.0
        for bound, count in zip(bounds, counts[key], strict=True):
            running += count
            cumulative.append((bound, running))
        family.add_metric(list(key), cumulative, sum_value=math.fsum(sums[key]))
    return family


def _monotonic_buckets(
    name: str,
    part: str,
    per_bucket: Mapping[LabelKey, list[float]],
    width: int,
    counters: MonotonicCounters,
) -> dict[LabelKey, list[float]]:
    """Each bucket's own (not cumulative) count or sum made monotonic, as its own series."""
    flat = {(*key, str(i)): v for key, values in per_bucket.items() for i, v in enumerate(values)}
    result: dict[LabelKey, list[float]] = {}
    for (*labels, index), value in counters.adjust(f"{name} {part}", flat).items():
        result.setdefault(tuple(labels), [0.0] * width)[int(index)] = value
    return result


def info_family(spec: MetricSpec, values: Mapping[str, str]) -> Metric:
    family = InfoMetricFamily(spec.name, spec.help)
    family.add_metric([], dict(values))
    return family


def gauge(spec: MetricSpec, help_text: str, samples: Iterable[tuple[LabelKey, float]]) -> Metric:
    return labelled_family(spec, help_text, dict(samples))
