"""Fire drill: prove that every route of a deployed Alertmanager delivers.

For each route (`drill_plan`), post a labelled synthetic alert that matches it to the
Alertmanager v2 API, wait until Alertmanager's own notification metrics report every
integration of the receivers it reaches as sent or failed, then resolve all drill alerts and
wait for the resolved notifications. Routes are drilled one after another because
`alertmanager_notifications_failed_total` and friends count by integration type only (no
receiver label before 0.27's `receiver-name-in-metrics` feature, which is used when present).
Other alerts notified through the same integration type meanwhile would be counted too: run
the drill on a quiet stack.

Run it with `python -m infra drill --stack <name>` (infra/drill.py: the plan and the URL
come from the stack outputs); the exit status is 1 when anything failed.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from monitoring.notifications import (
    AM_CONFIG_KEYS,
    Heartbeat,
    Webhook,
    legacy_notifications,
    notification_model,
    route_receivers,
    supported,
)
from monitoring.settings import ContentSettings

DRILL_ALERTNAME = "NotificationDrill"
DRILL_LABEL = "drill"  # a run id: the drill's alerts never merge with real ones
SENT = "delivered"
FAILED = "failed"
TIMEOUT = "timeout"
# Alertmanager's notification metrics: attempts, failed attempts, and notifications that
# failed for good (after retries).
REQUESTS = "alertmanager_notification_requests_total"
REQUESTS_FAILED = "alertmanager_notification_requests_failed_total"
NOTIFICATIONS_FAILED = "alertmanager_notifications_failed_total"


@dataclass(frozen=True)
class DrillIntegration:
    kind: str  # Alertmanager's `integration` label: webhook, slack, email, pagerduty, ...
    send_resolved: bool = True


@dataclass(frozen=True)
class DrillReceiver:
    name: str
    integrations: tuple[DrillIntegration, ...]


@dataclass(frozen=True)
class DrillCase:
    route: str  # how the table names the route
    labels: dict[str, str]
    receivers: tuple[DrillReceiver, ...]  # the receivers the alert reaches, in order


@dataclass(frozen=True)
class DrillResult:
    route: str
    receiver: str
    integration: str
    status: str  # delivered / failed / timeout
    error: str
    seconds: float


def _kind(integration: object) -> str:
    config_key = AM_CONFIG_KEYS[type(integration)]
    return config_key.removesuffix("_configs")


def drill_plan(settings: ContentSettings) -> list[DrillCase]:
    """One case per user route and one for the default route; the heartbeat receivers get
    the real Watchdog already (their dead man's switch service is the proof)."""
    model = notification_model(settings)
    notifications = settings.notifications or legacy_notifications(settings.receivers)
    integrations = {
        r.name: tuple(
            DrillIntegration(_kind(i), send_resolved=not isinstance(i, Heartbeat) and _resolves(i))
            for i in r.integrations
            if supported(i, model.alertmanager_version)
        )
        for r in model.receivers
    }
    wanted: list[tuple[str, dict[str, str]]] = [
        (
            f"routes[{i}]:" + ",".join(f"{k}={'|'.join(v)}" for k, v in route.match),
            {label: values[0] for label, values in route.match},
        )
        for i, route in enumerate(notifications.routes)
    ]
    wanted.append(("default", {}))
    cases = []
    for name, match in wanted:
        labels = {"alertname": DRILL_ALERTNAME, **match}
        reached = route_receivers(model.route, labels, model.route.receiver or "")
        receivers = tuple(DrillReceiver(r, integrations.get(r, ())) for r in dict.fromkeys(reached))
        cases.append(DrillCase(name, labels, receivers))
    return cases


def _resolves(integration: object) -> bool:
    return not isinstance(integration, Webhook) or integration.send_resolved


# --- Alertmanager client ------------------------------------------------------------------


_SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})?\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
Sample = tuple[str, tuple[tuple[str, str], ...]]


