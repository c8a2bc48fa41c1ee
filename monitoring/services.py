"""The user's own services (stack config `services`): typed model and validation, no Pulumi.

`parse_services(raw, market_codes)` turns the config list into `Service` objects or raises ONE
`validation.InvalidValue` naming the key, the value and what is allowed, before anything is
rendered or registered. Renderers live in `monitoring/service_rules.py` (scrape jobs, blackbox
modules, rules) and `dashboards/boards/service.py` (one dashboard per service).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import promql_parser

from monitoring.rules import CATEGORIES, SEVERITIES, Category, Severity
from validation import (
    InvalidValue,
    check_bool,
    check_host_port,
    check_keys,
    check_list,
    check_port,
    check_template_text,
    check_text,
    check_unique,
    check_url,
    duration_seconds,
    is_duration,
)

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,27}[a-z0-9])?$")  # uid "tm-service-<name>" <= 40
_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_ALERT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TEAM = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_URL = re.compile(r"^(http|https)://[A-Za-z0-9.-]+(:\d{1,5})?(/\S*)?$")
_K8S_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_PATH = re.compile(r"^/\S*$")

# Seconds per unit of a latency histogram; the threshold is converted into the metric's unit.
UNITS: dict[str, float] = {"seconds": 1.0, "milliseconds": 1e-3, "microseconds": 1e-6}
Unit = Literal["seconds", "milliseconds", "microseconds"]
T = TypeVar("T")
SERVICE_CATEGORY: Category = "service"  # default category of a service's own alerts


@dataclass(frozen=True)
class KubernetesDiscovery:
    namespace: str
    service: str
    port: str  # the Service's port name, or its number


@dataclass(frozen=True)
class ServiceMetrics:
    path: str = "/metrics"
    scheme: Literal["http", "https"] = "http"
    interval: str | None = None  # None: the global scrape interval
    targets: tuple[str, ...] = ()
    kubernetes: KubernetesDiscovery | None = None


@dataclass(frozen=True)
class Probe:
    name: str
    url: str | None = None  # HTTP(S) probe
    tcp: str | None = None  # TCP connect probe, host:port
    expect_status: tuple[int, ...] = ()  # empty: any 2xx
    expect_body: str | None = None  # regular expression the body must match

    @property
    def target(self) -> str:
        return self.url or self.tcp or ""


@dataclass(frozen=True)
class Counter:
    """A counter, or a selector on the requests counter (`selector` set, `metric` inherited)."""

    metric: str
    selector: str | None = None


@dataclass(frozen=True)
class Latency:
    metric: str  # histogram base name, e.g. investiq_request_duration_milliseconds
    unit: Unit
    threshold: str  # duration as written, e.g. "500ms"

    @property
    def bucket(self) -> float:
        """The threshold in the metric's own unit: the `le` bound counted as fast enough."""
        return round(duration_seconds("threshold", self.threshold) / UNITS[self.unit], 9)


@dataclass(frozen=True)
class ServiceSLO:
    requests: Counter
    errors: Counter | None = None
    latency: Latency | None = None
    availability: float | None = None  # percent, e.g. 99.9
    latency_objective: float | None = None  # percent of requests under the threshold
    window: str = "30d"
    market_hours_only: bool = False


@dataclass(frozen=True)
class ServicePanel:
    title: str
    expr: str
    unit: str = "short"


@dataclass(frozen=True)
class ServiceAlert:
    name: str
    expr: str
    severity: Severity
    summary: str
    description: str = ""
    for_: str = "0s"
    category: Category = SERVICE_CATEGORY
    runbook: str | None = None  # the team's runbook URL; default: OWN_ALERTS_RUNBOOK


@dataclass(frozen=True)
class Service:
    name: str
    market: str | None = None
    team: str | None = None
    metrics: ServiceMetrics | None = None
    probes: tuple[Probe, ...] = ()
    slo: ServiceSLO | None = None
    panels: tuple[ServicePanel, ...] = ()
    alerts: tuple[ServiceAlert, ...] = ()


# --- Reading raw config ---------------------------------------------------------------------


