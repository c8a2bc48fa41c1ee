"""The exporter's metric catalog follows Prometheus naming rules."""

import re

from exporter import catalog

NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
UNBOUNDED_LABELS = {"ticker", "symbol", "order_id", "user", "account"}


def test_names_are_unique_and_prefixed() -> None:
    names = [spec.name for spec in catalog.ALL]
    assert len(names) == len(set(names))
    for name in names:
        assert NAME.match(name), name
        assert name.startswith(catalog.PREFIX + "_"), name


def test_suffixes_match_types() -> None:
    for spec in catalog.ALL:
        # prometheus_client appends _total to counters and _info to info metrics itself.
        assert not spec.name.endswith("_total"), spec.name
        assert not spec.name.endswith("_info"), spec.name
        if spec.name.endswith("_timestamp_seconds"):
            assert spec.type == "gauge", spec.name


def test_labels_are_bounded() -> None:
    for spec in catalog.ALL:
        assert not UNBOUNDED_LABELS & set(spec.labels), spec.name
