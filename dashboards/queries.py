"""Pure helpers over dashboard JSON: list every panel query and expand Grafana variables.

Used by the dashboard tests, the metric-contract test and the live-pipeline test (which runs
every expanded Prometheus query against a real Prometheus).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Grafana's built-in variables, with values that suit a Prometheus scraping every 15 s.
BUILTIN_DEFAULTS: dict[str, str] = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__auto": "1m",
}

# `${name}` or `${name:format}` or `$name` (longest identifier wins: `$__range_s`, not `$__range`).
_VARIABLE = re.compile(r"\$\{(?P<braced>\w+)(?::\w+)?\}|\$(?P<bare>\w+)")


@dataclass(frozen=True)
class PanelQuery:
    panel_title: str
    datasource_type: str  # "prometheus" or "loki"
    expr: str
    ref_id: str


def iter_panels(model: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every non-row panel, including panels nested in collapsed rows."""
    for panel in model.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def panel_queries(model: Mapping[str, Any]) -> list[PanelQuery]:
    """Every query target of every panel of a dashboard model, in panel order."""
    queries: list[PanelQuery] = []
    for panel in iter_panels(model):
        panel_source = (panel.get("datasource") or {}).get("type", "")
        for target in panel.get("targets", []):
            source = (target.get("datasource") or {}).get("type", panel_source)
            queries.append(
                PanelQuery(
                    panel_title=str(panel.get("title", "")),
                    datasource_type=str(source),
                    expr=str(target.get("expr", "")),
                    ref_id=str(target.get("refId", "")),
                )
            )
    return queries


def all_selected_values(model: Mapping[str, Any]) -> dict[str, str]:
    """Values for the dashboard's own variables as a fresh dashboard has them: each datasource
    variable's default uid, text boxes' defaults, and "All" for query variables — written as
    the variable's `allValue` or `.+`, which matches every series that has the label, as
    Grafana's "All" does for `=~` matchers.
    """
    values: dict[str, str] = {}
    for variable in model.get("templating", {}).get("list", []):
        name, kind = str(variable["name"]), variable.get("type")
        if kind == "datasource":
            values[name] = str(variable["current"]["value"])
        elif kind == "query":
            values[name] = str(variable.get("allValue") or ".+")
        elif kind in ("textbox", "constant", "custom"):
            values[name] = str(variable.get("query", ""))
    return values


def expand_variables(expr: str, values: Mapping[str, str]) -> str:
    """Substitute `$var`, `${var}` and `${var:format}` with `values` (Grafana built-ins default
    to `BUILTIN_DEFAULTS`), e.g. {"market": "kr|us"} for a multi-value `market=~"$market"`.

    Raises ValueError naming any variable that has no value.
    """
    known = {**BUILTIN_DEFAULTS, **values}

    def substitute(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        if name not in known:
            raise ValueError(
                f"variable ${name} in {expr!r} has no value; known: {', '.join(sorted(known))}"
            )
        return known[name]

    return _VARIABLE.sub(substitute, expr)
