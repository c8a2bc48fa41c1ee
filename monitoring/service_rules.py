"""Content generated from `services`: scrape jobs, blackbox modules, SLO and alert rules.

Every generated series carries the target labels `service` (and `market`, `team` when set), so
one alert template serves every service and routing or inhibition can match on them. SLOs
reuse `monitoring/slo.py` (the same recording rules and burn-rate alerts as ours, labelled
`slo="<service>-availability"` / `"<service>-latency"`).
"""

from __future__ import annotations

from typing import Any

from monitoring import dashboard_uids
from monitoring.rules import AlertRule, RecordingRule, RuleGroup, Severity, num
from monitoring.services import Counter, Latency, Probe, Service, ServiceSLO
from monitoring.settings import ContentSettings
from monitoring.slo import SLO, WINDOW_PLACEHOLDER, slo_groups
from monitoring.thresholds import ServiceThresholds
from validation import duration_seconds

PROBE_JOB = "probe"  # one job for every probe, through the blackbox exporter's /probe
RULE_FILE = "services.yml"
PROBE_ALERTS = ("ServiceProbeFailing", "ServiceProbeSlow", "ServiceTLSCertExpiring")
SLO_ALERTS = ("ServiceAvailabilityBudgetBurn", "ServiceLatencyBudgetBurn")
# Runbook section of the services' own alerts that name no `runbook` of their own.
OWN_ALERTS_ANCHOR = "your-services-own-alerts"
# What a blackbox probe exposes (the metric contract accepts these in service content).
BLACKBOX_METRICS = frozenset(
    {
        "probe_success",
        "probe_duration_seconds",
        "probe_http_status_code",
        "probe_ssl_earliest_cert_expiry",
    }
)


def _seconds(value: str) -> float:
    return duration_seconds("interval", value)


def job_name(service: Service) -> str:
    return f"service-{service.name}"


def module_name(service: Service, probe: Probe) -> str:
    return f"{service.name}_{probe.name}"


def target_labels(service: Service) -> dict[str, str]:
    labels = {"service": service.name}
    if service.market:
        labels["market"] = service.market
    if service.team:
        labels["team"] = service.team
    return labels


# --- Scrape ---------------------------------------------------------------------------------


def _kubernetes_sd(service: Service) -> dict[str, Any]:
    """Endpoints of one Service in one namespace, one port (by name, or number)."""
    assert service.metrics is not None and service.metrics.kubernetes is not None
    k = service.metrics.kubernetes
    if k.port.isdigit():
        port_keep = {"source_labels": ["__address__"], "regex": f".+:{k.port}"}
    else:
        port_keep = {"source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": k.port}
    fixed = [
        {"target_label": name, "replacement": value}
        for name, value in target_labels(service).items()
    ]
    return {
        "kubernetes_sd_configs": [{"role": "endpoints", "namespaces": {"names": [k.namespace]}}],
        "relabel_configs": [
            {
                "source_labels": ["__meta_kubernetes_service_name"],
                "regex": k.service,
                "action": "keep",
            },
            {**port_keep, "action": "keep"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            *fixed,
        ],
    }


def metrics_job(settings: ContentSettings, service: Service) -> dict[str, Any]:
    """The service's scrape job. A scraped label that clashes with a target label (`market`,
    `service`, `team`) is kept as `exported_<name>` (honor_labels false)."""
    m = service.metrics
    assert m is not None
    job: dict[str, Any] = {
        "job_name": job_name(service),
        "honor_labels": False,
        "metrics_path": m.path,
        "scheme": m.scheme,
    }
    if m.interval:
        job["scrape_interval"] = m.interval
        if duration_seconds("interval", m.interval) < duration_seconds(
            "interval", settings.scrape_timeout
        ):
            job["scrape_timeout"] = m.interval
    if m.kubernetes is not None:
        job.update(_kubernetes_sd(service))
    else:
        job["static_configs"] = [{"targets": list(m.targets), "labels": target_labels(service)}]
    return job


def probe_job(services: tuple[Service, ...], blackbox_address: str) -> dict[str, Any] | None:
    """Every probe through the blackbox exporter: /probe?target=<url>&module=<module>."""
    static = [
        {
            "targets": [probe.target],
            "labels": {
                **target_labels(service),
                "probe": probe.name,
                "__param_module": module_name(service, probe),
            },
        }
        for service in services
        for probe in service.probes
    ]
    if not static:
        return None
    return {
        "job_name": PROBE_JOB,
        "metrics_path": "/probe",
        "static_configs": static,
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": blackbox_address},
        ],
    }