def _opt_str(key: str, value: object, pattern: re.Pattern[str] | None, allowed: str) -> str | None:
    return None if value is None else check_text(key, value, pattern, allowed)


def _opt_url(key: str, value: object) -> str | None:
    """An http(s) URL with a port 1-65535 (if any) and no template syntax (a runbook URL is
    an alert annotation, a probe URL a label value)."""
    url = _opt_str(key, value, _URL, "an http:// or https:// URL")
    if url is not None:
        check_url(key, url)
    return url


def duration(key: str, value: object, positive: bool = False) -> str:
    """A Prometheus duration within Go's time.Duration; with `positive`, longer than 0."""
    if not is_duration(value):
        raise InvalidValue(key, value, 'a Prometheus duration such as "500ms", "15s", "30d"')
    duration_seconds(key, value, positive)
    assert isinstance(value, str)
    return value


def check_promql(key: str, value: object) -> str:
    """Parse (not grep) a PromQL expression; the error names the key and the expression."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(key, value, "a PromQL expression")
    try:
        promql_parser.parse(value)
    except ValueError as error:
        raise InvalidValue(key, value, f"a PromQL expression that parses ({error})") from None
    return value


def _metric(key: str, value: object) -> str:
    return check_text(key, value, _METRIC, "a Prometheus metric name")


def _percent(key: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 100:
        raise InvalidValue(key, value, "a percentage strictly between 0 and 100, e.g. 99.9")
    return float(value)


def _items(key: str, raw: object, parse: Callable[[str, object], T]) -> tuple[T, ...]:
    return tuple(parse(f"{key}[{i}]", item) for i, item in enumerate(check_list(key, raw)))


def _metrics(key: str, raw: object) -> ServiceMetrics:
    m = check_keys(key, raw, ("path", "scheme", "interval", "targets", "kubernetes"))
    scheme = m.get("scheme", "http")
    if scheme not in ("http", "https"):
        raise InvalidValue(f"{key}.scheme", scheme, "http or https")
    targets = tuple(
        check_host_port(f"{key}.targets[{i}]", t)
        for i, t in enumerate(check_list(f"{key}.targets", m.get("targets")))
    )
    kubernetes = None
    if m.get("kubernetes") is not None:
        k = check_keys(f"{key}.kubernetes", m["kubernetes"], ("namespace", "service", "port"))
        port = k.get("port")
        kk = f"{key}.kubernetes"
        if isinstance(port, int) and not isinstance(port, bool):
            port = str(check_port(f"{kk}.port", port))
        elif isinstance(port, str) and port.isdigit():  # a number, not a port name
            check_port(f"{kk}.port", int(port))
        kubernetes = KubernetesDiscovery(
            namespace=check_text(
                f"{kk}.namespace", k.get("namespace"), _K8S_NAME, "a namespace name"
            ),
            service=check_text(f"{kk}.service", k.get("service"), _K8S_NAME, "a Service name"),
            port=check_text(f"{kk}.port", port, _K8S_NAME, "the Service port's name or number"),
        )
    if bool(targets) == (kubernetes is not None):
        raise InvalidValue(
            f"{key}.targets", list(targets), "either static targets or kubernetes discovery"
        )
    return ServiceMetrics(
        path=check_text(f"{key}.path", m.get("path", "/metrics"), _PATH, "a path starting with /"),
        scheme=scheme,
        interval=None
        if m.get("interval") is None
        else duration(f"{key}.interval", m["interval"], positive=True),
        targets=targets,
        kubernetes=kubernetes,
    )


def _probe(key: str, raw: object) -> Probe:
    p = check_keys(key, raw, ("name", "url", "tcp", "expectStatus", "expectBody"))
    name = check_text(f"{key}.name", p.get("name"), _NAME, "lowercase letters, digits and -")
    url = _opt_url(f"{key}.url", p.get("url"))
    tcp = None if p.get("tcp") is None else check_host_port(f"{key}.tcp", p.get("tcp"))
    if url and tcp:
        raise InvalidValue(f"{key}.tcp", tcp, "either url or tcp in one probe, not both")
    if not url and not tcp:
        raise InvalidValue(f"{key}.url", None, "a url (HTTP probe) or tcp (TCP connect probe)")
    statuses = check_list(f"{key}.expectStatus", p.get("expectStatus"))
    for i, status in enumerate(statuses):
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise InvalidValue(f"{key}.expectStatus[{i}]", status, "an HTTP status code 100-599")
    body = p.get("expectBody")
    if body is not None:
        try:
            re.compile(check_text(f"{key}.expectBody", body, None, "a regular expression"))
        except re.error as error:
            raise InvalidValue(
                f"{key}.expectBody", body, f"a regular expression ({error})"
            ) from None
    if tcp and (statuses or body is not None):
        raise InvalidValue(
            f"{key}.expectStatus", statuses or body, "status and body checks on url only"
        )
    return Probe(name, url, tcp, tuple(statuses), body)


def _counter(key: str, raw: object, requests: str | None) -> Counter:
    c = check_keys(key, raw, ("metric", "selector"))
    selector = c.get("selector")
    if selector is not None:
        if requests is None or c.get("metric") is not None:
            raise InvalidValue(
                f"{key}.selector", selector, "a selector on the requests metric only"
            )
        check_text(f"{key}.selector", selector, None, "a label matcher list")
        check_promql(f"{key}.selector", f"{requests}{{{selector}}}")
        return Counter(requests, selector)
    return Counter(_metric(f"{key}.metric", c.get("metric")))


def _latency(key: str, raw: object) -> Latency:
    lat = check_keys(key, raw, ("metric", "unit", "threshold"))
    metric = _metric(f"{key}.metric", lat.get("metric"))
    unit = lat.get("unit", "seconds")
    if unit not in UNITS:
        raise InvalidValue(f"{key}.unit", unit, f"one of {', '.join(UNITS)}")
    suffix = next((u for u in UNITS if metric.endswith(f"_{u}")), None)
    if suffix is not None and suffix != unit:
        raise InvalidValue(
            f"{key}.unit", unit, f"{suffix}, the unit the metric name {metric} states"
        )
    threshold = duration(f"{key}.threshold", lat.get("threshold"))
    latency = Latency(metric, unit, threshold)
    bucket = latency.bucket
    if (
        not (math.isfinite(bucket) and bucket > 0)
        or abs(bucket * UNITS[unit] - duration_seconds("threshold", threshold)) > 1e-12
    ):
        raise InvalidValue(f"{key}.threshold", threshold, f"a positive bucket bound in {unit}")
    return latency


def _slo(key: str, raw: object) -> ServiceSLO:
    s = check_keys(
        key, raw, ("requests", "errors", "latency", "objectives", "window", "marketHoursOnly")
    )
    requests = _counter(f"{key}.requests", s.get("requests"), None)
    errors = (
        None if s.get("errors") is None else _counter(f"{key}.errors", s["errors"], requests.metric)
    )
    latency = None if s.get("latency") is None else _latency(f"{key}.latency", s["latency"])
    o = check_keys(f"{key}.objectives", s.get("objectives") or {}, ("availability", "latency"))
    availability = _percent(f"{key}.objectives.availability", o.get("availability"))
    latency_objective = _percent(f"{key}.objectives.latency", o.get("latency"))
    if availability is not None and errors is None:
        raise InvalidValue(f"{key}.errors", None, "an errors counter or selector for availability")
    if errors is not None and availability is None:
        raise InvalidValue(
            f"{key}.objectives.availability", None, "a percentage when errors is set"
        )
    if (latency is None) != (latency_objective is None):
        raise InvalidValue(
            f"{key}.objectives.latency", latency_objective, "set with latency: both or neither"
        )
    if availability is None and latency_objective is None:
        raise InvalidValue(f"{key}.objectives", dict(o), "an availability and/or latency objective")
    window = duration(f"{key}.window", s.get("window", "30d"))
    if not 86400 <= duration_seconds("window", window) <= 90 * 86400:
        raise InvalidValue(f"{key}.window", window, "a window from 1d to 90d, e.g. 30d")
    return ServiceSLO(
        requests,
        errors,
        latency,
        availability,
        latency_objective,
        window,
        check_bool(f"{key}.marketHoursOnly", s.get("marketHoursOnly"), False),
    )


def _panel(key: str, raw: object) -> ServicePanel:
    p = check_keys(key, raw, ("title", "expr", "unit"))
    return ServicePanel(
        check_text(f"{key}.title", p.get("title"), re.compile(r"^\S.*$"), "a non-empty title"),
        check_promql(f"{key}.expr", p.get("expr")),
        check_text(
            f"{key}.unit", p.get("unit", "short"), re.compile(r"^\S+$"), "a Grafana unit id"
        ),
    )


def _category(key: str, value: object) -> Category:
    for category in CATEGORIES:
        if value == category:
            return category
    raise InvalidValue(key, value, f"one of {', '.join(CATEGORIES)}")


def _alert(key: str, raw: object) -> ServiceAlert:
    fields = ("name", "expr", "for", "severity", "summary", "description", "category", "runbook")
    a = check_keys(key, raw, fields)
    severity = a.get("severity")
    if severity not in SEVERITIES:
        raise InvalidValue(f"{key}.severity", severity, f"one of {', '.join(SEVERITIES)}")
    summary = check_text(
        f"{key}.summary", a.get("summary"), re.compile(r"^\S.*$"), "one line of text"
    )
    check_template_text(f"{key}.summary", summary)
    return ServiceAlert(
        name=check_text(
            f"{key}.name", a.get("name"), _ALERT_NAME, "an alert name such as HighErrors"
        ),
        expr=check_promql(f"{key}.expr", a.get("expr")),
        severity=severity,
        summary=summary,
        description=check_template_text(
            f"{key}.description",
            check_text(f"{key}.description", a.get("description", summary), None, "text"),
        ),
        for_=duration(f"{key}.for", a.get("for", "0s")),
        category=_category(f"{key}.category", a.get("category", SERVICE_CATEGORY)),
        runbook=_opt_url(f"{key}.runbook", a.get("runbook")),
    )


SERVICE_FIELDS = ("name", "market", "team", "metrics", "probes", "slo", "panels", "alerts")


def parse_service(key: str, raw: object, market_codes: Sequence[str]) -> Service:
    s = check_keys(key, raw, SERVICE_FIELDS)
    name = check_text(
        f"{key}.name", s.get("name"), _NAME, "1-29 of a-z, 0-9 and - (not at the ends)"
    )
    market = s.get("market")
    if market is not None and market not in market_codes:
        raise InvalidValue(
            f"{key}.market", market, f"a configured market: {', '.join(market_codes)}"
        )
    team = _opt_str(f"{key}.team", s.get("team"), _TEAM, "lowercase letters, digits, _ and -")
    metrics = None if s.get("metrics") is None else _metrics(f"{key}.metrics", s["metrics"])
    probes = _items(f"{key}.probes", s.get("probes"), _probe)
    check_unique(f"{key}.probes[].name", [p.name for p in probes], "probe names")
    slo = None if s.get("slo") is None else _slo(f"{key}.slo", s["slo"])
    if slo is not None and metrics is None:
        raise InvalidValue(
            f"{key}.slo", "set", "only with metrics (the SLIs read the scraped metrics)"
        )
    if slo is not None and slo.market_hours_only and market is None:
        raise InvalidValue(f"{key}.slo.marketHoursOnly", True, "only with the service's market set")
    panels = _items(f"{key}.panels", s.get("panels"), _panel)
    alerts = _items(f"{key}.alerts", s.get("alerts"), _alert)
    if metrics is None and not probes:
        raise InvalidValue(key, name, "a service with metrics, probes or both")
    return Service(name, market, team, metrics, probes, slo, panels, alerts)


def parse_services(raw: object, market_codes: Sequence[str]) -> tuple[Service, ...]:
    """The `services` list, validated; the first bad value raises `InvalidValue`."""
    services = tuple(
        parse_service(f"services[{i}]", s, market_codes)
        for i, s in enumerate(check_list("services", raw))
    )
    check_unique("services[].name", [s.name for s in services], "service names")
    return services
