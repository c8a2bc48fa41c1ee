"""Alert latency: from a real fault to the webhook notification, minus the rule's `for`.

Starts the live pipeline of `tests/live` (the real exporter on a demo SQLite database, real
Prometheus and Alertmanager, a local webhook receiver; configs from the real renderers) with
realistic-but-short intervals given as parameters, then for each fault (exporter down, stale
data in an open market, order failures) repeats, on a fresh pipeline each time: inject, wait for
the firing notification at the webhook, remove, wait for the resolved one.

    overhead = webhook delivery - injection - `for`
    budget   = scrape interval + evaluation interval + group_wait + 2 s

The exporter's own cache refresh (`--refresh-interval`, 1 s here, 15 s by default) is part of
the overhead of the database faults (stale data, order failures) but not of the budget.

    .venv/bin/python benchmarks/alert_latency.py [--repetitions 5] [--scrape 2] [--eval 2]
        [--group-wait 2] [--for 4] [--refresh 1]

Exits 1 if a fault's worst overhead is over budget.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.live.harness import FAULTS, Fault, LiveStack, LiveTimings, run_fault  # noqa: E402
from tests.live.processes import sigterm_unwinds, wait_until  # noqa: E402

SLACK_SECONDS = 2.0  # budget margin: HTTP hops, process scheduling
DELIVERY_TIMEOUT = 120.0


@dataclass(frozen=True)
class FaultResult:
    fault: Fault
    overheads: tuple[float, ...]  # seconds, one per repetition
    resolve_latencies: tuple[float, ...]  # fault removed -> resolved notification


def wait_quiet(stack: LiveStack, fault: Fault) -> None:
    """No alert of this name in Prometheus (not even pending) before the fault."""

    def quiet() -> bool | None:
        names = {a["labels"]["alertname"] for a in stack.prometheus_alerts()}
        return True if fault.alertname not in names else None

    wait_until(quiet, timeout=DELIVERY_TIMEOUT, what=f"{fault.alertname} to be inactive")


def measure(
    fault: Fault, timings: LiveTimings, repetitions: int, rng: random.Random
) -> FaultResult:
    """One fresh pipeline per repetition: independent samples, and no fault history (the
    order-failure ratio is over 5 minutes, so repeated faults in one stack would pile up)."""
    overheads, resolves = [], []
    for _ in range(repetitions):
        with (
            tempfile.TemporaryDirectory(prefix="alert-latency-") as workdir,
            LiveStack(Path(workdir), timings) as stack,
        ):
            wait_quiet(stack, fault)
            # Inject at a random phase of the scrape/evaluation cycle.
            time.sleep(timings.scrape_interval + rng.uniform(0, timings.evaluation_interval))
            run = run_fault(stack, fault, DELIVERY_TIMEOUT)
        overheads.append(run.firing.received_at - run.injected_at - timings.alert_for)
        resolves.append(run.resolved.received_at - run.removed_at)
        print(
            f"  {fault.name}: overhead {overheads[-1]:.2f} s, resolved after {resolves[-1]:.2f} s",
            flush=True,
        )
    return FaultResult(fault, tuple(overheads), tuple(resolves))


def budget(timings: LiveTimings) -> float:
    return (
        timings.scrape_interval + timings.evaluation_interval + timings.group_wait + SLACK_SECONDS
    )


def table(results: list[FaultResult], timings: LiveTimings) -> str:
    limit = budget(timings)
    header = (
        "| fault | alert | for | overhead p50 | overhead max | budget | resolved p50 | result |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for r in results:
        worst = max(r.overheads)
        lines.append(
            f"| {r.fault.name} | {r.fault.alertname} | {timings.alert_for} s"
            f" | {statistics.median(r.overheads):.2f} s | {worst:.2f} s | {limit:g} s"
            f" | {statistics.median(r.resolve_latencies):.2f} s"
            f" | {'pass' if worst <= limit else 'FAIL'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--scrape", type=int, default=2, help="scrape interval, seconds")
    parser.add_argument("--eval", type=int, default=2, help="evaluation interval, seconds")
    parser.add_argument("--group-wait", type=int, default=2, help="group_wait, seconds")
    parser.add_argument("--for", dest="alert_for", type=int, default=4, help="`for`, seconds")
    parser.add_argument("--refresh", type=float, default=1.0, help="exporter refresh, seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.repetitions < 1 or min(args.scrape, args.eval, args.group_wait, args.alert_for) < 1:
        parser.error("--repetitions and every interval must be at least 1")
    timings = LiveTimings(
        scrape_interval=args.scrape,
        evaluation_interval=args.eval,
        group_wait=args.group_wait,
        group_interval=args.group_wait,
        repeat_interval="1h",
        exporter_refresh=args.refresh,
        alert_for=args.alert_for,
    )
    print(
        f"scrape {timings.scrape_interval} s, evaluation {timings.evaluation_interval} s,"
        f" group_wait {timings.group_wait} s, group_interval {timings.group_interval} s,"
        f" for {timings.alert_for} s, exporter refresh {timings.exporter_refresh:g} s,"
        f" {args.repetitions} repetitions per fault",
        flush=True,
    )
    rng = random.Random(args.seed)
    with sigterm_unwinds():
        results = [measure(fault, timings, args.repetitions, rng) for fault in FAULTS]
    print()
    print(table(results, timings))
    return 0 if all(max(r.overheads) <= budget(timings) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
