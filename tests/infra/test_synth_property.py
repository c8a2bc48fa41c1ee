"""Property: every stack config that synth accepts renders files the real tools accept.

Hypothesis generates mostly valid variations of Pulumi.dev.yaml and Pulumi.prod.yaml
(thresholds, durations, intervals, retention, external labels with `$` and quotes, markets,
receivers, services with templated alerts, replicas, egress ports); each is synthesized
in-process and every accepted one is written out. The tools then run once over all of them:
`promtool check config` and `check rules` (Prometheus 2.42), `amtool check-config`
(Alertmanager 0.25) and the blackbox exporter's `--config.check`. Configs that synth refuses
are rejected (counted: they must stay rare). Deterministic: derandomized, no example database.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from pydantic.alias_generators import to_camel

from infra.synth import SynthError, run_program, write
from monitoring.thresholds import (
    NUMBER_BOUNDS,
    OBJECTIVE_FIELDS,
    RATIO_FIELDS,
    WINDOW_FIELDS,
    AlertThresholds,
)
from tests.infra.harness import stack_config
from tests.monitoring.service_config import RAW_SERVICES
from tests.monitoring.test_promtool import _without_kubernetes_sd

EXAMPLES = 24
TOOLS = ("promtool", "amtool", "prometheus-blackbox-exporter")
DEV_MARKETS: list[dict[str, Any]] = json.loads(stack_config("dev")["markets"])
RESERVED = {"env", "replica", "market", "severity", "category", "service", "team", "job"}
RESERVED |= {"instance", "alertname"}

_DEFAULTS = AlertThresholds()
_FOR_FIELDS = [n for n in AlertThresholds.__dataclass_fields__ if n.endswith("_for")]


def _seconds(low: int, high: int) -> st.SearchStrategy[str]:
    """A Prometheus duration of `low`..`high` seconds, in the largest whole unit."""

    def spell(total: int) -> str:
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if total % size == 0:
                return f"{total // size}{unit}"
        return f"{total}s"

    return st.integers(low, high).map(spell)


def _number(name: str) -> st.SearchStrategy[float | int]:
    low, high = NUMBER_BOUNDS[name]
    if isinstance(getattr(_DEFAULTS, name), int):
        return st.integers(int(low) + 1, int(min(high, 10**7)))
    return st.floats(low, min(high, 1e12), exclude_min=True, allow_nan=False)


@st.composite
def thresholds(draw: st.DrawFn) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(list(RATIO_FIELDS)), max_size=4, unique=True)):
        chosen[name] = draw(st.floats(0.001, 1.0, allow_nan=False))
    for name in draw(st.lists(st.sampled_from(list(OBJECTIVE_FIELDS)), max_size=2, unique=True)):
        chosen[name] = draw(st.floats(0.5, 0.9999))
    for name in draw(st.lists(st.sampled_from(sorted(NUMBER_BOUNDS)), max_size=5, unique=True)):
        chosen[name] = draw(_number(name))
    for name in draw(st.lists(st.sampled_from(_FOR_FIELDS), max_size=4, unique=True)):
        chosen[name] = draw(_seconds(0, 86400))
    for name in draw(st.lists(st.sampled_from(list(WINDOW_FIELDS)), max_size=2, unique=True)):
        chosen[name] = draw(_seconds(60, 86400))
    return {to_camel(name): value for name, value in chosen.items()}


LABEL_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: n not in RESERVED
)
# Values with what YAML, Go templates and env expansion might trip on: $, ${X}, quotes, \.
LABEL_VALUE = st.lists(
    st.sampled_from([*"abcXYZ019 -_.:/@#%&*+=,;$'\"\\", "${HOME}", "$$", "é"]),
    min_size=1,
    max_size=10,
).map("".join)
SUMMARY = st.text(alphabet=st.sampled_from([*"abc XYZ 019-_.:%()$'\""]), min_size=1, max_size=24)
TEMPLATE = st.sampled_from(["", " on {{ $labels.instance }}", " ({{ $value }})"])


@st.composite
def services(draw: st.DrawFn, codes: list[str]) -> list[dict[str, Any]]:
    chosen = draw(st.lists(st.sampled_from(range(len(RAW_SERVICES))), max_size=2, unique=True))
    out = []
    for index in chosen:
        service = copy.deepcopy(RAW_SERVICES[index])
        if "market" in service:
            service["market"] = draw(st.sampled_from(codes))
        if "metrics" in service and draw(st.booleans()):  # its own interval, maybe < timeout
            service["metrics"]["interval"] = draw(_seconds(1, 120))
        summary = draw(SUMMARY).strip() or "x"
        service.setdefault("alerts", []).append(
            {
                "name": "GeneratedAlert",
                "expr": "vector(1) > 2",
                "for": draw(_seconds(0, 3600)),
                "severity": draw(st.sampled_from(["warning", "critical"])),
                "summary": summary + draw(TEMPLATE),
                "description": draw(SUMMARY) + draw(TEMPLATE),
            }
        )
        out.append(service)
    return out


@st.composite
def receivers(draw: st.DrawFn) -> dict[str, Any]:
    slack = draw(st.none() | st.from_regex(r"#[a-z][a-z0-9-]{2,12}", fullmatch=True))
    return {
        "slackChannel": slack,
        "slackCriticalChannel": None,
        "emailTo": draw(st.none() | st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.com", fullmatch=True)),
        "emailFrom": "alertmanager@example.com",
        "smtpSmarthost": f"smtp.example.com:{draw(st.integers(1, 65535))}",
        "smtpUsername": None,
        "smtpRequireTls": draw(st.booleans()),
        "pagerduty": draw(st.booleans()),
        "webhook": draw(st.booleans()),
        "heartbeat": draw(st.booleans()),
    }


# Route match values for `service` (any text): quotes and backslashes must be escaped.
EMAIL_RECEIVERS: list[dict[str, Any]] = [
    {"name": "leads", "email": {"to": ["leads@example.com"]}},
    {"name": "oncall", "email": {"to": ["oncall@example.com"]}},
]
MATCH_VALUE = st.lists(st.sampled_from([*"abz09 -_.:/$'\"\\|*+()[]"]), min_size=1, max_size=8).map(
    "".join
)


@st.composite
def notifications(draw: st.DrawFn, codes: list[str]) -> dict[str, Any]:
    services = draw(st.lists(MATCH_VALUE, min_size=1, max_size=3, unique=True))
    return {
        "receivers": EMAIL_RECEIVERS,
        "routes": [
            {
                "match": {"service": services if len(services) > 1 else services[0]},
                "receiver": "oncall",
                "continue": draw(st.booleans()),
                "repeatInterval": draw(_seconds(60, 86400)),
            },
            {
                "match": {"market": draw(st.sampled_from(codes))},
                "receiver": "leads",
                "groupWait": draw(_seconds(0, 600)),
            },
        ],
        "default": {"receiver": "leads", "groupInterval": draw(_seconds(1, 3600))},
    }


@st.composite
def stack_variation(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    stack = draw(st.sampled_from(["dev", "prod"]))
    picked = draw(st.lists(st.sampled_from(range(len(DEV_MARKETS))), min_size=1, unique=True))
    markets = [DEV_MARKETS[i] for i in sorted(picked)]
    codes = [m["code"] for m in markets]
    if "vn" in codes and draw(st.booleans()):  # the custom schedule's holidays, early closes
        vn = copy.deepcopy(markets[codes.index("vn")])
        vn["holidays"] = ["2027-02-08", "2027-02-09"]
        vn["earlyCloses"] = [{"date": "2027-12-31", "close": "11:30"}]
        vn["adapterTarget"] = f"vn-adapter.internal:{draw(st.integers(1, 65535))}"
        markets[codes.index("vn")] = vn
    interval = draw(st.integers(5, 60))
    overrides: dict[str, Any] = {
        "markets": markets,
        "scrapeInterval": f"{interval}s",
        "scrapeTimeout": f"{draw(st.integers(1, interval))}s",
        "evaluationInterval": draw(_seconds(1, 300)),
        "retentionTime": draw(_seconds(86400, 100 * 365 * 86400) | st.just("292y")),
        "logRetentionTime": f"{draw(st.integers(24, 2_000_000))}h",
        "externalLabels": draw(st.dictionaries(LABEL_NAME, LABEL_VALUE, max_size=3)),
        "thresholds": draw(thresholds()),
        "receivers": draw(receivers()),
        "notifications": None,
        "services": draw(services(codes)),
    }
    if draw(st.booleans()):  # named receivers and routes instead of `receivers`
        overrides["receivers"] = None
        overrides["notifications"] = draw(notifications(codes))
    if stack == "prod":
        kubernetes = json.loads(stack_config("prod")["kubernetes"])
        kubernetes["replicas"] = {
            "prometheus": draw(st.integers(1, 10)),
            "alertmanager": draw(st.integers(1, 9)),
        }
        egress = kubernetes["egress"]
        egress["receiverPorts"] = draw(st.lists(st.integers(1, 65535), min_size=1, max_size=3))
        egress["databasePort"] = draw(st.integers(1, 65535))
        overrides["kubernetes"] = kubernetes
    return stack, overrides


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_every_accepted_config_renders_files_the_real_tools_accept(tmp_path: Path) -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `make tools`")
    accepted: list[Path] = []
    refused: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),  # no shrinking: overrides.json reproduces
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(stack_variation())
    def synth_one(case: tuple[str, dict[str, Any]]) -> None:
        stack, overrides = case
        try:
            result, _, _ = run_program(stack, stack_config(stack, overrides))
        except SynthError as error:
            refused.append(str(error))
            reject()
        out = tmp_path / f"example-{len(accepted)}"
        write(result, out)
        (out / "overrides.json").write_text(json.dumps([stack, overrides], indent=1))
        config = yaml.safe_load((out / "prometheus.yml").read_text())
        _without_kubernetes_sd(config)  # Debian's promtool 2.42 has no Kubernetes discovery
        (out / "prometheus-checked.yml").write_text(yaml.safe_dump(config))
        accepted.append(out)

    synth_one()
    # Rejections must stay rare, or the property says little; both stacks and `$` were there.
    assert len(accepted) >= EXAMPLES * 3 // 4, refused
    stacks = {json.loads((out / "overrides.json").read_text())[0] for out in accepted}
    assert stacks == {"dev", "prod"}
    assert any("$$" in (out / "prometheus.yml").read_text() for out in accepted)
    # Each tool once over every example (a failure names the example's directory; its
    # overrides.json reproduces it).
    blackbox = [out / "blackbox.yml" for out in accepted if (out / "blackbox.yml").exists()]
    for command in (
        ["promtool", "check", "config", "--syntax-only"]
        + [str(out / "prometheus-checked.yml") for out in accepted],
        ["promtool", "check", "rules"]
        + [str(p) for out in accepted for p in sorted((out / "rules").glob("*.yml"))],
        ["amtool", "check-config"] + [str(out / "alertmanager.yml") for out in accepted],
    ):
        result = _run(command)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    for path in blackbox:
        result = _run(["prometheus-blackbox-exporter", "--config.check", f"--config.file={path}"])
        assert result.returncode == 0, f"{path}: {result.stdout}{result.stderr}"


@pytest.mark.parametrize(
    ("services", "probe", "receiver"),
    [
        (['a"b'], 'a"b', "oncall"),
        (["a\\b"], "a\\b", "oncall"),
        (["a\\b"], "ab", "leads"),
        (["a.b", "c|d"], "c|d", "oncall"),
        (["a.b", "c|d"], "axb", "leads"),
        (["a\\b", 'x"y'], 'x"y', "oncall"),
    ],
)
def test_route_match_values_keep_their_meaning_in_alertmanager(
    services: list[str], probe: str, receiver: str, tmp_path: Path
) -> None:
    """A route's `service` values with quotes, backslashes and regex characters: the rendered
    matcher escapes them, and Alertmanager 0.25 routes exactly those values there."""
    if shutil.which("amtool") is None:
        pytest.fail("amtool not installed: run `make tools`")
    notifications = {
        "receivers": EMAIL_RECEIVERS,
        "routes": [
            {
                "match": {"service": services if len(services) > 1 else services[0]},
                "receiver": "oncall",
            }
        ],
        "default": {"receiver": "leads"},
    }
    raw = stack_config("dev", {"notifications": notifications})
    del raw["receivers"]
    result, _, _ = run_program("dev", raw)
    config = tmp_path / "alertmanager.yml"
    config.write_text(result.files["alertmanager.yml"])
    quoted = '"' + probe.replace("\\", "\\\\").replace('"', '\\"') + '"'
    test = ["amtool", "config", "routes", "test", f"--config.file={config}"]
    routed = _run([*test, f"service={quoted}", "severity=warning", "alertname=X"])
    assert routed.returncode == 0, routed.stderr
    assert routed.stdout.strip() == receiver
