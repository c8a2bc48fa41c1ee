"""`rules.files` and `dashboards.files`: good files load; a broken one stops with its key, path
and the tool's error (promql-parser, promtool, the dashboard model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitoring.custom_files import load_dashboard_files, load_rule_files
from tests.monitoring.conftest import run, tool
from validation import InvalidValue

CUSTOM = Path(__file__).parent / "custom"
BASE = CUSTOM.parent


def test_rule_files_load_and_pass_promtool(tmp_path: Path) -> None:
    files = load_rule_files(["custom/team_rules.yml"], BASE)
    assert list(files) == ["custom-team_rules.yml"]
    path = tmp_path / "custom-team_rules.yml"
    path.write_text(files["custom-team_rules.yml"])
    result = run([tool("promtool"), "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("groups: [", "a Prometheus rule file (YAML:"),
        ("rules: []", "the top level must be `groups:`"),
        (
            "groups: [{name: g, rules: [{alert: A, expr: 'sum(x'}]}]",
            "group 'g' rule 0: expr = 'sum(x' is invalid",
        ),
        ("groups: [{name: g, rules: [{alert: A, record: b, expr: x}]}]", "exactly one of"),
        ("groups: [{name: g, rules: [{alert: A, expr: x, for: soon}]}]", "for = 'soon'"),
        # Parses as PromQL, but the annotation template is broken: only promtool sees it.
        (
            "groups: [{name: g, rules: [{alert: A, expr: x, annotations: {s: '{{ $labels.x '}}]}]",
            "(promtool: ",
        ),
    ],
)
def test_a_broken_rule_file_names_key_path_and_error(text: str, error: str, tmp_path: Path) -> None:
    (tmp_path / "ok.yml").write_text((CUSTOM / "team_rules.yml").read_text())
    (tmp_path / "bad.yml").write_text(text)
    with pytest.raises(InvalidValue) as caught:
        load_rule_files(["ok.yml", "bad.yml"], tmp_path)
    message = str(caught.value)
    assert message.startswith("rules.files[1] = 'bad.yml' is invalid: allowed"), message
    assert error in message, message
    assert "\n" not in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match=r"rules.files\[0\] = 'nope.yml' is invalid"):
        load_rule_files(["nope.yml"], tmp_path)


def test_dashboard_files_load_into_the_custom_folder() -> None:
    (board,) = load_dashboard_files(["custom/team_board.json"], BASE)
    assert board.uid == "investiq-business" and board.title == "InvestIQ business"
    assert "id" not in board.model  # Grafana assigns ids


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"uid": "tm-overview"}, "not starting with tm-"),
        ({"uid": "a b"}, "uid 'a b'"),
        ({"title": ""}, "a non-empty title"),
        ({"panels": [{"title": "no type"}]}, "panels must be a list of objects with a type"),
        ({"panels": 5}, "panels must be a list"),
        (
            {"panels": [{"type": "stat", "targets": [{"expr": "rate(x[5m]"}]}]},
            "query 'rate(x[5m]'",
        ),
    ],
)
def test_a_broken_dashboard_names_key_path_and_error(
    change: dict[str, object], error: str, tmp_path: Path
) -> None:
    model = json.loads((CUSTOM / "team_board.json").read_text())
    model.update(change)
    (tmp_path / "bad.json").write_text(json.dumps(model))
    with pytest.raises(InvalidValue) as caught:
        load_dashboard_files(["bad.json"], tmp_path)
    message = str(caught.value)
    assert message.startswith("dashboards.files[0] = 'bad.json' is invalid: allowed a Grafana")
    assert error in message, message


def test_not_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{")
    with pytest.raises(InvalidValue, match="JSON: "):
        load_dashboard_files(["x.json"], tmp_path)
