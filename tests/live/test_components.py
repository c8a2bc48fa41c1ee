"""PostgreSQL, Redis and NGINX with their real exporters, started from our rendered commands and
secret files, scraped and alerted on by the real Prometheus and Alertmanager.

Faults are real: PostgreSQL and NGINX are stopped and restarted, two transactions deadlock,
Redis is filled past maxmemory (allkeys-lru) and its maxclients is exhausted. The exporters'
/metrics are captured to files in the run, and every metric the component rules and dashboards
name must be in them.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboards import (
    Dashboard,
    all_selected_values,
    build_dashboards,
    expand_variables,
    panel_queries,
)
from monitoring.dashboard_uids import component_uid
from monitoring.rules import AlertRule
from monitoring.thirdparty.rules import component_rule_groups
from tests.live.components import (
    CACHE,
    COMPONENT_TIMINGS,
    DB_PASSWORD,
    EDGE,
    PRIMARY,
    REDIS_PASSWORD,
    ComponentStack,
    missing_binaries,
)
from tests.live.conftest import REQUIRED_BINARIES
from tests.live.harness import WEBHOOK_PATH
from tests.live.processes import sigterm_unwinds, wait_until
from tests.monitoring.test_metric_contract import metric_names

pytestmark = pytest.mark.live

DELIVERY_TIMEOUT = 40.0
# Written by Prometheus itself for every target and every alert, not by an exporter.
PROMETHEUS_OWN = frozenset({"up", "ALERTS"})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComponentStack]:
    missing = [b for b in REQUIRED_BINARIES if shutil.which(b) is None] + missing_binaries()
    if missing:
        pytest.fail(f"the live test needs {', '.join(missing)}: run `make tools`")
    started = ComponentStack(tmp_path_factory.mktemp("components"), COMPONENT_TIMINGS)
    with sigterm_unwinds(), started:
        yield started
        if started.feeder.error is not None:
            raise started.feeder.error


def component_dashboards(stack: ComponentStack) -> list[Dashboard]:
    uids = {component_uid(kind) for kind in stack.components.kinds}
    return [d for d in build_dashboards(stack.settings) if d.uid in uids]


def _exposed_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


def _captured(stack: ComponentStack) -> dict[str, str]:
    """Each exporter's /metrics once all of them see their server (files in the run dir)."""

    def all_up() -> bool | None:
        up = stack.query("pg_up == 1 or redis_up == 1 or nginx_up == 1")
        return True if len(up) == 4 else None

    wait_until(all_up, 30, "every component exporter to report its server up")
    return stack.capture_metrics()


def test_every_component_metric_is_exposed_by_the_real_exporters(stack: ComponentStack) -> None:
    captured = _captured(stack)
    assert sorted(p.name for p in stack.metrics_dir.iterdir()) == [
        "nginx-edge.prom",
        "postgres-trading-db.prom",
        "postgres-trading-replica.prom",
        "redis-cache.prom",
    ]
    exposed = set().union(*(_exposed_names(text) for text in captured.values()))
    used: dict[str, set[str]] = {}
    for group in component_rule_groups(stack.components, stack.component_thresholds):
        for rule in group.rules:
            assert isinstance(rule, AlertRule)
            used[f"rule {rule.name}"] = metric_names(rule.expr)
    for dashboard in component_dashboards(stack):
        values = all_selected_values(dashboard.model)
        for query in panel_queries(dashboard.model):
            used[f"{dashboard.uid} {query.panel_title}"] = metric_names(
                expand_variables(query.expr, values)
            )
    assert len(used) > 40
    missing = {
        where: sorted(names - exposed - PROMETHEUS_OWN)
        for where, names in used.items()
        if names - exposed - PROMETHEUS_OWN
    }
    assert not missing, f"metrics the real exporters do not expose: {missing}"


