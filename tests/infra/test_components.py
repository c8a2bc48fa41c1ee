"""Standard components (two PostgreSQL, one Redis, one NGINX) on both targets under Pulumi
mocks, their config errors, and the synth of that stack checked by promtool, amtool and the
provider schemas, with no password anywhere but in secret-wrapped inputs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.synth import SECRET, SynthError, synth
from monitoring.thirdparty import exporters
from tests.infra.harness import (
    REAL_SECRETS,
    StackRun,
    new_monitor,
    plain_strings,
    run_stack,
    stack_config,
)
from tests.infra.test_kubernetes import (
    DEPLOYMENT,
    NETPOL,
    PINNED,
    SECRET_TYPE,
    SERVICE,
    containers,
    k8s_objects,
    obj,
    pod_annotations,
    pod_spec,
)
from tests.infra.test_synth_artifacts import SCHEMA_CHECK, SCHEMAS
from tests.monitoring.test_component_rules import COMPONENTS as RULE_COMPONENTS

CONTAINER = "docker:index/container:Container"
# The monitoring tests' stack, with a replica of its own password and full TLS checks.
COMPONENTS: dict[str, Any] = {
    **RULE_COMPONENTS,
    "postgres": [
        RULE_COMPONENTS["postgres"][0],
        {
            **RULE_COMPONENTS["postgres"][1],
            "passwordSecret": "replicaDbPassword",
            "sslmode": "verify-full",
            "replicationLagQueries": False,
        },
    ],
}
PASSWORDS = {
    "tradingDbPassword": "Pg-Trading-P4ss-never-shown",
    "replicaDbPassword": "Pg-Replica-P4ss-never-shown",
    "cachePw": "Redis-P4ss-never-shown",
}
APPS = {
    "postgres-exporter-trading-db",
    "postgres-exporter-replica",
    "redis-exporter-cache",
    "nginx-exporter-edge",
}


@pytest.fixture(scope="module")
def dev_components() -> StackRun:
    return run_stack("dev", overrides={"components": COMPONENTS}, secrets=PASSWORDS)


@pytest.fixture(scope="module")
def prod_components() -> StackRun:
    return run_stack(
        "prod", overrides={"components": COMPONENTS}, secrets={**REAL_SECRETS, **PASSWORDS}
    )


def _no_password_outside_secrets(run: StackRun) -> None:
    for resource in run.resources:
        for text in plain_strings(resource.wire_inputs):
            for password in PASSWORDS.values():
                assert password not in text, f"{resource.type} {resource.name} leaks a password"
    wire = json.dumps([r.wire_inputs for r in run.resources])
    for password in PASSWORDS.values():
        assert password in wire  # delivered, inside secret-wrapped inputs


# --- Docker -------------------------------------------------------------------------------


def test_dev_runs_one_exporter_container_per_instance(dev_components: StackRun) -> None:
    containers_by_name = {r.name: r for r in dev_components.of_type(CONTAINER)}
    assert set(containers_by_name) >= APPS
    images = {
        r.inputs["name"] for r in dev_components.of_type("docker:index/remoteImage:RemoteImage")
    }
    for app in APPS:
        container = containers_by_name[app]
        assert container.inputs["name"] == f"tm-{app}"
        assert container.inputs["restart"] == "unless-stopped"
        assert container.inputs["memory"] > 0 and container.inputs["cpus"]
        assert "ports" not in container.inputs  # scraped on the stack network only
    assert {i for i in images if "exporter:" in i or "exporter@" in i} >= {
        "quay.io/prometheuscommunity/postgres-exporter:v0.17.1",
        "oliver006/redis_exporter:v1.91.1-alpine",
        "nginx/nginx-prometheus-exporter:1.4.2",
    }
    for image in images:
        assert PINNED.match(image) and not image.endswith(":latest"), image
    # busybox/alpine images are healthchecked; the scratch NGINX image cannot be.
    assert containers_by_name["postgres-exporter-trading-db"].inputs["healthcheck"]["tests"]
    assert containers_by_name["redis-exporter-cache"].inputs["wait"] is True
    assert "healthcheck" not in containers_by_name["nginx-exporter-edge"].inputs
    assert containers_by_name["nginx-exporter-edge"].inputs["wait"] is False


def test_dev_passwords_are_secret_files_never_env(dev_components: StackRun) -> None:
    postgres = dev_components.named(CONTAINER, "postgres-exporter-trading-db").inputs
    assert set(postgres["envs"]) == {
        "DATA_SOURCE_URI=db.internal:5432/trading?sslmode=require",
        "DATA_SOURCE_USER=exporter",
        f"DATA_SOURCE_PASS_FILE={exporters.SECRETS_DIR}/password",
    }
    uploads = {u["file"]: u["content"] for u in postgres["uploads"]}
    assert uploads[f"{exporters.SECRETS_DIR}/password"] == SECRET
    assert "pg_replica" in uploads[f"{exporters.CONFIG_DIR}/queries.yml"]
    assert f"--extend.query-path={exporters.CONFIG_DIR}/queries.yml" in postgres["command"]
    redis = dev_components.named(CONTAINER, "redis-exporter-cache").inputs
    assert "--redis.addr=redis://cache.internal:6379" in redis["command"]
    redis_uploads = {u["file"]: u["content"] for u in redis["uploads"]}
    assert redis_uploads == {f"{exporters.SECRETS_DIR}/redis-passwords.json": SECRET}
    _no_password_outside_secrets(dev_components)
    wire = json.dumps(dev_components.named(CONTAINER, "redis-exporter-cache").wire_inputs)
    assert (
        json.dumps(json.dumps({"redis://cache.internal:6379": PASSWORDS["cachePw"]}))[1:-1] in wire
    )


def test_dev_prometheus_scrapes_every_instance_with_component_and_name(
    dev_components: StackRun,
) -> None:
    prometheus = dev_components.named(CONTAINER, "prometheus").inputs
    (config,) = [
        u["content"] for u in prometheus["uploads"] if u["file"].endswith("prometheus.yml")
    ]
    jobs = {job["job_name"]: job for job in yaml.safe_load(config)["scrape_configs"]}
    assert jobs["postgres"]["static_configs"] == [
        {
            "targets": ["tm-postgres-exporter-trading-db:9187"],
            "labels": {"component": "postgres", "name": "trading-db"},
        },
        {
            "targets": ["tm-postgres-exporter-replica:9187"],
            "labels": {"component": "postgres", "name": "replica"},
        },
    ]
    assert jobs["nginx"]["static_configs"][0]["targets"] == ["tm-nginx-exporter-edge:9113"]
    rule_files = {u["file"].rsplit("/", 1)[1] for u in prometheus["uploads"]}
    assert {"postgres.yml", "redis.yml", "nginx.yml"} <= rule_files
    uids = {d.uid for d in dev_components.stack.dashboards}
    assert {"tm-postgres", "tm-redis", "tm-nginx"} <= uids


# --- Kubernetes ---------------------------------------------------------------------------


def test_prod_runs_one_restricted_deployment_per_instance(prod_components: StackRun) -> None:
    for app in APPS:
        deployment = obj(prod_components, DEPLOYMENT, app)
        pod = pod_spec(deployment)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        (container,) = containers(deployment)
        assert PINNED.match(container["image"])
        assert container["readinessProbe"]["httpGet"]["port"] == "metrics"
        assert container["livenessProbe"]["httpGet"]["path"] == "/"
        assert set(container["resources"]["limits"]) == {"cpu", "memory"}
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        service = obj(prod_components, SERVICE, app)
        assert service.inputs["spec"]["ports"][0]["name"] == "metrics"


def test_prod_passwords_are_secret_volumes_never_env(prod_components: StackRun) -> None:
    deployment = obj(prod_components, DEPLOYMENT, "postgres-exporter-replica")
    (container,) = containers(deployment)
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["DATA_SOURCE_URI"] == "replica.internal:5432/trading?sslmode=verify-full"
    assert env["DATA_SOURCE_PASS_FILE"] == f"{exporters.SECRETS_DIR}/password"
    assert all("valueFrom" not in e for e in container["env"])
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert volumes["secrets"]["secret"]["secretName"] == "postgres-exporter-replica"
    secret = obj(prod_components, SECRET_TYPE, "postgres-exporter-replica")
    assert secret.inputs["stringData"] == SECRET  # the whole map is a secret Output
    assert re.match(r"^[0-9a-f]{64}$", pod_annotations(deployment)["checksum/secret"])
    assert "postgres-exporter-replica" not in {
        k[1] for k in k8s_objects(prod_components, "kubernetes:core/v1:ConfigMap")
    }  # no queries file for the replica entry
    _no_password_outside_secrets(prod_components)


def test_prod_prometheus_scrapes_the_services(prod_components: StackRun) -> None:
    config_maps = k8s_objects(prod_components, "kubernetes:core/v1:ConfigMap")
    text = "\n".join(json.dumps(c.inputs.get("data", {})) for c in config_maps.values())
    assert "redis-exporter-cache.monitoring.svc.cluster.local:9121" in text


# --- Config errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("components", "secrets", "expected"),
    [
        (COMPONENTS, {k: v for k, v in PASSWORDS.items() if k != "cachePw"}, "cachePw is not set"),
        (
            {"redis": [{**COMPONENTS["redis"][0], "address": "cache:6379"}]},
            {"cachePw": "x"},
            "components.redis[0].address = 'cache:6379' is invalid",
        ),
        (
            {"postgres": [{**COMPONENTS["postgres"][0], "passwordSecret": "slackApiUrl"}]},
            {},
            "components.postgres[0].passwordSecret = 'slackApiUrl' is invalid",
        ),
    ],
    ids=["unset secret", "bad address", "secret named like a product key"],
)
def test_bad_components_are_refused_before_any_resource(
    components: dict[str, Any], secrets: dict[str, str], expected: str
) -> None:
    monitor = new_monitor()
    with pytest.raises(SynthError) as raised:
        run_stack("dev", overrides={"components": components}, secrets=secrets, monitor=monitor)
    assert expected in str(raised.value)
    assert monitor.recorded == []
    for password in PASSWORDS.values():
        assert password not in str(raised.value)


def _write_stack(tmp_path: Path, stack: str, extra: dict[str, Any]) -> Path:
    config = stack_config(stack, {"components": COMPONENTS})
    document = {"config": {f"trading-monitoring:{k}": v for k, v in config.items()}}
    document["config"].update({f"trading-monitoring:{k}": v for k, v in extra.items()})
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def test_a_password_set_without_secret_is_refused(tmp_path: Path) -> None:
    _write_stack(tmp_path, "dev", {"cachePw": PASSWORDS["cachePw"]})
    with pytest.raises(SynthError) as raised:
        synth("dev", tmp_path / "out", project_dir=tmp_path)
    message = str(raised.value)
    assert "trading-monitoring:cachePw = '[secret]' is stored in plain text" in message
    assert PASSWORDS["cachePw"] not in message
    assert not (tmp_path / "out").exists()


# --- Synth of both targets ------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_synth_with_components_passes_promtool_amtool_and_the_schemas(
    stack: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    synth(stack, out, project_dir=_write_stack(tmp_path, stack, {}))
    files = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file()}
    assert {"rules/postgres.yml", "rules/redis.yml", "rules/nginx.yml"} <= set(files)
    assert "exporters/redis-cache/redis-passwords.json" in files
    assert "dashboards/tm-postgres.json" in files
    checks = [
        [
            "promtool",
            "check",
            "rules",
            *(str(p) for n, p in files.items() if n.startswith("rules/")),
        ],
        ["amtool", "check-config", str(files["alertmanager.yml"])],
    ]
    if stack == "dev":  # prod's kubernetes_sd_configs are unknown to Debian's promtool 2.42
        checks.append(
            ["promtool", "check", "config", "--syntax-only", str(files["prometheus.yml"])]
        )
    assert SCHEMA_CHECK.exists(), "the provider schema checker (shared/tools) is missing"
    checks.append(
        [sys.executable, str(SCHEMA_CHECK), str(files["plan.json"]), "--schemas", str(SCHEMAS)]
    )
    for command in checks:
        if shutil.which(command[0]) is None and command[0] != sys.executable:
            pytest.fail(f"{command[0]} is not installed: run `make tools`")
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        if command[0] == sys.executable:
            assert " 0 violations" in result.stdout
    text = "\n".join(p.read_text() for p in files.values())
    for password in PASSWORDS.values():
        assert password not in text
    assert "placeholder-cachePw" in files["exporters/redis-cache/redis-passwords.json"].read_text()


def test_prod_each_component_exporter_may_reach_only_its_instance_port(
    prod_components: StackRun,
) -> None:
    expected = {
        "postgres-exporter-trading-db": 5432,
        "postgres-exporter-replica": 5432,
        "redis-exporter-cache": 6379,
        "nginx-exporter-edge": 8080,
    }
    assert set(expected) == APPS
    for app, port in expected.items():
        policy = obj(prod_components, NETPOL, f"allow-{app}-egress").inputs["spec"]
        assert policy["policyTypes"] == ["Egress"]
        assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == app
        ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
        assert ports == {port}
