"""Synth time and resource count for both stacks with 6 and 60 markets.

Each row runs `python -m infra synth` in a fresh interpreter (what a user or CI waits for,
imports included) on a copy of Pulumi.<stack>.yaml whose market list is generated: the six
real markets, then session-based markets with generated codes. Target: <= 2 s for 6 markets,
growing linearly.

usage: .venv/bin/python benchmarks/synth_scale.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import string
import subprocess
import sys
import tempfile
import time
from itertools import product
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
MARKETS_KEY = "trading-monitoring:markets"
TIMEZONES = ("Europe/London", "Europe/Berlin", "Asia/Singapore", "Australia/Sydney")


def generated_markets(base: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The stack's own markets, then session-based ones with codes "ma", "mb", ... ."""
    markets = list(base[:count])
    codes = ("m" + "".join(p) for p in product(string.ascii_lowercase, repeat=2))
    taken = {m["code"] for m in markets}
    while len(markets) < count:
        code = next(codes)
        if code in taken:
            continue
        markets.append(
            {
                "code": code,
                "name": f"Generated market {code}",
                "timezone": TIMEZONES[len(markets) % len(TIMEZONES)],
                "sessions": ["08:00-12:00", "13:00-16:30"],
            }
        )
    return markets


def synth_once(stack: str, markets: int, work: Path) -> tuple[float, int]:
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    document["config"][MARKETS_KEY] = generated_markets(document["config"][MARKETS_KEY], markets)
    project = work / f"{stack}-{markets}"
    project.mkdir(exist_ok=True)
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    out = project / "out"
    command = [sys.executable, "-m", "infra", "synth", "--stack", stack, "--out", str(out)]
    command += ["--project-dir", str(project)]
    start = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(f"synth {stack} ({markets} markets) failed:\n{run.stderr}")
    plan = json.loads((out / "plan.json").read_text())
    return elapsed, len(plan["resources"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per row (median and best)")
    args = parser.parse_args()
    rows: list[tuple[str, int, float | None, float | None, int | None, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for stack in ("dev", "prod"):
            for markets in (6, 60):
                try:
                    runs = [synth_once(stack, markets, Path(tmp)) for _ in range(args.repeat)]
                except RuntimeError as error:
                    rows.append((stack, markets, None, None, None, str(error).splitlines()[-1]))
                    continue
                times = [r[0] for r in runs]
                rows.append((stack, markets, statistics.median(times), min(times), runs[0][1], ""))
    print("| stack | markets | synth time (s, median) | best (s) | resources | note |")
    print("|---|---:|---:|---:|---:|---|")
    for stack, markets, median, best, resources, note in rows:
        shown = f"{median:.2f} | {best:.2f}" if median and best else "failed | -"
        print(f"| {stack} | {markets} | {shown} | {resources or '-'} | {note} |")
    return 0 if all(row[2] is not None for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