def test_no_password_in_rendered_files_or_command_lines(stack: ComponentStack) -> None:
    rendered = [
        stack.prometheus_config(),
        stack.alertmanager_config(),
        *stack.rule_files().values(),
    ]
    argvs = [" ".join(p.argv) for p in stack.exporters.values()]
    for text in rendered + argvs:
        assert DB_PASSWORD not in text and REDIS_PASSWORD not in text


def _has_data(result: list[dict[str, Any]]) -> bool:
    return any(
        sample is not None and not math.isnan(float(sample[1]))
        for series in result
        for sample in (series.get("values") or [series.get("value")])
    )


def test_every_component_panel_returns_data(stack: ComponentStack) -> None:
    stack.nginx.request()
    queries = [
        (dashboard.uid, query.panel_title, expand_variables(query.expr, values))
        for dashboard in component_dashboards(stack)
        for values in [all_selected_values(dashboard.model)]
        for query in panel_queries(dashboard.model)
    ]
    assert {uid for uid, _, _ in queries} == {"tm-postgres", "tm-redis", "tm-nginx"}
    missing = queries
    deadline = time.monotonic() + 30
    while missing and time.monotonic() < deadline:
        missing = [q for q in missing if not _has_data(stack.query(q[2]))]
        if missing:
            time.sleep(1)
    assert not missing, "panels without data:\n" + "\n".join(map(str, missing))


def _firing(stack: ComponentStack, alertname: str, name: str, since: float) -> dict[str, str]:
    try:
        event = stack.recorder.wait_for_alert(
            WEBHOOK_PATH, alertname, "firing", DELIVERY_TIMEOUT, since=since, labels={"name": name}
        )
    except Exception as error:
        raise AssertionError(f"{error}\n{stack.logs()}") from None
    return event.labels


def _resolved(stack: ComponentStack, alertname: str, name: str, since: float) -> None:
    stack.recorder.wait_for_alert(
        WEBHOOK_PATH, alertname, "resolved", DELIVERY_TIMEOUT, since=since, labels={"name": name}
    )


def test_postgres_down_alerts_and_resolves(stack: ComponentStack) -> None:
    started = time.monotonic()
    stack.primary.stop()
    labels = _firing(stack, "PostgresDown", PRIMARY, started)
    assert labels["severity"] == "critical" and labels["component"] == "postgres"
    # The exporter itself still answers: only the database is down.
    assert not [
        e
        for e in stack.recorder.alert_events(WEBHOOK_PATH)
        if e.labels.get("alertname") == "TargetDown" and e.labels.get("job") == "postgres"
    ]
    restarted = time.monotonic()
    stack.primary.start()
    _resolved(stack, "PostgresDown", PRIMARY, restarted)


def test_deadlock_alerts(stack: ComponentStack) -> None:
    started = time.monotonic()
    assert stack.primary.deadlock() == 1
    labels = _firing(stack, "PostgresDeadlocks", PRIMARY, started)
    assert labels["datname"] == "trading" and labels["severity"] == "warning"


def test_redis_evictions_alert(stack: ComponentStack) -> None:
    started = time.monotonic()
    stack.redis.fill(megabytes=8)  # twice maxmemory
    labels = _firing(stack, "RedisEvictions", CACHE, started)
    assert labels["component"] == "redis"


def test_redis_rejected_connections_alert(stack: ComponentStack) -> None:
    started = time.monotonic()
    stack.redis.exhaust_clients(extra=4)
    _firing(stack, "RedisRejectedConnections", CACHE, started)


def test_nginx_down_alerts_and_resolves(stack: ComponentStack) -> None:
    started = time.monotonic()
    stack.nginx.stop()
    labels = _firing(stack, "NginxDown", EDGE, started)
    assert labels["severity"] == "critical"
    restarted = time.monotonic()
    stack.nginx.start()
    _resolved(stack, "NginxDown", EDGE, restarted)


def test_metrics_files_are_in_the_run_directory(stack: ComponentStack) -> None:
    assert all(Path(p).stat().st_size > 0 for p in stack.metrics_dir.iterdir())
