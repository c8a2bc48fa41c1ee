"""The team's own files: `rules.files` (Prometheus rule files) and `dashboards.files` (Grafana
dashboard JSON), read from the repository and validated before anything is rendered.

A broken file stops synth with one line naming its key, its path and the tool's error: rule
expressions are parsed with promql-parser, and with `promtool check rules` when promtool is on
PATH (CI and `make synth`); dashboards go through grafana-foundation-sdk's dashboard model plus
the checks Grafana's API would make (uid, title, panels) and every Prometheus query is parsed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.models.dashboard import Dashboard as SdkDashboard

from monitoring.services import check_promql, duration
from validation import InvalidValue

CUSTOM_RULE_PREFIX = "custom-"  # rendered as rules/custom-<file name>
OUR_UID_PREFIX = "tm-"  # our dashboards' uids; a custom one must not replace them
_UID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
_GROUP_KEYS = {"name", "interval", "rules", "limit"}
_RULE_KEYS = {"alert", "record", "expr", "for", "labels", "annotations", "keep_firing_for"}


@dataclass(frozen=True)
class CustomDashboard:
    uid: str
    title: str
    model: dict[str, Any]


def _paths(key: str, raw: object) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(p, str) and p for p in raw):
        raise InvalidValue(key, raw, "a list of file paths relative to the project")
    return list(raw)


def _read(key: str, base: Path, path: str) -> str:
    try:
        return (base / path).read_text()
    except OSError as error:
        raise InvalidValue(key, path, f"a readable file ({error.strerror})") from None


def _check_rule_file(key: str, path: str, text: str) -> None:
    def bad(reason: str) -> InvalidValue:
        return InvalidValue(key, path, f"a Prometheus rule file ({reason})")

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise bad(f"YAML: {str(error).splitlines()[0]}") from None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("groups"), list)
        or set(doc) != {"groups"}
    ):
        raise bad("the top level must be `groups:` with a list")
    for g, group in enumerate(doc["groups"]):
        if not isinstance(group, dict) or not isinstance(group.get("name"), str):
            raise bad(f"groups[{g}] needs a name")
        if set(group) - _GROUP_KEYS or not isinstance(group.get("rules"), list):
            raise bad(f"group {group['name']!r}: keys {sorted(_GROUP_KEYS)}, rules a list")
        for r, rule in enumerate(group["rules"]):
            where = f"group {group['name']!r} rule {r}"
            if not isinstance(rule, dict) or set(rule) - _RULE_KEYS:
                raise bad(f"{where}: keys {sorted(_RULE_KEYS)}")
            if ("alert" in rule) == ("record" in rule):
                raise bad(f"{where}: exactly one of alert or record")
            try:
                check_promql("expr", rule.get("expr"))
                if "for" in rule:
                    duration("for", rule["for"])
            except InvalidValue as error:
                raise bad(f"{where}: {error}") from None


def _promtool(key: str, path: str, text: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "rules.yml"
        file.write_text(text)
        result = subprocess.run(
            [promtool, "check", "rules", str(file)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if result.returncode != 0:
        lines = [ln.strip() for ln in (result.stderr + result.stdout).splitlines() if ln.strip()]
        error = next((ln for ln in lines if "FAILED" not in ln and "Checking" not in ln), "")
        raise InvalidValue(key, path, f"a Prometheus rule file (promtool: {error})")


def load_rule_files(raw: object, base: Path) -> dict[str, str]:
    """`rules.files` -> {"custom-<name>": text}, each file checked."""
    out: dict[str, str] = {}
    for i, path in enumerate(_paths("rules.files", raw)):
        key = f"rules.files[{i}]"
        text = _read(key, base, path)
        _check_rule_file(key, path, text)
        _promtool(key, path, text)
        name = f"{CUSTOM_RULE_PREFIX}{Path(path).stem}.yml"
        if name in out:
            raise InvalidValue(key, path, "file names that differ (rendered as " + name + ")")
        out[name] = text
    return out


def _queries(panels: Sequence[Any]) -> list[str]:
    exprs: list[str] = []
    for panel in panels:
        if not isinstance(panel, dict):
            continue
        exprs += _queries(panel.get("panels") or [])
        for target in panel.get("targets") or []:
            source = (target.get("datasource") or panel.get("datasource") or {}).get("type")
            if source in (None, "prometheus") and target.get("expr"):
                exprs.append(str(target["expr"]))
    return exprs


def _grafana_variables(expr: str) -> str:
    """Grafana variables replaced by plausible values, so the query can be parsed."""
    expr = re.sub(r"\$\{?__(rate_)?interval\}?|\$\{?__range\}?", "5m", expr)
    return re.sub(r"\$\{?\w+(:\w+)?\}?", "x", expr)


def load_dashboard_files(raw: object, base: Path) -> list[CustomDashboard]:
    """`dashboards.files` -> dashboards for the "Custom" folder, each checked."""
    out: list[CustomDashboard] = []
    for i, path in enumerate(_paths("dashboards.files", raw)):
        key = f"dashboards.files[{i}]"

        def bad(reason: str, key: str = key, path: str = path) -> InvalidValue:
            return InvalidValue(key, path, f"a Grafana dashboard JSON file ({reason})")

        try:
            model = json.loads(_read(key, base, path))
        except json.JSONDecodeError as error:
            raise bad(f"JSON: {error}") from None
        if not isinstance(model, dict):
            raise bad("the top level must be an object")
        model.pop("id", None)  # Grafana assigns ids; the uid is the stable key
        uid, title = model.get("uid"), model.get("title")
        if not isinstance(uid, str) or not _UID.match(uid) or uid.startswith(OUR_UID_PREFIX):
            raise bad(f"uid {uid!r}: 1-40 of a-z, A-Z, 0-9, _ and -, not starting with tm-")
        if not isinstance(title, str) or not title.strip():
            raise bad("a non-empty title")
        panels = model.get("panels", [])
        if not isinstance(panels, list) or not all(
            isinstance(p, dict) and isinstance(p.get("type"), str) for p in panels
        ):
            raise bad("panels must be a list of objects with a type")
        try:
            SdkDashboard.from_json(model)
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            raise bad(f"dashboard model: {error}") from None
        for expr in _queries(panels):
            try:
                check_promql("expr", _grafana_variables(expr))
            except InvalidValue as error:
                raise bad(f"query {expr!r}: {error.allowed}") from None
        if uid in {d.uid for d in out}:
            raise bad(f"uid {uid!r} is used by another file")
        out.append(CustomDashboard(uid, title, model))
    return out
