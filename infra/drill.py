"""`python -m infra drill --stack <name>`: the fire drill against a deployed stack.

Reads `alertmanagerUrl` and `drillPlan` from the stack outputs (`pulumi stack output --json`,
so it needs the Pulumi CLI and the stack's backend), then runs `monitoring.drill`: one
synthetic alert per route, delivered or failed per integration, then resolved. On prod without
an Alertmanager ingress the output URL is the in-cluster Service: port-forward one pod and pass
`--alertmanager http://127.0.0.1:9093` (the drill must talk to the Alertmanager that notifies).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
from collections.abc import Callable
from typing import Any

from monitoring.drill import Alertmanager, exit_code, format_table, plan_from_json, run_drill

EXIT_NO_STACK = 2


def stack_outputs(stack: str) -> dict[str, Any]:
    """The stack's outputs (without secrets), from the Pulumi CLI."""
    result = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pulumi stack output --stack {stack} failed: {result.stderr.strip()}")
    outputs: dict[str, Any] = json.loads(result.stdout)
    return outputs


def drill(
    stack: str,
    alertmanager: str | None,
    timeout: float,
    echo: Callable[[str], None] = print,
    outputs_file: str | None = None,
) -> int:
    """`outputs_file`: what `pulumi stack output --json` printed (CI without the CLI)."""
    try:
        if outputs_file is not None:
            with open(outputs_file, encoding="utf-8") as f:
                outputs = json.load(f)
        else:
            outputs = stack_outputs(stack)
    except (RuntimeError, OSError, ValueError) as error:
        print(f"drill: {error}", file=sys.stderr)
        return EXIT_NO_STACK
    if "drillPlan" not in outputs:
        print(f"drill: stack {stack} has no drillPlan output: run `pulumi up`", file=sys.stderr)
        return EXIT_NO_STACK
    url = alertmanager or str(outputs["alertmanagerUrl"])
    try:
        results = run_drill(
            Alertmanager(url),
            plan_from_json(str(outputs["drillPlan"])),
            timeout,
            lambda line: print(line, file=sys.stderr),
        )
    except (urllib.error.URLError, OSError) as error:
        print(f"drill: cannot reach Alertmanager at {url}: {error}", file=sys.stderr)
        return EXIT_NO_STACK
    echo(format_table(results))
    return exit_code(results)