def parse_metrics(text: str) -> dict[Sample, float]:
    """Prometheus text exposition -> {(name, sorted labels): value} (counters we need)."""
    out: dict[Sample, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or line.startswith("#"):
            continue
        labels = tuple(sorted(_LABEL.findall(match.group(2) or "")))
        out[(match.group(1), labels)] = float(match.group(3))
    return out


class Alertmanager:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def metrics(self) -> dict[Sample, float]:
        with urllib.request.urlopen(f"{self.base_url}/metrics", timeout=self.timeout) as r:
            return parse_metrics(r.read().decode())

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        request = urllib.request.Request(
            f"{self.base_url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            if response.status != 200:
                raise RuntimeError(f"POST /api/v2/alerts -> {response.status}")


@dataclass(frozen=True)
class _Counts:
    succeeded: float
    failed: float
    reasons: tuple[str, ...]


def _counts(
    before: dict[Sample, float], after: dict[Sample, float], kind: str, receiver: str | None
) -> _Counts:
    """Notifications of integration `kind` (and `receiver`, when Alertmanager labels it)
    that succeeded / failed for good between two scrapes."""
    totals: dict[str, float] = {REQUESTS: 0.0, REQUESTS_FAILED: 0.0, NOTIFICATIONS_FAILED: 0.0}
    reasons: list[str] = []
    for (name, labels), value in after.items():
        if name not in totals:
            continue
        label_map = dict(labels)
        if label_map.get("integration") != kind:
            continue
        if receiver is not None and label_map.get("receiver_name", receiver) != receiver:
            continue
        delta = value - before.get((name, labels), 0.0)
        totals[name] += delta
        if name == NOTIFICATIONS_FAILED and delta > 0 and "reason" in label_map:
            reasons.append(label_map["reason"])
    return _Counts(
        totals[REQUESTS] - totals[REQUESTS_FAILED], totals[NOTIFICATIONS_FAILED], tuple(reasons)
    )


def _alert(case: DrillCase, run_id: str, ends: bool) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    alert: dict[str, Any] = {
        "labels": {**case.labels, DRILL_LABEL: run_id},
        "annotations": {
            "summary": f"Notification drill of route {case.route}",
            "description": "A synthetic alert sent by the fire drill; it resolves by itself.",
        },
        "startsAt": now,
    }
    if ends:
        alert["endsAt"] = now
    return alert


def _wait(
    am: Alertmanager,
    before: dict[Sample, float],
    expected: dict[str, int],
    timeout: float,
    labelled: bool,
    receivers: Sequence[DrillReceiver],
) -> tuple[dict[Sample, float], bool]:
    """Scrape until every expected integration kind has reported (sent or failed)."""
    deadline = time.monotonic() + timeout
    while True:
        after = am.metrics()
        done = all(
            _total(before, after, kind, receivers, labelled) >= count
            for kind, count in expected.items()
        )
        if done or time.monotonic() >= deadline:
            return after, done
        time.sleep(0.5)


def _total(
    before: dict[Sample, float],
    after: dict[Sample, float],
    kind: str,
    receivers: Sequence[DrillReceiver],
    labelled: bool,
) -> float:
    if not labelled:
        counts = _counts(before, after, kind, None)
        return counts.succeeded + counts.failed
    return sum((c := _counts(before, after, kind, r.name)).succeeded + c.failed for r in receivers)


def run_drill(
    am: Alertmanager,
    cases: Sequence[DrillCase],
    timeout: float = 120.0,
    progress: Callable[[str], None] = lambda _: None,
) -> list[DrillResult]:
    run_id = uuid.uuid4().hex[:12]
    results: list[DrillResult] = []
    labelled = any("receiver_name" in dict(labels) for (_, labels) in am.metrics())
    for case in cases:
        expected: dict[str, int] = {}
        for receiver in case.receivers:
            for integration in receiver.integrations:
                expected[integration.kind] = expected.get(integration.kind, 0) + 1
        progress(f"drill {case.route}: {', '.join(r.name for r in case.receivers)}")
        before = am.metrics()
        started = time.monotonic()
        am.post_alerts([_alert(case, run_id, ends=False)])
        after, _ = _wait(am, before, expected, timeout, labelled, case.receivers)
        seconds = time.monotonic() - started
        for receiver in case.receivers:
            if not receiver.integrations:
                results.append(DrillResult(case.route, receiver.name, "-", SENT, "", 0.0))
            for integration in receiver.integrations:
                counts = _counts(
                    before, after, integration.kind, receiver.name if labelled else None
                )
                share = expected[integration.kind] if not labelled else 1
                if counts.failed > 0:
                    reasons = ", ".join(counts.reasons) or "see the Alertmanager log"
                    error = (
                        f"{counts.failed:g} of {share} {integration.kind} notification(s)"
                        f" failed after retries ({reasons})"
                    )
                    status = FAILED
                elif counts.succeeded >= share:
                    status, error = SENT, ""
                else:
                    status, error = TIMEOUT, f"no {integration.kind} report within {timeout:g}s"
                results.append(
                    DrillResult(
                        case.route,
                        receiver.name,
                        integration.kind,
                        status,
                        error,
                        round(seconds, 1),
                    )
                )
    # Resolve every drill alert; wait for the resolved notifications to go out.
    resolving: dict[str, int] = {}
    for case in cases:
        for receiver in case.receivers:
            for integration in receiver.integrations:
                if integration.send_resolved:
                    resolving[integration.kind] = resolving.get(integration.kind, 0) + 1
    before = am.metrics()
    am.post_alerts([_alert(case, run_id, ends=True) for case in cases])
    receivers = [r for case in cases for r in case.receivers]
    _, resolved = _wait(am, before, resolving, timeout, labelled, receivers)
    progress("resolved: " + ("every resolved notification reported" if resolved else "timeout"))
    return results


def format_table(results: Sequence[DrillResult]) -> str:
    header = ("route", "receiver", "integration", "result", "seconds")
    rows = [
        (
            r.route,
            r.receiver,
            r.integration,
            r.status + (f": {r.error}" if r.error else ""),
            f"{r.seconds:.1f}",
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    head = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    return "\n".join([head, "  ".join("-" * w for w in widths), *lines])


def exit_code(results: Sequence[DrillResult]) -> int:
    return 0 if results and all(r.status == SENT for r in results) else 1


def plan_to_json(cases: Sequence[DrillCase]) -> str:
    return json.dumps([asdict(c) for c in cases], indent=2)


def plan_from_json(text: str) -> list[DrillCase]:
    return [
        DrillCase(
            c["route"],
            dict(c["labels"]),
            tuple(
                DrillReceiver(r["name"], tuple(DrillIntegration(**i) for i in r["integrations"]))
                for r in c["receivers"]
            ),
        )
        for c in json.loads(text)
    ]