def service_scrape_configs(
    settings: ContentSettings, services: tuple[Service, ...], blackbox_address: str
) -> list[dict[str, Any]]:
    jobs = [metrics_job(settings, s) for s in services if s.metrics is not None]
    probes = probe_job(services, blackbox_address)
    return jobs + ([probes] if probes else [])


# --- Blackbox exporter ----------------------------------------------------------------------


def _module(probe: Probe, timeout: str) -> dict[str, Any]:
    if probe.tcp:
        return {"prober": "tcp", "timeout": timeout, "tcp": {"preferred_ip_protocol": "ip4"}}
    http: dict[str, Any] = {"preferred_ip_protocol": "ip4"}
    if probe.expect_status:
        http["valid_status_codes"] = list(probe.expect_status)
    if probe.expect_body is not None:
        http["fail_if_body_not_matches_regexp"] = [probe.expect_body]
    if probe.url and probe.url.startswith("https://"):
        # TLS is verified against the system CAs; a plain-HTTP answer fails the probe.
        http["fail_if_not_ssl"] = True
        http["tls_config"] = {"insecure_skip_verify": False}
    return {"prober": "http", "timeout": timeout, "http": http}


def blackbox_config(
    services: tuple[Service, ...], thresholds: ServiceThresholds | None = None
) -> dict[str, Any]:
    timeout = (thresholds or ServiceThresholds()).probe_timeout
    return {
        "modules": {
            module_name(service, probe): _module(probe, timeout)
            for service in services
            for probe in service.probes
        }
    }


# --- SLOs -----------------------------------------------------------------------------------


def _le(bucket: float) -> str:
    """A regex for the `le` label of a bound: Go clients write 500, Python clients and
    Prometheus 3 (which normalises `le`) 500.0."""
    text = f"{bucket:.9g}"
    if "e" in text or "." in text:
        return text.replace(".", "\\\\.")
    return f"{text}|{text}\\\\.0"


def _increase(metric: str, sel: str, window: str, fn: str = "increase") -> str:
    return f"sum by (service) ({fn}({metric}{{{sel}}}[{window}]))"


def _queries(
    service: Service, slo: ServiceSLO, kind: str, window: str, fn: str = "increase"
) -> tuple[str, str]:
    """(errors, events) over `window` for the availability or latency SLI."""
    sel = f'service="{service.name}"'
    if kind == "availability":
        events = _increase(slo.requests.metric, sel, window, fn)
        errors_counter: Counter | None = slo.errors
        assert errors_counter is not None
        err_sel = f"{sel}, {errors_counter.selector}" if errors_counter.selector else sel
        return _increase(errors_counter.metric, err_sel, window, fn), events
    latency: Latency | None = slo.latency
    assert latency is not None
    events = _increase(f"{latency.metric}_count", sel, window, fn)
    fast = _increase(f"{latency.metric}_bucket", f'{sel}, le=~"{_le(latency.bucket)}"', window, fn)
    return f"{events} - {fast}", events


def _market_hours_inputs(
    service: Service, slo: ServiceSLO, kind: str, name: str, rate_window: str
) -> tuple[tuple[RecordingRule, ...], str, str]:
    """Per-second errors and events recorded only while the market is open, and the SLO
    queries summing them over `$window`: closed time neither burns nor earns budget."""
    open_now = f'max(trading_market_open{{market="{service.market}"}}) == 1'
    errors, events = _queries(service, slo, kind, rate_window, fn="rate")
    label = (("slo", name),)
    rules = (
        RecordingRule("service:slo_errors:rate_open", f"({errors}) and on () ({open_now})", label),
        RecordingRule("service:slo_events:rate_open", f"({events}) and on () ({open_now})", label),
    )
    sel = f'{{slo="{name}"}}'
    return (
        rules,
        f"sum by (service) (sum_over_time(service:slo_errors:rate_open{sel}[$window]))",
        f"sum by (service) (sum_over_time(service:slo_events:rate_open{sel}[$window]))",
    )


