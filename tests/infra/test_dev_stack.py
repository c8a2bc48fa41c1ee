"""The dev (Docker) stack under Pulumi's mocks: inventory, container hygiene, replacement."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from components import PORTS
from dashboards import FOLDERS
from tests.infra.harness import StackRun, run_stack

CONTAINER = "docker:index/container:Container"
SERVICES = {
    "prometheus",
    "alertmanager",
    "grafana",
    "loki",
    "alloy",
    "node-exporter",
    "cadvisor",
    "exporter",
    # The demo service (`demo-api`, declared through `services`) and the blackbox exporter
    # that probes its /health.
    "demo-service",
    "blackbox-exporter",
}
PUBLISHED = {"prometheus", "alertmanager", "grafana", "loki", "exporter"}


def test_inventory(dev_run: StackRun) -> None:
    counts = Counter(r.type for r in dev_run.resources)
    dashboards = len(dev_run.stack.dashboards)
    assert dashboards >= 8
    assert counts == {
        "trading-monitoring:index:MonitoringStack": 1,
        "trading-monitoring:dev:DockerTarget": 1,
        "trading-monitoring:grafana:GrafanaContent": 1,
        "random:index/randomPassword:RandomPassword": 2,
        "docker:index/network:Network": 1,
        "docker:index/volume:Volume": 6,
        "docker:index/image:Image": 1,
        "docker:index/remoteImage:RemoteImage": 8,
        CONTAINER: 10,
        "pulumi:providers:grafana": 1,
        "grafana:oss/folder:Folder": len(FOLDERS) + 1,  # + Services (the demo service's)
        "grafana:oss/dataSource:DataSource": 3,
        "grafana:oss/dashboard:Dashboard": dashboards,
        "grafana:alerting/contactPoint:ContactPoint": counts[
            "grafana:alerting/contactPoint:ContactPoint"
        ],
        "grafana:alerting/notificationPolicy:NotificationPolicy": 1,
        "grafana:alerting/messageTemplate:MessageTemplate": 1,
        # one "market closed" timing per market (6) + "discard-always"
        "grafana:alerting/muteTiming:MuteTiming": 7,
    }
    assert counts["grafana:alerting/contactPoint:ContactPoint"] >= 1
    assert {r.name for r in dev_run.of_type(CONTAINER)} == SERVICES
    volumes = {r.inputs["name"] for r in dev_run.of_type("docker:index/volume:Volume")}
    assert volumes == {
        f"tm-{s}-data" for s in ("prometheus", "alertmanager", "grafana", "loki", "alloy", "demo")
    }
    uids = {r.inputs["uid"] for r in dev_run.of_type("grafana:oss/dataSource:DataSource")}
    assert uids == {"prometheus", "loki", "alertmanager"}


def test_every_container_is_healthchecked_limited_and_restarted(dev_run: StackRun) -> None:
    for container in dev_run.of_type(CONTAINER):
        inputs = container.inputs
        check = inputs["healthcheck"]
        assert check["tests"][0] in ("CMD", "CMD-SHELL"), container.name
        assert len(check["tests"]) >= 2 and check["retries"] >= 1, container.name
        assert inputs["wait"] is True and inputs["waitTimeout"] >= 60, container.name
        assert inputs["restart"] == "unless-stopped", container.name
        assert inputs["memory"] > 0 and inputs["memoryReservation"] <= inputs["memory"]
        assert float(inputs["cpus"]) > 0, container.name
        assert inputs["name"] == f"tm-{container.name}"
        # Fixed names and host ports: replaced delete-before-create.
        assert container.delete_before_replace, container.name


def test_images_are_pinned_and_exporter_rolls_on_rebuild(dev_run: StackRun) -> None:
    pulled = dev_run.of_type("docker:index/remoteImage:RemoteImage")
    for image in pulled:
        ref = image.inputs["name"]
        tag = ref.rpartition(":")[2]
        assert "@sha256:" in ref or (tag and tag != "latest" and "/" not in tag), ref
    assert len({r.inputs["name"] for r in pulled}) == 8
    built = dev_run.named("docker:index/image:Image", "exporter-image")
    assert built.inputs["skipPush"] is True
    assert built.inputs["build"]["dockerfile"] == "exporter/Dockerfile"
    exporter = dev_run.named(CONTAINER, "exporter")
    # The container runs the built digest, so a rebuild replaces it.
    assert exporter.inputs["image"].startswith("trading-monitoring/exporter@sha256:")
    assert built.urn in exporter.dependencies
    for container in dev_run.of_type(CONTAINER):
        assert not container.inputs["image"].endswith(":latest"), container.name


def test_ports_are_published_on_loopback_only(dev_run: StackRun) -> None:
    published = {}
    for container in dev_run.of_type(CONTAINER):
        for port in container.inputs.get("ports", []):
            assert port["ip"] == "127.0.0.1", container.name
            assert port["internal"] == PORTS[container.name.replace("-", "_")]
            published[container.name] = port["external"]
    assert set(published) == PUBLISHED


def test_data_volumes_survive_replacement(dev_run: StackRun) -> None:
    for volume in dev_run.of_type("docker:index/volume:Volume"):
        assert volume.retain_on_delete, volume.name
        assert volume.delete_before_replace, volume.name
    mounted = {}
    for container in dev_run.of_type(CONTAINER):
        for mount in container.inputs.get("volumes", []):
            if "volumeName" in mount:
                mounted[container.name] = (mount["volumeName"], mount["containerPath"])
    assert mounted == {
        "prometheus": ("tm-prometheus-data", "/prometheus"),
        "alertmanager": ("tm-alertmanager-data", "/alertmanager"),
        "grafana": ("tm-grafana-data", "/var/lib/grafana"),
        "loki": ("tm-loki-data", "/loki"),
        "alloy": ("tm-alloy-data", "/var/lib/alloy/data"),
        # The demo database: created by the exporter, fresh rows from the demo service.
        "exporter": ("tm-demo-data", "/demo"),
        "demo-service": ("tm-demo-data", "/demo"),
    }


def test_config_is_uploaded_to_the_containers_that_read_it(dev_run: StackRun) -> None:
    content = dev_run.stack.content

    def uploads(name: str) -> dict[str, str]:
        container = dev_run.named(CONTAINER, name)
        return {u["file"]: u["content"] for u in container.inputs.get("uploads", [])}

    prometheus = uploads("prometheus")
    assert prometheus["/etc/prometheus/prometheus.yml"] == content.prometheus_yml
    for file_name, text in content.rule_files.items():
        assert prometheus[f"/etc/prometheus/rules/{file_name}"] == text
    assert uploads("loki") == {"/etc/loki/loki.yml": content.loki_yml}
    assert uploads("alloy") == {"/etc/alloy/config.alloy": content.alloy_config}
    assert uploads("alertmanager") == {"/etc/alertmanager/alertmanager.yml": "[secret]"}
    assert set(uploads("grafana")) == {
        "/etc/grafana/secrets/admin_password",
        "/etc/grafana/secrets/secret_key",
    }
    assert set(uploads("grafana").values()) == {"[secret]"}


def _container_inputs(run: StackRun) -> dict[str, object]:
    return {r.name: r.inputs for r in run.of_type(CONTAINER)}


def test_a_config_change_touches_only_the_containers_that_read_it(dev_run: StackRun) -> None:
    before = _container_inputs(dev_run)
    cases = {
        "scrapeInterval": ("30s", {"prometheus"}),
        "logRetentionTime": ("336h", {"loki"}),
        "retentionTime": ("30d", {"prometheus"}),
    }
    for key, (value, expected) in cases.items():
        after = _container_inputs(run_stack("dev", overrides={key: value}))
        changed = {name for name in before if before[name] != after[name]}
        assert changed == expected, key


def test_grafana_server_settings(dev_run: StackRun) -> None:
    envs = dev_run.named(CONTAINER, "grafana").inputs["envs"]
    env = dict(item.split("=", 1) for item in envs)
    assert env["GF_SECURITY_ADMIN_USER"] == "tm-admin"
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/etc/grafana/secrets/admin_password"
    assert env["GF_SECURITY_SECRET_KEY__FILE"] == "/etc/grafana/secrets/secret_key"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    assert not any(re.search(r"admin:admin|=admin$", item) for item in envs)
    # Plain http on localhost: a Secure cookie or HSTS would lock the user out; CSP stays.
    assert env["GF_SERVER_ROOT_URL"].startswith("http://")
    assert "GF_SECURITY_COOKIE_SECURE" not in env
    assert "GF_SECURITY_STRICT_TRANSPORT_SECURITY" not in env
    assert env["GF_SECURITY_CONTENT_SECURITY_POLICY"] == "true"


def test_grafana_content_waits_for_a_healthy_grafana(dev_run: StackRun) -> None:
    grafana_container = dev_run.named(CONTAINER, "grafana")
    provider = dev_run.named("pulumi:providers:grafana", "grafana")
    assert grafana_container.urn in provider.dependencies
    assert provider.inputs["url"] == "http://127.0.0.1:3000"
    assert provider.inputs["auth"] == "[secret]"
    assert provider.inputs["retries"] >= 3
    grafana_resources = [r for r in dev_run.resources if r.type.startswith("grafana:")]
    assert grafana_resources
    for resource in grafana_resources:
        assert resource.provider is not None and resource.provider.startswith(provider.urn), (
            resource.name
        )


def test_dashboards_have_stable_uids_and_overwrite(dev_run: StackRun) -> None:
    import json

    boards = dev_run.of_type("grafana:oss/dashboard:Dashboard")
    folders = {r.inputs["uid"] for r in dev_run.of_type("grafana:oss/folder:Folder")}
    expected = {d.uid for d in dev_run.stack.dashboards}
    uids = set()
    for board in boards:
        model = json.loads(board.inputs["configJson"])
        uids.add(model["uid"])
        assert board.name == f"dashboard-{model['uid']}"
        assert board.inputs["overwrite"] is True
        assert board.inputs["folder"] in folders
    assert uids == expected


def test_datasources_point_at_containers_on_the_stack_network(dev_run: StackRun) -> None:
    names = {r.inputs["name"] for r in dev_run.of_type(CONTAINER)}
    aliases = {
        alias
        for r in dev_run.of_type(CONTAINER)
        for network in r.inputs["networksAdvanced"]
        for alias in network["aliases"]
        if network["name"] == "tm-monitoring"
    }
    assert aliases == names
    urls = {
        r.inputs["uid"]: r.inputs["url"]
        for r in dev_run.of_type("grafana:oss/dataSource:DataSource")
    }
    assert urls == {
        "prometheus": "http://tm-prometheus:9090",
        "loki": "http://tm-loki:3100",
        "alertmanager": "http://tm-alertmanager:9093",
    }
    for url in urls.values():
        assert url.split("//")[1].split(":")[0] in aliases


def test_exporter_command_lines_are_accepted_by_the_exporter_cli() -> None:
    import shlex

    from exporter.cli import _parser
    from infra.docker.target import exporter_entrypoint

    entrypoint, command = exporter_entrypoint(True, ["kr", "us"])
    assert entrypoint == ["python", "-m", "exporter"]
    args = _parser().parse_args(command)
    assert (args.command, args.db_url_file) == ("serve", "/etc/exporter/secrets/database_url")

    entrypoint, (script,) = exporter_entrypoint(False, ["kr", "us"])
    assert entrypoint == ["/bin/sh", "-c"]
    demo, serve = (shlex.split(part)[3:] for part in script.replace("exec ", "").split(" && "))
    assert _parser().parse_args(demo).regions == "kr,us"
    served = _parser().parse_args(serve)
    assert served.db == "/demo/trading-demo.db" and served.config == "/etc/exporter/config.yml"


def test_grafana_resets_the_admin_password_from_its_file_before_starting(
    dev_run: StackRun,
) -> None:
    """A retained volume keeps the old admin password; a new stack has a new one."""
    grafana = dev_run.named(CONTAINER, "grafana").inputs
    assert grafana["entrypoints"] == ["/bin/sh", "-c"]
    (script,) = grafana["command"]
    reset, start = script.split("; ")
    assert "reset-admin-password --password-from-stdin < /etc/grafana/secrets/admin_password" in (
        reset
    )
    assert start == "exec /run.sh"


def test_grafana_start_script_feeds_the_password_on_stdin_then_starts_grafana(
    tmp_path: Path,
) -> None:
    """Runs the real script with a fake `grafana` CLI and a fake /run.sh."""
    import stat
    import subprocess

    from infra.docker.target import grafana_start_script

    (tmp_path / "admin_password").write_text("pw-from-file")
    (tmp_path / "secret_key").write_text("key-from-file")
    fake_cli = tmp_path / "bin" / "grafana"
    fake_cli.parent.mkdir()
    fake_cli.write_text(
        "#!/bin/sh\n"
        f'echo "$*" > {tmp_path}/args\n'
        f"cat > {tmp_path}/stdin\n"
        f'echo "$GF_SECURITY_SECRET_KEY" > {tmp_path}/key\n'
        'exit "${FAKE_EXIT:-0}"\n'
    )
    run_sh = tmp_path / "run.sh"
    run_sh.write_text(f"#!/bin/sh\necho started > {tmp_path}/started\n")
    for script in (fake_cli, run_sh):
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    command = grafana_start_script(
        str(tmp_path / "admin_password"), str(tmp_path / "secret_key")
    ).replace("exec /run.sh", f"exec {run_sh}")
    for fake_exit in ("0", "1"):  # 1: fresh database, no admin user yet
        (tmp_path / "started").unlink(missing_ok=True)
        env = {"PATH": f"{fake_cli.parent}:/usr/bin:/bin", "FAKE_EXIT": fake_exit}
        subprocess.run(["/bin/sh", "-c", command], env=env, check=True, timeout=10)
        assert "admin reset-admin-password --password-from-stdin" in (tmp_path / "args").read_text()
        assert (tmp_path / "stdin").read_text() == "pw-from-file"
        assert (tmp_path / "key").read_text().strip() == "key-from-file"
        assert (tmp_path / "started").read_text().strip() == "started"
