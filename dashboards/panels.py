"""Small typed helpers over grafana-foundation-sdk builders: datasources, variables, panels.

Every panel built here references a datasource *variable* (never a concrete uid), carries a
unit and an explicit thresholds config (a single neutral step when no level is meaningful, so
Grafana's default "red at 80" never shows up on a panel by accident).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import heatmap as heatmap_builders
from grafana_foundation_sdk.builders import (
    logs,
    loki,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import heatmap as heatmap_models
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from monitoring import dashboard_uids

# Datasource uids the infra engineer provisions; used as the variables' default values.
PROMETHEUS_UID = "prometheus"
LOKI_UID = "loki"

PROMETHEUS_VAR = "datasource"
LOKI_VAR = "loki"
PROMETHEUS = dm.DataSourceRef(type_val="prometheus", uid="${" + PROMETHEUS_VAR + "}")
LOKI = dm.DataSourceRef(type_val="loki", uid="${" + LOKI_VAR + "}")

# Label selector used by panels on dashboards with a `market` variable.
MARKET_VAR_SELECTOR = 'market=~"$market"'

GREEN, ORANGE, RED, BLUE = "green", "orange", "red", "blue"


# --- Thresholds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Levels:
    """Warning (and critical) levels of a panel: the numbers the alert rules fire on.

    `high_is_bad`: True for usage, latency and age (bad above the level); False for free space
    or success ratios (bad below the level). `critical` is None when only a warning exists.
    """

    warning: float
    critical: float | None = None
    high_is_bad: bool = True

    def __post_init__(self) -> None:
        if self.critical is None:
            return
        ordered = self.warning < self.critical if self.high_is_bad else self.warning > self.critical
        if not ordered:
            raise ValueError(
                f"Levels(warning={self.warning}, critical={self.critical}, "
                f"high_is_bad={self.high_is_bad}): the warning level must come before critical"
            )

    def steps(self) -> Steps:
        """Colour steps, lowest first: (from value, colour); the base step has value None."""
        if self.high_is_bad:
            steps: Steps = ((None, GREEN), (self.warning, ORANGE))
            return steps + (((self.critical, RED),) if self.critical is not None else ())
        if self.critical is None:
            return ((None, ORANGE), (self.warning, GREEN))
        return ((None, RED), (self.critical, ORANGE), (self.warning, GREEN))


# Explicit steps for panels whose colours are not an alert's levels: (from value, colour).
Steps = tuple[tuple[float | None, str], ...]
ANY_IS_BAD: Steps = ((None, GREEN), (1, RED))  # counts where one is already too many
NONZERO_RATE_IS_BAD: Steps = ((None, GREEN), (1e-6, RED))  # failures per second
ANY_IS_SUSPECT: Steps = ((None, GREEN), (1, ORANGE))
NEGATIVE_IS_BAD: Steps = ((None, RED), (0, GREEN))  # P&L


def thresholds(levels: Levels | Steps | None, base: str = GREEN) -> db.ThresholdsConfig:
    """Absolute thresholds for `levels`; one neutral step when there are none."""
    if levels is None:
        steps: Steps = ((None, base),)
    elif isinstance(levels, Levels):
        steps = levels.steps()
    else:
        steps = levels
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


def value_texts(mapping: dict[str, tuple[str, str]]) -> list[dm.ValueMapping]:
    """Value mappings, e.g. {"1": ("Open", "green"), "0": ("Closed", "blue")}."""
    return [
        dm.ValueMap(
            options={
                value: dm.ValueMappingResult(text=text, color=color, index=i)
                for i, (value, (text, color)) in enumerate(mapping.items())
            }
        )
    ]


UP_DOWN = value_texts({"1": ("Up", GREEN), "0": ("Down", RED)})
OPEN_CLOSED = value_texts({"1": ("Open", GREEN), "0": ("Closed", BLUE)})
OK_FAILED = value_texts({"1": ("OK", GREEN), "0": ("Failed", RED)})


# --- Variables ------------------------------------------------------------------------------


def _datasource_variable(name: str, label: str, kind: str, uid: str) -> db.DatasourceVariable:
    """A datasource picker of `kind`, preset to the provisioned datasource `uid`."""
    return (
        db.DatasourceVariable(name)
        .label(label)
        .type(kind)
        .current(dm.VariableOption(text=label, value=uid, selected=True))
        .allow_custom_value(False)
    )


def prometheus_variable() -> db.DatasourceVariable:
    return _datasource_variable(PROMETHEUS_VAR, "Prometheus", "prometheus", PROMETHEUS_UID)


def loki_variable() -> db.DatasourceVariable:
    return _datasource_variable(LOKI_VAR, "Loki", "loki", LOKI_UID)


def query_variable(
    name: str, label: str, query: str, datasource: dm.DataSourceRef = PROMETHEUS
) -> db.QueryVariable:
    """A multi-value variable with "All" selected, refreshed when the time range changes."""
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(datasource)
        .query(query)
        .multi(True)
        .include_all(True)
        .current(dm.VariableOption(text=["All"], value=["$__all"], selected=True))
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )


def market_variable() -> db.QueryVariable:
    return query_variable("market", "Market", "label_values(trading_market_open, market)")


Target = cogbuilder.Builder[cogvariants.Dataquery]

# --- Queries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Q:
    """One PromQL or LogQL query of a panel; `instant` queries are fetched as a table,
    `heatmap` ones as histogram buckets."""

    expr: str
    legend: str = ""
    instant: bool = False
    heatmap: bool = False


def _prometheus_targets(queries: Sequence[Q]) -> list[Target]:
    targets: list[Target] = []
    for index, q in enumerate(queries):
        target = (
            prometheus.Dataquery()
            .expr(q.expr)
            .ref_id(chr(ord("A") + index))
            .datasource(PROMETHEUS)
            .legend_format(q.legend or "__auto")
        )
        # Builders mutate themselves: pick one branch, never call both.
        if q.instant:
            targets.append(target.instant().format(PromQueryFormat.TABLE))
        elif q.heatmap:
            targets.append(target.format(PromQueryFormat.HEATMAP).range())
        else:
            targets.append(target.range())
    return targets


def _loki_targets(queries: Sequence[Q]) -> list[Target]:
    targets: list[Target] = []
    for index, q in enumerate(queries):
        target = loki.Dataquery().expr(q.expr).ref_id(chr(ord("A") + index)).datasource(LOKI)
        if q.legend:
            target = target.legend_format(q.legend)
        targets.append(target)
    return targets


Source = Literal["prometheus", "loki"]


def _targets(queries: Sequence[Q], source: Source) -> list[Target]:
    if not queries:
        raise ValueError("a panel needs at least one query")
    return _loki_targets(queries) if source == "loki" else _prometheus_targets(queries)


def _datasource(source: Source) -> dm.DataSourceRef:
    return LOKI if source == "loki" else PROMETHEUS


# --- Panels ---------------------------------------------------------------------------------


AnyPanel = TypeVar(
    "AnyPanel",
    timeseries.Panel,
    stat.Panel,
    statetimeline.Panel,
    table.Panel,
    heatmap_builders.Panel,
    logs.Panel,
)


def _frame(
    panel: AnyPanel,
    title: str,
    description: str,
    queries: Sequence[Q],
    width: int,
    height: int,
    source: Source = "prometheus",
) -> AnyPanel:
    """What every panel sets: title, description, datasource, queries and size."""
    return (
        panel.title(title)
        .description(description)
        .datasource(_datasource(source))
        .targets(_targets(queries, source))
        .span(width)
        .height(height)
    )


def graph(
    title: str,
    queries: Sequence[Q],
    unit: str,
    *,
    description: str = "",
    levels: Levels | Steps | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    stacked: bool = False,
    source: Source = "prometheus",
    width: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    """A time series; alert levels are drawn as dashed lines."""
    frame = _frame(timeseries.Panel(), title, description, queries, width, height, source)
    panel = (
        frame.unit(unit)
        .thresholds(thresholds(levels))
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    if levels is not None:
        panel = panel.thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
            )
        )
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if min_value is not None:
        panel = panel.min(min_value)
    if max_value is not None:
        panel = panel.max(max_value)
    return panel


def ratio_graph(
    title: str,
    queries: Sequence[Q],
    *,
    description: str = "",
    levels: Levels | Steps | None = None,
    width: int = 12,
) -> timeseries.Panel:
    """A share over time: unit percent, axis fixed from 0 to 1."""
    return graph(
        title,
        queries,
        "percentunit",
        description=description,
        levels=levels,
        min_value=0,
        max_value=1,
        width=width,
    )


def single(
    title: str,
    queries: Sequence[Q],
    unit: str,
    *,
    description: str = "",
    levels: Levels | Steps | None = None,
    mappings: list[dm.ValueMapping] | None = None,
    sparkline: bool = False,
    width: int = 6,
    height: int = 4,
) -> stat.Panel:
    """A stat showing the last value of each series, coloured by its thresholds."""
    frame = _frame(stat.Panel(), title, description, queries, width, height)
    panel = (
        frame.unit(unit)
        .thresholds(thresholds(levels))
        .color_mode(
            common.BigValueColorMode.BACKGROUND
            if levels or mappings
            else common.BigValueColorMode.VALUE
        )
        .graph_mode(common.BigValueGraphMode.AREA if sparkline else common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.AUTO)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if mappings:
        panel = panel.mappings(mappings)
    return panel


def states(
    title: str,
    queries: Sequence[Q],
    mappings: list[dm.ValueMapping],
    *,
    description: str = "",
    width: int = 12,
    height: int = 6,
) -> statetimeline.Panel:
    """A state timeline for 0/1 series (market sessions, targets up)."""
    frame = _frame(statetimeline.Panel(), title, description, queries, width, height)
    return (
        frame.unit("bool")
        .thresholds(thresholds(None))
        .mappings(mappings)
        .show_value(common.VisibilityMode.NEVER)
        .merge_values(True)
    )


def instant_table(
    title: str,
    queries: Sequence[Q],
    unit: str,
    *,
    description: str = "",
    levels: Levels | Steps | None = None,
    no_value: str = "No data",
    width: int = 12,
    height: int = 8,
) -> table.Panel:
    """A table of instant values: one row per series, a column per label and "Value"."""
    instant_queries = [Q(q.expr, q.legend, instant=True) for q in queries]
    frame = _frame(table.Panel(), title, description, instant_queries, width, height)
    return (
        frame.unit(unit)
        .no_value(no_value)
        .thresholds(thresholds(levels))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize", options={"excludeByName": {"Time": True, "__name__": True}}
            )
        )
        # Colour the value cells by the thresholds (the label columns stay plain).
        .override_by_name(
            "Value",
            [
                dm.DynamicConfigValue(
                    id_val="custom.cellOptions", value={"type": "color-background"}
                )
            ],
        )
    )


def histogram_heatmap(
    title: str,
    buckets_expr: str,
    axis_unit: str,
    *,
    description: str = "",
    width: int = 12,
    height: int = 8,
) -> heatmap_builders.Panel:
    """A heatmap of a Prometheus histogram: `buckets_expr` is a rate summed `by (le)`."""
    buckets = [Q(buckets_expr, "{{le}}", heatmap=True)]
    frame = _frame(heatmap_builders.Panel(), title, description, buckets, width, height)
    return (
        frame.unit("reqps")  # the cells: requests per second in the bucket
        .thresholds(thresholds(None))
        .calculate(False)
        .rows_frame(heatmap_builders.RowsHeatmapOptions().layout(common.HeatmapCellLayout.LE))
        .y_axis(heatmap_builders.YAxisConfig().unit(axis_unit))
        .color(
            heatmap_builders.HeatmapColorOptions()
            .mode(heatmap_models.HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .scale(heatmap_models.HeatmapColorScale.EXPONENTIAL)
            .exponent(0.5)
            .steps(64)  # Grafana's defaults; the SDK would write 0 steps and no fill
            .fill("dark-orange")
        )
    )


def log_lines(
    title: str, query: str, *, description: str = "", width: int = 24, height: int = 14
) -> logs.Panel:
    """Raw log lines from Loki (a logs panel has no unit)."""
    frame = _frame(logs.Panel(), title, description, [Q(query)], width, height, "loki")
    return (
        frame.show_time(True)
        .wrap_log_message(True)
        .enable_log_details(True)
        .sort_order(common.LogsSortOrder.DESCENDING)
    )


def row(title: str) -> db.Row:
    return db.Row(title)


# --- Links -----------------------------------------------------------------------------------

# Click a series labelled `market` to open that market's dashboard, keeping the time range.
MARKET_DASHBOARD_URL = (
    f"/d/{dashboard_uids.MARKET_PREFIX}${{__field.labels.market}}?${{__url_time_range}}"
)

LinkablePanel = TypeVar(
    "LinkablePanel", timeseries.Panel, stat.Panel, table.Panel, statetimeline.Panel
)


def with_market_link(panel: LinkablePanel) -> LinkablePanel:
    return panel.data_links([db.DashboardLink("Market dashboard").url(MARKET_DASHBOARD_URL)])
