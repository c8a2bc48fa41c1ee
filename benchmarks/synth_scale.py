"""Synth time and resource count for both stacks with 6 and 60 markets, cold and warm cache.

Each run is `python -m infra synth` in a fresh interpreter (what a user or CI waits for,
imports included) on a copy of Pulumi.<stack>.yaml whose market list is generated: the six
real markets, then session-based markets with generated codes. Variants, alternated run by run:
- cold cache: an empty calendar cache (monitoring/calendar_cache.py), as on a fresh CI machine;
- warm cache: the cache an earlier synth filled (every later run on the same machine);
- `--baseline REV`: the checkout of REV (`git archive`) with the same Python, for before/after;
- libraries alone (benchmarks/synth_floor.py): Python, `pulumi` and the provider SDK modules
  the plan's resources come from, registering the same resources under the mocks through the
  generic resource classes; nothing of ours runs. A lower bound of what synth can cost.
Every checkout writes its bytecode once, unmeasured, as a user's checkout has it. The
`identical` column compares each variant's whole output with the cold-cache output.
Target: < 1 s for prod with 6 markets.

usage: .venv/bin/python benchmarks/synth_scale.py [--repeat N] [--baseline REV]
"""

from __future__ import annotations

import argparse
import filecmp
import io
import json
import os
import shutil
import statistics
import string
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
MARKETS_KEY = "trading-monitoring:markets"
IDENTICAL = {True: "yes", False: "NO", None: "n/a"}
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


@dataclass
class Variant:
    name: str
    checkout: Path
    cache: Path | None  # XDG_CACHE_HOME kept between runs; None: a new empty one per run
    times: list[float] = field(default_factory=list)
    resources: int | None = None
    identical: bool | None = True  # every output equals the first cold-cache one (None: n/a)


def synth_once(variant: Variant, project: Path, stack: str, work: Path) -> Path:
    out = Path(tempfile.mkdtemp(dir=work, prefix="out-"))
    cache = variant.cache or Path(tempfile.mkdtemp(dir=work, prefix="cache-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["XDG_CACHE_HOME"] = str(cache)
    command = [sys.executable, "-m", "infra", "synth", "--stack", stack, "--out", str(out)]
    command += ["--project-dir", str(project)]
    start = time.perf_counter()
    run = subprocess.run(
        command, cwd=variant.checkout, env=env, capture_output=True, text=True, timeout=300
    )
    elapsed = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(f"synth {stack} ({variant.name}) failed:\n{run.stderr}")
    variant.times.append(elapsed)
    variant.resources = len(json.loads((out / "plan.json").read_text())["resources"])
    return out


def floor_once(variant: Variant, plan: Path) -> None:
    """benchmarks/synth_floor.py on `plan` in a fresh interpreter; it must register every one."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, str(ROOT / "benchmarks" / "synth_floor.py"), str(plan)]
    start = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    count = len(json.loads(plan.read_text())["resources"])
    if run.returncode != 0 or run.stdout.strip() != f"registered {count} of {count} resources":
        raise RuntimeError(f"synth_floor.py on {plan} failed:\n{run.stdout}{run.stderr}")
    variant.times.append(elapsed)
    variant.resources = count


def same_tree(left: Path, right: Path) -> bool:
    compared = filecmp.dircmp(left, right)
    if compared.left_only or compared.right_only or compared.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, compared.common_files, shallow=False)
    return (
        not mismatch
        and not errors
        and all(same_tree(left / sub, right / sub) for sub in compared.common_dirs)
    )


def baseline_checkout(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], cwd=ROOT, capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def measure(
    stack: str, markets: int, repeat: int, baseline: Path | None, label: str, work: Path
) -> list[Variant]:
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    document["config"][MARKETS_KEY] = generated_markets(document["config"][MARKETS_KEY], markets)
    project = work / f"{stack}-{markets}"
    project.mkdir()
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    variants = [
        Variant("cold cache", ROOT, None),
        Variant("warm cache", ROOT, work / f"cache-{stack}-{markets}"),
    ]
    if baseline is not None:
        variants.append(
            Variant(f"before ({label})", baseline, work / f"cache-base-{stack}-{markets}")
        )
    floor = Variant("libraries alone", ROOT, None, identical=None)
    runs = project / "runs"
    runs.mkdir()
    reference = None
    for variant in variants:  # bytecode and the warm cache: unmeasured
        out = synth_once(variant, project, stack, runs)
        reference = reference or out
        variant.times.clear()
    assert reference is not None
    plan = project / "plan.json"
    shutil.copyfile(reference / "plan.json", plan)
    floor_once(floor, plan)
    floor.times.clear()
    for _ in range(repeat):
        for variant in variants:
            out = synth_once(variant, project, stack, runs)
            variant.identical = variant.identical and same_tree(reference, out)
            shutil.rmtree(out)
        floor_once(floor, plan)
    return [*variants, floor]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per row (median and best)")
    parser.add_argument("--baseline", help="a git revision to compare with (e.g. a commit)")
    args = parser.parse_args()
    print(
        "| stack | markets | variant | synth time (s, median) | best (s) | resources | identical |"
    )
    print("|---|---:|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        baseline = None
        if args.baseline:
            baseline = baseline_checkout(args.baseline, work / "baseline")
        for stack in ("dev", "prod"):
            for markets in (6, 60):
                for variant in measure(
                    stack, markets, args.repeat, baseline, args.baseline or "", work
                ):
                    print(
                        f"| {stack} | {markets} | {variant.name} |"
                        f" {statistics.median(variant.times):.2f} | {min(variant.times):.2f} |"
                        f" {variant.resources} | {IDENTICAL[variant.identical]} |",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