def service_slos(
    settings: ContentSettings, service: Service, thresholds: ServiceThresholds | None = None
) -> tuple[SLO, ...]:
    burn_windows = (thresholds or ServiceThresholds()).burn_rate_windows
    slo = service.slo
    if slo is None:
        return ()
    assert service.metrics is not None
    interval = service.metrics.interval or settings.scrape_interval
    rate_window = f"{int(4 * duration_seconds('interval', interval))}s"  # four scrapes
    labels = tuple((k, v) for k, v in target_labels(service).items())
    kinds = [
        (kind, objective)
        for kind, objective in (
            ("availability", slo.availability),
            ("latency", slo.latency_objective),
        )
        if objective is not None
    ]
    out: list[SLO] = []
    for kind, objective in kinds:
        name = f"{service.name}-{kind}"
        if slo.market_hours_only:
            inputs, errors, events = _market_hours_inputs(service, slo, kind, name, rate_window)
        else:
            inputs = ()
            errors, events = _queries(service, slo, kind, WINDOW_PLACEHOLDER)
        title = kind.capitalize()
        if kind == "latency" and slo.latency is not None:
            title += f" (under {slo.latency.threshold})"
        out.append(
            SLO(
                name=name,
                alert_name=f"Service{kind.capitalize()}BudgetBurn",
                title=title,
                objective=round(objective / 100, 10),
                errors_query=errors,
                events_query=events,
                dashboard_uid=dashboard_uids.service_uid(service.name),
                inputs=inputs,
                period=slo.window,
                scope=f"service {service.name}",
                labels=labels,
                burn_windows=burn_windows,
            )
        )
    return tuple(out)


# --- Alerts ---------------------------------------------------------------------------------

SERVICE_DASHBOARD = dashboard_uids.service_uid("{{ $labels.service }}")


def probe_alerts(t: ServiceThresholds) -> tuple[AlertRule, ...]:
    """One template for every probe of every service (labels come from the probe target)."""
    which = "Probe {{ $labels.probe }} of service {{ $labels.service }}"
    rules = [
        AlertRule(
            name="ServiceProbeFailing",
            expr=f'probe_success{{job="{PROBE_JOB}"}} == 0',
            for_=t.probe_failing_for,
            severity="critical",
            category="probe",
            summary=f"{which} is failing",
            description=(
                "The blackbox probe of {{ $labels.instance }} fails (down, refused, wrong"
                " status or body, or TLS error)."
            ),
            dashboard_uid=SERVICE_DASHBOARD,
        ),
        AlertRule(
            name="ServiceProbeSlow",
            expr=f'probe_duration_seconds{{job="{PROBE_JOB}"}} > {num(t.probe_slow_seconds)}',
            for_=t.probe_slow_for,
            severity="warning",
            category="probe",
            summary=f"{which} is slow",
            description=(
                "The probe of {{ $labels.instance }} takes {{ $value | humanizeDuration }}"
                f" (limit {num(t.probe_slow_seconds)}s)."
            ),
            dashboard_uid=SERVICE_DASHBOARD,
        ),
    ]
    levels: tuple[tuple[Severity, float], ...] = (
        ("warning", t.tls_expiry_warning_days),
        ("critical", t.tls_expiry_critical_days),
    )
    for severity, days in levels:
        rules.append(
            AlertRule(
                name="ServiceTLSCertExpiring",
                expr=(
                    f'(probe_ssl_earliest_cert_expiry{{job="{PROBE_JOB}"}} - time()) / 86400'
                    f" < {num(days)}"
                ),
                for_=t.tls_expiry_for,
                severity=severity,
                category="probe",
                summary=f"TLS certificate of {{{{ $labels.instance }}}} expires in {num(days)}d",
                description=(
                    "The earliest certificate served by {{ $labels.instance }} (service"
                    " {{ $labels.service }}) expires in {{ $value | humanize }} days"
                    f" (limit {num(days)})."
                ),
                dashboard_uid=SERVICE_DASHBOARD,
            )
        )
    return tuple(rules)


def own_alerts(settings: ContentSettings, service: Service) -> tuple[AlertRule, ...]:
    labels = tuple(target_labels(service).items())
    return tuple(
        AlertRule(
            name=a.name,
            expr=a.expr,
            severity=a.severity,
            category=a.category,
            summary=a.summary,
            description=a.description,
            dashboard_uid=dashboard_uids.service_uid(service.name),
            for_=a.for_,
            labels=labels,
            runbook=a.runbook or f"{settings.runbook_base_url}#{OWN_ALERTS_ANCHOR}",
        )
        for a in service.alerts
    )


def service_rule_groups(
    settings: ContentSettings,
    services: tuple[Service, ...],
    thresholds: ServiceThresholds | None = None,
) -> tuple[RuleGroup, ...]:
    t = thresholds or ServiceThresholds()
    groups: list[RuleGroup] = []
    if any(s.probes for s in services):
        groups.append(RuleGroup("service-probes", RULE_FILE, probe_alerts(t)))
    for service in services:
        for slo in service_slos(settings, service, t):
            groups += slo_groups(slo, settings.thresholds.slo_period_interval, RULE_FILE)
        if service.alerts:
            groups.append(
                RuleGroup(f"service-{service.name}", RULE_FILE, own_alerts(settings, service))
            )
    return tuple(groups)
