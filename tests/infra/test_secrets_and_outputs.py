"""No secret in plain text anywhere; outputs present and secret where they should be."""

from __future__ import annotations

import json
from pathlib import Path

from infra.synth import SECRET, write
from tests.infra.harness import REAL_SECRETS, StackRun, plain_strings

CONTAINER = "docker:index/container:Container"


def _generated_passwords(run: StackRun) -> list[str]:
    """The mock RandomPassword results (secrets too)."""
    from infra.synth import _mock_outputs

    values = []
    for password in run.of_type("random:index/randomPassword:RandomPassword"):
        outputs = _mock_outputs(password.type, password.name, password.inputs)
        values.append(outputs["result"]["value"])
    return values


def test_every_secret_reaches_the_wire_only_as_a_secret(dev_run_all_secrets: StackRun) -> None:
    run = dev_run_all_secrets
    secrets = [*REAL_SECRETS.values(), *_generated_passwords(run)]
    for resource in run.resources:
        for text in plain_strings(resource.wire_inputs):
            for secret in secrets:
                assert secret not in text, f"{resource.type} {resource.name} leaks a secret"


def test_secrets_are_delivered_where_they_are_needed(dev_run_all_secrets: StackRun) -> None:
    """Not leaking must not mean not delivered: each secret is in some secret-wrapped input."""
    run = dev_run_all_secrets
    wire = json.dumps([r.wire_inputs for r in run.resources])
    for key in (
        "slackApiUrl",
        "pagerdutyRoutingKey",
        "smtpPassword",
        "webhookUrl",
        "heartbeatUrl",
        "exporterDatabaseDsn",
    ):
        assert REAL_SECRETS[key] in wire, key
    alertmanager = run.named(CONTAINER, "alertmanager")
    files = {u["file"] for u in alertmanager.inputs["uploads"]}
    assert files == {
        "/etc/alertmanager/alertmanager.yml",
        "/etc/alertmanager/secrets/slack_api_url",
        "/etc/alertmanager/secrets/pagerduty_routing_key",
        "/etc/alertmanager/secrets/smtp_password",
    }
    assert {u["content"] for u in alertmanager.inputs["uploads"]} == {SECRET}
    exporter = run.named(CONTAINER, "exporter")
    assert any(a.startswith("--db-url-file=") for a in exporter.inputs["command"])
    grafana_files = {u["file"] for u in run.named(CONTAINER, "grafana").inputs["uploads"]}
    assert "/etc/grafana/secrets/smtp_password" in grafana_files


def test_no_secret_in_plan_or_rendered_files(dev_run_all_secrets: StackRun, tmp_path: Path) -> None:
    run = dev_run_all_secrets
    write(run.result, tmp_path)
    secrets = [*REAL_SECRETS.values(), *_generated_passwords(run)]
    written = {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    assert (tmp_path / "plan.json") in written and (tmp_path / "alertmanager.yml") in written
    for path, text in written.items():
        for secret in secrets:
            assert secret not in text, f"{path.name} leaks a secret"
    # The review copy of alertmanager.yml keeps the structure, with placeholders.
    alertmanager = written[tmp_path / "alertmanager.yml"]
    assert "https://secret.invalid/webhookUrl" in alertmanager
    assert "/etc/alertmanager/secrets/slack_api_url" in alertmanager


def test_outputs(dev_run: StackRun) -> None:
    outputs = dev_run.result.outputs
    assert outputs["grafanaUrl"] == "http://127.0.0.1:3000"
    assert outputs["prometheusUrl"] == "http://127.0.0.1:9090"
    assert outputs["alertmanagerUrl"] == "http://127.0.0.1:9093"
    assert outputs["exporterUrl"] == "http://127.0.0.1:9188/metrics"
    assert outputs["grafanaAdminUser"] == "tm-admin"
    assert outputs["grafanaAdminPassword"] == SECRET
    expected = {d.uid: f"http://127.0.0.1:3000/d/{d.uid}" for d in dev_run.stack.dashboards}
    assert outputs["dashboardUrls"] == expected


def test_admin_password_output_is_a_secret_output(dev_run: StackRun) -> None:
    from infra.pulumi_runtime import run_until_complete

    password = dev_run.stack.outputs.grafana_admin_password
    assert run_until_complete(password.is_secret()) is True
    assert run_until_complete(dev_run.stack.content.alertmanager_yml.is_secret()) is True


def _file_references(node: object) -> set[str]:
    """Every value of a `*_file` key in a parsed YAML tree."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if str(key).endswith("_file") and isinstance(value, str):
                found.add(value)
            found |= _file_references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _file_references(item)
    return found


def test_every_file_a_config_names_is_uploaded(dev_run_all_secrets: StackRun) -> None:
    import fnmatch

    import yaml

    run = dev_run_all_secrets
    files = run.result.files

    def uploaded(name: str) -> set[str]:
        return {u["file"] for u in run.named(CONTAINER, name).inputs["uploads"]}

    alertmanager_refs = _file_references(yaml.safe_load(files["alertmanager.yml"]))
    assert len(alertmanager_refs) == 3  # slack, pagerduty, smtp
    assert alertmanager_refs <= uploaded("alertmanager")

    prometheus = yaml.safe_load(files["prometheus.yml"])
    rules = {f for f in uploaded("prometheus") if f.startswith("/etc/prometheus/rules/")}
    assert rules
    for pattern in prometheus["rule_files"]:
        assert fnmatch.filter(sorted(rules), pattern) == sorted(rules)

    envs = run.named(CONTAINER, "grafana").inputs["envs"]
    file_envs = {e.split("=", 1)[1] for e in envs if e.split("=", 1)[0].endswith("__FILE")}
    assert len(file_envs) == 3  # admin password, secret key, SMTP password
    assert file_envs == uploaded("grafana")

    exporter = dict(
        arg.split("=", 1) for arg in run.named(CONTAINER, "exporter").inputs["command"][1:]
    )
    for flag in ("--config", "--db-url-file"):
        assert exporter[flag] in uploaded("exporter")


def test_secrets_reach_containers_as_files_never_env(dev_run_all_secrets: StackRun) -> None:
    """Docker env/command/labels are readable by `docker inspect`: no secret Output may be there."""
    for container in dev_run_all_secrets.of_type(CONTAINER):
        for key in ("envs", "command", "entrypoint", "labels"):
            assert SECRET not in json.dumps(container.inputs.get(key)), (container.name, key)
