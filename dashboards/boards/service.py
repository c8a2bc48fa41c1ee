"""tm-service-<name>: one dashboard per user service, all from this one template.

Targets up, request rate, error ratio, latency p50/p95/p99 (in the histogram's own unit), probe
success and duration, TLS expiry, SLO budget and burn rates, then the service's own `panels`.
Sections without config (no SLO, no probes) are left out.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import sections
from dashboards.layout import encode, new_dashboard
from dashboards.model import Dashboard, Folder
from dashboards.panels import ANY_IS_BAD, OK_FAILED, Levels, Q, graph, prometheus_variable, row
from dashboards.panels import single as stat_panel
from monitoring import dashboard_uids
from monitoring.service_rules import PROBE_JOB, job_name, service_slos
from monitoring.services import Service
from monitoring.settings import ContentSettings
from monitoring.thresholds import ServiceThresholds

Item = db.Row | cogbuilder.Builder[dm.Panel]
SERVICES_FOLDER = Folder("tm-folder-services", "Services")
CUSTOM_FOLDER = Folder("tm-folder-custom", "Custom")  # `dashboards.files`
SERVICE_TAG = "service"
RATE = "$__rate_interval"
# Grafana unit ids of the latency histograms' units.
GRAFANA_UNITS = {"seconds": "s", "milliseconds": "ms", "microseconds": "µs"}


def services_link() -> db.DashboardLink:
    """A "Services" drop-down of every service dashboard (on the overview)."""
    return (
        db.DashboardLink("Services")
        .type(dm.DashboardLinkType.DASHBOARDS)
        .tags([SERVICE_TAG])
        .as_dropdown(True)
        .include_vars(False)
        .keep_time(True)
    )


def _rate(metric: str, sel: str) -> str:
    return f"sum(rate({metric}{{{sel}}}[{RATE}]))"


def _traffic(service: Service, sel: str) -> list[Item]:
    slo = service.slo
    assert slo is not None
    panels: list[Item] = [
        graph(
            "Request rate",
            [Q(_rate(slo.requests.metric, sel), "requests/s")],
            "reqps",
            description=f"rate({slo.requests.metric}) over all targets.",
            min_value=0,
            width=8,
        )
    ]
    if slo.errors is not None:
        err_sel = f"{sel}, {slo.errors.selector}" if slo.errors.selector else sel
        availability = slo.availability or 99.0
        panels.append(
            graph(
                "Error ratio",
                [Q(f"{_rate(slo.errors.metric, err_sel)} / {_rate(slo.requests.metric, sel)}")],
                "percentunit",
                description="Errors / requests; the line is the availability SLO's budget.",
                levels=Levels(round(1 - availability / 100, 10)),
                min_value=0,
                width=8,
            )
        )
    if slo.latency is not None:
        lat = slo.latency
        buckets = f"sum by (le) (rate({lat.metric}_bucket{{{sel}}}[{RATE}]))"
        quantiles = [
            Q(f"histogram_quantile({q}, {buckets})", f"p{round(q * 100)}")
            for q in (0.5, 0.95, 0.99)
        ]
        panels.append(
            graph(
                "Latency p50 / p95 / p99",
                quantiles,
                GRAFANA_UNITS[lat.unit],
                description=f"From {lat.metric} ({lat.unit}); the line is the SLO threshold.",
                levels=Levels(lat.bucket),
                min_value=0,
                width=8,
            )
        )
    return panels


def _probes(service: Service, t: ServiceThresholds) -> list[Item]:
    sel = f'job="{PROBE_JOB}", service="{service.name}"'
    panels: list[Item] = [
        row("Probes"),
        stat_panel(
            "Probe success",
            [Q(f"probe_success{{{sel}}}", "{{probe}}")],
            "none",
            description="1 when the last blackbox probe passed every check.",
            mappings=OK_FAILED,
            width=8,
            height=8,
        ),
        graph(
            "Probe duration",
            [Q(f"probe_duration_seconds{{{sel}}}", "{{probe}}")],
            "s",
            description="Whole probe: DNS, connect, TLS, request and body.",
            levels=Levels(t.probe_slow_seconds),
            min_value=0,
            width=8,
        ),
    ]
    if any(p.url and p.url.startswith("https://") for p in service.probes):
        panels.append(
            stat_panel(
                "TLS certificate expires in",
                [Q(f"probe_ssl_earliest_cert_expiry{{{sel}}} - time()", "{{probe}}")],
                "dtdurations",
                description="Earliest expiry in the chain served to the HTTPS probes.",
                levels=Levels(
                    t.tls_expiry_warning_days * 86400,
                    t.tls_expiry_critical_days * 86400,
                    high_is_bad=False,
                ),
                width=8,
                height=8,
            )
        )
    return panels


def service_dashboard(
    settings: ContentSettings, service: Service, thresholds: ServiceThresholds | None = None
) -> db.Dashboard:
    t = thresholds or ServiceThresholds()
    sel = f'service="{service.name}"'
    who = ", ".join(
        f"{k} {v}" for k, v in (("market", service.market), ("team", service.team)) if v
    )
    builder = new_dashboard(
        dashboard_uids.service_uid(service.name),
        f"Service: {service.name}",
        f"The user service {service.name}{f' ({who})' if who else ''}, from `services`.",
        [SERVICE_TAG],
        [prometheus_variable()],
    )
    panels: list[Item] = []
    if service.metrics is not None:
        panels += [
            row("Health and traffic"),
            stat_panel(
                "Targets up",
                [Q(f'sum(up{{job="{job_name(service)}"}})')],
                "short",
                description="Scrape targets of the service answering now.",
                width=4,
                height=8,
            ),
            stat_panel(
                "Targets down",
                [Q(f'count(up{{job="{job_name(service)}"}} == 0) or vector(0)')],
                "short",
                description="Scrape targets whose last scrape failed (TargetDown fires).",
                levels=ANY_IS_BAD,
                width=4,
                height=8,
            ),
        ]
        if service.slo is not None:
            panels += _traffic(service, sel)
    if service.probes:
        panels += _probes(service, t)
    for slo in service_slos(settings, service, t):
        panels += [row(f"SLO: {slo.title}"), *sections.slo_panels(slo, sel)]
    if service.panels:
        panels.append(row("Service panels"))
        panels += [graph(p.title, [Q(p.expr)], p.unit, width=12) for p in service.panels]
    for panel in panels:
        if isinstance(panel, db.Row):
            builder = builder.with_row(panel)
        else:
            builder = builder.with_panel(panel)
    return builder


def service_dashboards(
    settings: ContentSettings,
    services: tuple[Service, ...],
    thresholds: ServiceThresholds | None = None,
) -> list[Dashboard]:
    """One dashboard per service, in the Services folder."""
    dashboards = []
    for service in services:
        model = encode(service_dashboard(settings, service, thresholds))
        dashboards.append(
            Dashboard(str(model["uid"]), str(model["title"]), SERVICES_FOLDER.uid, model)
        )
    return dashboards
