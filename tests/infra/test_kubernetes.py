"""The prod (Kubernetes) stack under Pulumi mocks: inventory, pod hardening, secrets, HA.

Each fixture runs the real program once (Pulumi.prod.yaml plus overrides) and records every
resource's inputs as the provider would get them (camelCase wire names, secrets wrapped).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.kubernetes.common import sha256_data
from infra.synth import SECRET, RecordedResource, SynthError
from tests.infra.harness import REAL_SECRETS, StackRun, plain_strings, run_stack

NS = "monitoring"
NODE_NS = "monitoring-node"
K8S = "kubernetes:"
NAMESPACE = "kubernetes:core/v1:Namespace"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET_TYPE = "kubernetes:core/v1:Secret"
SERVICE = "kubernetes:core/v1:Service"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
WORKLOADS = (STATEFULSET, DEPLOYMENT, DAEMONSET)
NETWORK_POLICY = NETPOL
HOST_ACCESS = {"node-exporter"}  # the only workload allowed host access
PINNED = re.compile(r"^[^@\s]+(:[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[0-9a-f]{64})$")


@pytest.fixture(scope="module")
def prod_run() -> StackRun:
    """Pulumi.prod.yaml as committed, with every secret key set to a real-looking value."""
    return run_stack("prod", secrets=REAL_SECRETS)


def k8s_objects(run: StackRun, typ: str | None = None) -> dict[tuple[str, str], RecordedResource]:
    """(namespace, metadata.name) -> resource, for one type (or every Kubernetes object)."""
    found: dict[tuple[str, str], RecordedResource] = {}
    for resource in run.resources:
        if not resource.type.startswith(K8S) or (typ is not None and resource.type != typ):
            continue
        meta = resource.inputs["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        assert (resource.type, key) not in {(r.type, k) for k, r in found.items()}, key
        found[key] = resource
    return found


def obj(run: StackRun, typ: str, name: str, namespace: str = NS) -> RecordedResource:
    return k8s_objects(run, typ)[(namespace, name)]


def pod_spec(workload: RecordedResource) -> dict[str, Any]:
    spec: dict[str, Any] = workload.inputs["spec"]["template"]["spec"]
    return spec


def containers(workload: RecordedResource) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def pod_annotations(workload: RecordedResource) -> dict[str, str]:
    result: dict[str, str] = workload.inputs["spec"]["template"]["metadata"].get("annotations", {})
    return result


# --- Inventory ----------------------------------------------------------------------------


def test_inventory(prod_run: StackRun) -> None:
    objects = {
        (resource.type.split(":")[-1], *key)
        for typ in {r.type for r in prod_run.resources if r.type.startswith(K8S)}
        for key, resource in k8s_objects(prod_run, typ).items()
    }
    expected = {
        ("Namespace", "", NS),
        ("Namespace", "", NODE_NS),
        *{
            ("NetworkPolicy", NS, name)
            for name in (
                "default-deny-ingress",
                "allow-prometheus-scrape",
                "allow-alertmanager-api",
                "allow-alertmanager-gossip",
                "allow-grafana-to-prometheus",
                "allow-loki-push-and-query",
                "allow-ingress-controller-to-grafana",
                "allow-ingress-controller-to-acme-solver",
            )
        },
        ("NetworkPolicy", NODE_NS, "default-deny-ingress"),
        ("NetworkPolicy", NODE_NS, "allow-prometheus-scrape"),
        *{("NetworkPolicy", ns, name) for ns in (NS, NODE_NS) for name in EGRESS_BASE},
        *{("NetworkPolicy", NS, f"allow-{app}-egress") for app in EGRESS_APPS},
        ("ServiceAccount", NS, "prometheus"),
        ("ServiceAccount", NS, "alloy"),
        ("ServiceAccount", NODE_NS, "node-exporter"),
        ("ServiceAccount", NS, "kube-state-metrics"),
        ("Role", NS, "kube-state-metrics"),
        ("Role", NODE_NS, "kube-state-metrics"),
        ("RoleBinding", NS, "kube-state-metrics"),
        ("RoleBinding", NODE_NS, "kube-state-metrics"),
        ("Deployment", NS, "kube-state-metrics"),
        ("ClusterRole", "", "monitoring-prometheus"),
        ("ClusterRole", "", "monitoring-alloy"),
        ("ClusterRoleBinding", "", "monitoring-prometheus"),
        ("ClusterRoleBinding", "", "monitoring-alloy"),
        ("ClusterRole", "", "monitoring-node-exporter"),
        ("ClusterRoleBinding", "", "monitoring-node-exporter"),
        *{
            ("ConfigMap", NS, name)
            for name in (
                "prometheus-config",
                "prometheus-rules",
                "loki-config",
                "alloy-config",
                "exporter-config",
            )
        },
        *{
            ("Secret", NS, name)
            for name in (
                "alertmanager-config",
                "alertmanager-receivers",
                "grafana-secrets",
                "exporter-registry",
                "exporter-database",
            )
        },
        *{
            ("Service", NS, name)
            for name in ("prometheus", "alertmanager", "loki", "grafana", "exporter")
        },
        ("StatefulSet", NS, "prometheus"),
        ("StatefulSet", NS, "alertmanager"),
        ("StatefulSet", NS, "loki"),
        ("Deployment", NS, "grafana"),
        ("Deployment", NS, "exporter"),
        ("DaemonSet", NS, "alloy"),
        ("DaemonSet", NODE_NS, "node-exporter"),
        *{
            ("PodDisruptionBudget", NS, name)
            for name in ("prometheus", "alertmanager", "grafana", "exporter")
        },
        ("PersistentVolumeClaim", NS, "grafana-data"),
        ("Ingress", NS, "grafana"),
        ("Certificate", NS, "grafana-tls"),
    }
    assert objects == expected
    others = Counter(r.type for r in prod_run.resources if not r.type.startswith(K8S))
    assert others["pulumi:providers:kubernetes"] == 1
    assert others["docker:index/image:Image"] == 1
    assert not [r for r in prod_run.resources if r.type.startswith("docker:index/container")]


def test_every_kubernetes_object_uses_the_stack_provider(prod_run: StackRun) -> None:
    provider = prod_run.named("pulumi:providers:kubernetes", "prod-k8s")
    assert provider.inputs["enableServerSideApply"] is True
    # ConfigMaps/Secrets update in place; the checksums on pod templates roll the pods.
    assert provider.inputs["enableConfigMapMutable"] is True
    assert provider.inputs["enableSecretMutable"] is True
    assert "kubeconfig" not in provider.inputs  # ambient kubeconfig in Pulumi.prod.yaml
    for resource in prod_run.resources:
        if resource.type.startswith(K8S):
            assert resource.provider is not None
            assert resource.provider.startswith(provider.urn), resource.name


def test_kubeconfig_from_config_is_a_secret() -> None:
    run = run_stack(
        "prod",
        overrides={"kubernetes": _prod_kubernetes(kubeconfig="/home/ci/.kube/prod.yaml")},
        secrets=REAL_SECRETS,
    )
    provider = run.named("pulumi:providers:kubernetes", "prod-k8s")
    assert provider.inputs["kubeconfig"] == SECRET


INLINE_KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user: {token: Kc-T0ken}\n"


def test_an_inline_kubeconfig_in_plain_config_is_refused() -> None:
    with pytest.raises(SynthError) as raised:
        run_stack(
            "prod",
            overrides={"kubernetes": _prod_kubernetes(kubeconfig=INLINE_KUBECONFIG)},
            secrets=REAL_SECRETS,
        )
    message = str(raised.value)
    assert "kubernetes.kubeconfig = '[inline kubeconfig]' is invalid" in message
    assert "pulumi config set --secret --path kubernetes.kubeconfig" in message
    assert "Kc-T0ken" not in message


def test_an_inline_kubeconfig_as_a_nested_secret_is_accepted() -> None:
    """`pulumi config set --secret --path kubernetes.kubeconfig ...` makes `kubernetes` secret."""
    kubernetes = json.dumps(_prod_kubernetes(kubeconfig=INLINE_KUBECONFIG))
    run = run_stack("prod", secrets={**REAL_SECRETS, "kubernetes": kubernetes})
    provider = run.named("pulumi:providers:kubernetes", "prod-k8s")
    assert provider.inputs["kubeconfig"] == SECRET
    for resource in run.resources:
        assert "Kc-T0ken" not in json.dumps(list(plain_strings(resource.wire_inputs)))


def test_synth_reads_nested_secrets_of_a_stack_file(tmp_path: Path) -> None:
    from infra import synth

    document = yaml.safe_load((Path(synth.PROJECT_DIR) / "Pulumi.prod.yaml").read_text())
    document["config"]["trading-monitoring:kubernetes"]["kubeconfig"] = {"secure": "v1:AAAA"}
    (tmp_path / "Pulumi.nested.yaml").write_text(yaml.safe_dump(document))
    values, secure = synth.read_stack_file(tmp_path / "Pulumi.nested.yaml")
    assert "kubernetes" in secure
    assert "v1:AAAA" not in values["kubernetes"]
    out = tmp_path / "out"
    args = ["synth", "--stack", "nested", "--out", str(out), "--project-dir", str(tmp_path)]
    assert synth.main(args) == 0
    plan = json.loads((out / "plan.json").read_text())
    (provider,) = [r for r in plan["resources"] if r["type"] == "pulumi:providers:kubernetes"]
    assert provider["inputs"]["kubeconfig"] == SECRET


# --- Pod hardening ------------------------------------------------------------------------


def test_every_container_is_probed_limited_pinned_and_restricted(prod_run: StackRun) -> None:
    workloads = [r for t in WORKLOADS for r in k8s_objects(prod_run, t).values()]
    assert len(workloads) == 8
    for workload in workloads:
        name = workload.inputs["metadata"]["name"]
        pod = pod_spec(workload)
        pod_security = pod["securityContext"]
        assert pod_security["runAsNonRoot"] is True, name
        assert pod_security["runAsUser"] > 0, name
        assert pod_security["fsGroup"] > 0, name
        assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in containers(workload):
            where = f"{name}/{container['name']}"
            assert "readinessProbe" in container, where
            assert "livenessProbe" in container, where
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert set(resources[kind]) == {"cpu", "memory"}, where
            image = container["image"]
            assert PINNED.match(image) and not image.endswith(":latest"), where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["privileged"] is False, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["runAsNonRoot"] is True, where
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert "add" not in security["capabilities"], where
        host_access = any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")) or any(
            "hostPath" in volume for volume in pod.get("volumes", [])
        )
        assert host_access == (name in HOST_ACCESS), name


def test_only_node_exporter_has_host_access_in_its_own_privileged_namespace(
    prod_run: StackRun,
) -> None:
    namespaces = k8s_objects(prod_run, NAMESPACE)
    main_labels = namespaces[("", NS)].inputs["metadata"]["labels"]
    node_labels = namespaces[("", NODE_NS)].inputs["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert main_labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert node_labels[f"pod-security.kubernetes.io/{mode}"] == "privileged"
    in_node_ns = [key for t in WORKLOADS for key in k8s_objects(prod_run, t) if key[0] == NODE_NS]
    assert in_node_ns == [(NODE_NS, "node-exporter")]
    node_exporter = obj(prod_run, DAEMONSET, "node-exporter", NODE_NS)
    pod = pod_spec(node_exporter)
    assert pod["hostNetwork"] is True and pod["hostPID"] is True
    assert pod["automountServiceAccountToken"] is True  # kube-rbac-proxy's TokenReviews
    assert pod["volumes"] == [{"name": "root", "hostPath": {"path": "/"}}]
    container, proxy = pod["containers"]
    assert "volumeMounts" not in proxy
    (mount,) = container["volumeMounts"]
    assert mount["readOnly"] is True and mount["mountPath"] == "/host/root"
    assert "--path.rootfs=/host/root" in container["args"]
    # Alloy reads logs through the API (loki.source.kubernetes), so it needs no host access.
    alloy = obj(prod_run, DAEMONSET, "alloy")
    assert not any("hostPath" in v for v in pod_spec(alloy)["volumes"])
    assert (
        "loki.source.kubernetes"
        in obj(prod_run, CONFIG_MAP, "alloy-config").inputs["data"]["config.alloy"]
    )


def test_discovery_contract_labels_and_metrics_ports(prod_run: StackRun) -> None:
    """prometheus.yml keeps DaemonSet pods labelled app.kubernetes.io/name=<app> whose
    container port is named `metrics`."""
    for namespace, name in ((NODE_NS, "node-exporter"), (NS, "alloy")):
        daemonset = obj(prod_run, DAEMONSET, name, namespace)
        labels = daemonset.inputs["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == name
        ports = [p["name"] for c in pod_spec(daemonset)["containers"] for p in c.get("ports", [])]
        assert ports == ["metrics"]  # node-exporter: its kube-rbac-proxy's port
    prometheus_yml = yaml.safe_load(
        obj(prod_run, CONFIG_MAP, "prometheus-config").inputs["data"]["prometheus.yml"]
    )
    sd_jobs = {
        job["job_name"]: job["kubernetes_sd_configs"]
        for job in prometheus_yml["scrape_configs"]
        if "kubernetes_sd_configs" in job
    }
    assert sd_jobs["node"] == [{"role": "pod", "namespaces": {"names": [NODE_NS]}}]


# --- Secrets ------------------------------------------------------------------------------


def _mock_passwords(run: StackRun) -> list[str]:
    from infra.synth import _mock_outputs

    return [
        _mock_outputs(r.type, r.name, r.inputs)["result"]["value"]
        for r in run.of_type("random:index/randomPassword:RandomPassword")
    ]


def _secret_values(resource: RecordedResource) -> str:
    """Every secret-wrapped value of a resource's wire inputs, as one string."""
    found: list[Any] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "4dabf18193072939515e22adb298388d" in value:
                found.append(value["value"])
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(resource.wire_inputs)
    return json.dumps(found)


def test_secrets_hold_the_secret_data(prod_run: StackRun) -> None:
    def secret_data(name: str) -> str:
        return _secret_values(obj(prod_run, SECRET_TYPE, name))

    assert REAL_SECRETS["heartbeatUrl"] in secret_data("alertmanager-config")
    receivers = secret_data("alertmanager-receivers")
    for key in ("slackApiUrl", "pagerdutyRoutingKey", "smtpPassword"):
        assert REAL_SECRETS[key] in receivers, key
    grafana = secret_data("grafana-secrets")
    for password in _mock_passwords(prod_run):
        assert password in grafana
    assert REAL_SECRETS["smtpPassword"] in grafana
    assert REAL_SECRETS["exporterDatabaseDsn"] in secret_data("exporter-database")
    pull = obj(prod_run, SECRET_TYPE, "exporter-registry")
    assert pull.inputs["type"] == "kubernetes.io/dockerconfigjson"
    assert REAL_SECRETS["registryPassword"] in secret_data("exporter-registry")
    image = prod_run.of_type("docker:index/image:Image")[0]
    assert REAL_SECRETS["registryPassword"] in _secret_values(image)


def test_no_secret_in_any_plain_input(prod_run: StackRun) -> None:
    """ConfigMaps, env, args, labels, annotations: no secret value outside a secret input."""
    secrets = [*REAL_SECRETS.values(), *_mock_passwords(prod_run)]
    checked = 0
    for resource in prod_run.resources:
        for text in plain_strings(resource.wire_inputs):
            checked += 1
            for secret in secrets:
                assert secret not in text, f"{resource.type} {resource.name} leaks a secret"
    assert checked > 1000


def _has_secret(value: Any) -> bool:
    """True when a (redacted) input holds a secret anywhere inside."""
    return SECRET in json.dumps(value)


def test_secrets_reach_pods_as_files_never_env(prod_run: StackRun) -> None:
    """A secret Output in env/args/labels/annotations/ConfigMap data would reach the cluster in
    plain text (only Secret objects protect it), so none may hold one."""
    for resource in prod_run.resources:
        if resource.type.startswith(K8S):
            meta = resource.inputs.get("metadata", {})
            assert not _has_secret([meta.get("labels"), meta.get("annotations")]), resource.name
    for config_map in k8s_objects(prod_run, CONFIG_MAP).values():
        assert not _has_secret(config_map.inputs["data"]), config_map.name
    for typ in WORKLOADS:
        for workload in k8s_objects(prod_run, typ).values():
            template = workload.inputs["spec"]["template"]
            assert not _has_secret(template["metadata"]), workload.name
            for container in containers(workload):
                for env in container.get("env", []):
                    assert "secretKeyRef" not in env.get("valueFrom", {}), env
                assert not _has_secret(container.get("env")), workload.name
                assert not _has_secret([container.get("args"), container.get("command")])
    grafana = obj(prod_run, DEPLOYMENT, "grafana")
    (container,) = pod_spec(grafana)["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/etc/grafana/secrets/admin_password"
    assert env["GF_SECURITY_SECRET_KEY__FILE"] == "/etc/grafana/secrets/secret_key"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    # Served over https through the ingress: secure cookies, HSTS and a CSP.
    assert env["GF_SERVER_ROOT_URL"].startswith("https://")
    assert env["GF_SECURITY_COOKIE_SECURE"] == "true"
    assert env["GF_SECURITY_STRICT_TRANSPORT_SECURITY"] == "true"
    assert int(env["GF_SECURITY_STRICT_TRANSPORT_SECURITY_MAX_AGE_SECONDS"]) >= 31536000
    assert env["GF_SECURITY_CONTENT_SECURITY_POLICY"] == "true"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(grafana)["volumes"]}
    assert volumes[mounts["/etc/grafana/secrets"]]["secret"]["secretName"] == "grafana-secrets"
    exporter = obj(prod_run, DEPLOYMENT, "exporter")
    (container,) = pod_spec(exporter)["containers"]
    assert "--db-url-file=/etc/exporter/secrets/database_url" in container["args"]


# --- Checksums roll pods ------------------------------------------------------------------


def _checksums(run: StackRun) -> dict[str, dict[str, str]]:
    return {
        key[1]: pod_annotations(workload)
        for typ in WORKLOADS
        for key, workload in k8s_objects(run, typ).items()
    }


def test_config_checksums_match_the_config_maps(prod_run: StackRun) -> None:
    prometheus_data = {
        **obj(prod_run, CONFIG_MAP, "prometheus-config").inputs["data"],
        **obj(prod_run, CONFIG_MAP, "prometheus-rules").inputs["data"],
    }
    checksums = _checksums(prod_run)
    assert checksums["prometheus"]["checksum/config"] == sha256_data(prometheus_data)
    for workload, config_map in (
        ("loki", "loki-config"),
        ("alloy", "alloy-config"),
        ("exporter", "exporter-config"),
    ):
        data = obj(prod_run, CONFIG_MAP, config_map).inputs["data"]
        assert checksums[workload]["checksum/config"] == sha256_data(data), workload
    for workload in ("alertmanager", "exporter", "grafana"):
        value = checksums[workload]["checksum/secret"]
        assert re.fullmatch(r"[0-9a-f]{64}", value), workload  # keyed, so shown in plain


def test_a_change_rolls_exactly_the_pods_that_read_it(prod_run: StackRun) -> None:
    before = _checksums(prod_run)
    slower = run_stack("prod", overrides={"scrapeInterval": "30s"}, secrets=REAL_SECRETS)
    after = _checksums(slower)
    changed = {name for name in before if before[name] != after[name]}
    assert "prometheus" in changed
    assert not changed & {"alertmanager", "grafana", "loki", "alloy"}
    other_heartbeat = {**REAL_SECRETS, "heartbeatUrl": "https://hc-ping.com/another-check-id"}
    rotated = _checksums(run_stack("prod", secrets=other_heartbeat))
    changed = {name for name in before if before[name] != rotated[name]}
    assert changed == {"alertmanager"}


# --- HA: Prometheus pair, Alertmanager cluster ---------------------------------------------


def test_prometheus_pair_with_pvcs_retention_and_replica_label(prod_run: StackRun) -> None:
    statefulset = obj(prod_run, STATEFULSET, "prometheus")
    spec = statefulset.inputs["spec"]
    assert spec["replicas"] == 2
    assert spec["serviceName"] == "prometheus"
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    (container,) = pod_spec(statefulset)["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/prometheus"
    args = container["args"]
    assert "--storage.tsdb.retention.time=30d" in args
    assert "--storage.tsdb.retention.size=45GB" in args
    assert "--storage.tsdb.path=/prometheus" in args
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]}
    assert env == {"HOSTNAME": "metadata.name"}
    config = yaml.safe_load(
        obj(prod_run, CONFIG_MAP, "prometheus-config").inputs["data"]["prometheus.yml"]
    )
    assert config["global"]["external_labels"]["replica"] == "${HOSTNAME}"
    assert {"action": "labeldrop", "regex": "replica"} in config["alerting"][
        "alert_relabel_configs"
    ]


def test_prometheus_may_discover_and_read_kubelet_metrics(prod_run: StackRun) -> None:
    role = k8s_objects(prod_run, CLUSTER_ROLE)[("", "monitoring-prometheus")]
    granted = {
        (resource, verb)
        for rule in role.inputs["rules"]
        for resource in rule.get("resources", [])
        for verb in rule["verbs"]
    }
    assert ("nodes/proxy", "get") not in granted  # would allow exec in every container
    for needed in (
        ("nodes/metrics", "get"),  # /metrics/cadvisor and /metrics (volume stats)
        ("pods", "list"),
        ("pods", "watch"),
        ("nodes", "list"),
    ):
        assert needed in granted
    assert not {verb for _, verb in granted} - {"get", "list", "watch"}  # read-only
    binding = k8s_objects(prod_run, CLUSTER_ROLE_BINDING)[("", "monitoring-prometheus")]
    assert binding.inputs["roleRef"]["name"] == "monitoring-prometheus"
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": "prometheus", "namespace": NS}
    ]
    pod = pod_spec(obj(prod_run, STATEFULSET, "prometheus"))
    assert pod["serviceAccountName"] == "prometheus"


def test_alertmanager_cluster_of_three_peers(prod_run: StackRun) -> None:
    statefulset = obj(prod_run, STATEFULSET, "alertmanager")
    assert statefulset.inputs["spec"]["replicas"] == 3
    assert statefulset.inputs["spec"]["podManagementPolicy"] == "Parallel"
    (container,) = pod_spec(statefulset)["containers"]
    peers = sorted(a.split("=", 1)[1] for a in container["args"] if a.startswith("--cluster.peer"))
    host = "alertmanager.monitoring.svc.cluster.local"
    assert peers == [f"alertmanager-{i}.{host}:9094" for i in range(3)]
    ports = {(p["containerPort"], p["protocol"]) for p in container["ports"]}
    assert {(9094, "TCP"), (9094, "UDP"), (9093, "TCP")} <= ports
    service = obj(prod_run, SERVICE, "alertmanager")
    assert service.inputs["spec"]["clusterIP"] == "None"
    assert service.inputs["spec"]["publishNotReadyAddresses"] is True
    assert {(p["port"], p["protocol"]) for p in service.inputs["spec"]["ports"]} == {
        (9093, "TCP"),
        (9094, "TCP"),
        (9094, "UDP"),
    }
    config = yaml.safe_load(
        obj(prod_run, CONFIG_MAP, "prometheus-config").inputs["data"]["prometheus.yml"]
    )
    (alertmanagers,) = config["alerting"]["alertmanagers"]
    assert alertmanagers["static_configs"][0]["targets"] == [
        f"alertmanager-{i}.{host}:9093" for i in range(3)
    ]


def test_disruption_budgets(prod_run: StackRun) -> None:
    budgets = k8s_objects(prod_run, PDB)
    assert {name for _, name in budgets} == {"prometheus", "alertmanager", "grafana", "exporter"}
    for (_, name), budget in budgets.items():
        spec = budget.inputs["spec"]
        assert spec["maxUnavailable"] == 1
        workload = next(
            w
            for t in WORKLOADS
            for (ns, n), w in k8s_objects(prod_run, t).items()
            if n == name and ns == NS
        )
        pod_labels = workload.inputs["spec"]["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= pod_labels.items(), name


# --- Network policies ---------------------------------------------------------------------


def _allowed(run: StackRun) -> set[tuple[str, str, str, int | None, str | None]]:
    """(namespace, target app, source, port, protocol) for every allowed ingress flow."""
    flows = set()
    for (namespace, _), policy in k8s_objects(run, NETPOL).items():
        spec = policy.inputs["spec"]
        if spec["policyTypes"] == ["Egress"]:
            continue  # test_egress_* below
        assert spec["policyTypes"] == ["Ingress"]
        labels = spec["podSelector"].get("matchLabels", {})
        target = labels.get("app.kubernetes.io/name") or (
            "acme-solver" if labels.get("acme.cert-manager.io/http01-solver") == "true" else "*"
        )
        for rule in spec.get("ingress", []):
            for peer in rule["from"]:
                source = (
                    peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
                    or "ns:"
                    + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                )
                for port in rule.get("ports", [{"port": None, "protocol": None}]):
                    flows.add((namespace, target, source, port["port"], port["protocol"]))
    return flows


EGRESS_BASE = ("default-deny-egress", "allow-dns-egress")
EGRESS_APPS = (
    "prometheus",
    "alertmanager",
    "grafana",
    "loki",
    "alloy",
    "kube-state-metrics",
    "exporter",
)


def _egress(run: StackRun, name: str) -> list[dict[str, Any]]:
    spec = obj(run, NETWORK_POLICY, name).inputs["spec"]
    assert spec["policyTypes"] == ["Egress"]
    rules: list[dict[str, Any]] = spec.get("egress", [])
    return rules


def _external_ports(rules: list[dict[str, Any]]) -> set[int]:
    return {
        port["port"]
        for rule in rules
        if any("ipBlock" in peer for peer in rule.get("to", []))
        for port in rule["ports"]
    }


def test_egress_is_denied_by_default_and_allowed_per_component(prod_run: StackRun) -> None:
    for namespace in (NS, NODE_NS):
        deny = obj(prod_run, NETWORK_POLICY, "default-deny-egress", namespace).inputs["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Egress"], "egress": []}
    # Each workload of the main namespace has its own egress policy, selecting its pods.
    workloads = {
        w.inputs["metadata"]["name"]
        for t in WORKLOADS
        for (ns, _), w in k8s_objects(prod_run, t).items()
        if ns == NS
    }
    assert workloads == set(EGRESS_APPS)
    for app in EGRESS_APPS:
        policy = obj(prod_run, NETWORK_POLICY, f"allow-{app}-egress").inputs["spec"]
        assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == app
    # Outside the pod network, only the ports each one needs.
    assert _external_ports(_egress(prod_run, "allow-grafana-egress")) == {587}  # SMTP
    assert _external_ports(_egress(prod_run, "allow-alertmanager-egress")) == {443, 587}
    assert _external_ports(_egress(prod_run, "allow-exporter-egress")) == {5432}
    assert _external_ports(_egress(prod_run, "allow-kube-state-metrics-egress")) == {443, 6443}
    assert _external_ports(_egress(prod_run, "allow-prometheus-egress")) == {
        443,
        6443,
        9100,
        10250,
    }
    assert _external_ports(_egress(prod_run, "allow-loki-egress")) == set()


def test_egress_can_be_narrowed_widened_or_turned_off() -> None:
    narrow = run_stack(
        "prod",
        overrides={
            "kubernetes": _prod_kubernetes(
                egress={"externalCidrs": ["10.0.0.0/8"], "databasePort": 6432},
                remoteWriteUrl="https://mimir.example.com:8443/push",
            )
        },
        secrets=REAL_SECRETS,
    )
    for rule in _egress(narrow, "allow-exporter-egress"):
        assert rule["to"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
    assert _external_ports(_egress(narrow, "allow-exporter-egress")) == {6432}
    assert 8443 in _external_ports(_egress(narrow, "allow-prometheus-egress"))
    off = run_stack(
        "prod",
        overrides={"kubernetes": _prod_kubernetes(egress={"enabled": False})},
        secrets=REAL_SECRETS,
    )
    assert not [p for p in k8s_objects(off, NETWORK_POLICY).values() if "Egress" in str(p.inputs)]
    with pytest.raises(SynthError, match=r"kubernetes\.egress\.externalCidrs = '10\.0\.0\.0/33'"):
        run_stack(
            "prod",
            overrides={"kubernetes": _prod_kubernetes(egress={"externalCidrs": ["10.0.0.0/33"]})},
            secrets=REAL_SECRETS,
        )


def test_network_policies_deny_by_default_and_allow_the_stack_flows(prod_run: StackRun) -> None:
    for namespace in (NS, NODE_NS):
        deny = obj(prod_run, NETPOL, "default-deny-ingress", namespace).inputs["spec"]
        assert deny["podSelector"] == {} and deny.get("ingress", []) == []
    flows = _allowed(prod_run)
    expected = {
        (NS, "*", "prometheus", None, None),  # Prometheus scrapes everything
        (NODE_NS, "node-exporter", "prometheus", 9100, "TCP"),
        (NS, "prometheus", "grafana", 9090, "TCP"),
        (NS, "loki", "grafana", 3100, "TCP"),
        (NS, "loki", "alloy", 3100, "TCP"),
        (NS, "alertmanager", "grafana", 9093, "TCP"),
        (NS, "alertmanager", "prometheus", 9093, "TCP"),
        (NS, "alertmanager", "loki", 9093, "TCP"),
        (NS, "alertmanager", "alertmanager", 9094, "TCP"),
        (NS, "alertmanager", "alertmanager", 9094, "UDP"),
        (NS, "grafana", "ns:ingress-nginx", 3000, "TCP"),
        (NS, "acme-solver", "ns:ingress-nginx", 8089, "TCP"),  # cert-manager HTTP-01
    }
    assert flows == expected
    scrape = obj(prod_run, NETPOL, "allow-prometheus-scrape", NODE_NS).inputs["spec"]
    (peer,) = scrape["ingress"][0]["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": NS}


# --- Grafana, exporter, ingress -----------------------------------------------------------


def test_grafana_is_ready_before_its_content_is_applied(prod_run: StackRun) -> None:
    grafana = obj(prod_run, DEPLOYMENT, "grafana")
    (container,) = pod_spec(grafana)["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/health"
    volumes = {v["name"]: v for v in pod_spec(grafana)["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "grafana-data"
    assert grafana.inputs["spec"]["strategy"] == {"type": "Recreate"}
    provider = prod_run.of_type("pulumi:providers:grafana")[0]
    assert provider.inputs["url"] == "https://grafana.example.com"
    assert grafana.urn in provider.dependencies


def test_exporter_image_is_pushed_and_referenced_by_digest(prod_run: StackRun) -> None:
    (image,) = prod_run.of_type("docker:index/image:Image")
    assert image.inputs["imageName"] == "ghcr.io/trading-monitoring/exporter:0.1.0"
    assert image.inputs.get("skipPush") is not True
    assert image.inputs["registry"] == {
        "server": "ghcr.io",
        "username": "trading-monitoring-ci",
        "password": SECRET,
    }
    assert image.inputs["build"]["dockerfile"] == "exporter/Dockerfile"
    exporter = obj(prod_run, DEPLOYMENT, "exporter")
    (container,) = pod_spec(exporter)["containers"]
    assert re.fullmatch(
        r"ghcr\.io/trading-monitoring/exporter@sha256:[0-9a-f]{64}", container["image"]
    )
    assert pod_spec(exporter)["imagePullSecrets"] == [{"name": "exporter-registry"}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    service = obj(prod_run, SERVICE, "exporter").inputs["spec"]
    assert service["ports"][0]["port"] == 9188


def test_exporter_on_a_pvc_needs_no_dsn() -> None:
    secrets = {k: v for k, v in REAL_SECRETS.items() if k != "exporterDatabaseDsn"}
    run = run_stack(
        "prod",
        overrides={"kubernetes": _prod_kubernetes(exporterDatabase={"mode": "pvc"})},
        secrets=secrets,
    )
    claims = k8s_objects(run, PVC)
    assert (NS, "exporter-data") in claims
    assert (NS, "exporter-database") not in k8s_objects(run, SECRET_TYPE)
    exporter = obj(run, DEPLOYMENT, "exporter")
    (container,) = pod_spec(exporter)["containers"]
    assert "--db=/data/trading.db" in container["args"]
    volumes = {v["name"]: v for v in pod_spec(exporter)["volumes"]}
    assert volumes["database"]["persistentVolumeClaim"]["claimName"] == "exporter-data"


def test_ingress_with_tls_and_cert_manager(prod_run: StackRun) -> None:
    ingress = obj(prod_run, INGRESS, "grafana").inputs
    # The Certificate below is the secret's only owner: no ingress-shim annotation.
    assert ingress["metadata"]["annotations"] == {}
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["grafana.example.com"], "secretName": "grafana-tls"}
    ]
    (rule,) = ingress["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert rule["host"] == "grafana.example.com"
    assert backend == {"name": "grafana", "port": {"name": "http"}}


def test_grafana_provider_waits_for_a_ready_certificate(prod_run: StackRun) -> None:
    """The provider calls https://<grafanaHost>: before cert-manager has issued the certificate
    every Grafana resource would fail with x509 errors."""
    certificate = obj(prod_run, CERTIFICATE, "grafana-tls")
    assert certificate.inputs["apiVersion"] == "cert-manager.io/v1"
    assert certificate.inputs["kind"] == "Certificate"
    assert certificate.inputs["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "condition=Ready"
    }
    assert certificate.inputs["spec"] == {
        "secretName": "grafana-tls",
        "dnsNames": ["grafana.example.com"],
        "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"},
    }
    provider = prod_run.of_type("pulumi:providers:grafana")[0]
    assert certificate.urn in provider.dependencies
    # The solver pods of HTTP-01 challenges are reachable from the ingress controller.
    solver = obj(prod_run, NETPOL, "allow-ingress-controller-to-acme-solver").inputs["spec"]
    assert solver["podSelector"] == {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}


def test_without_cert_manager_the_tls_secret_is_the_users() -> None:
    ingress = {**_prod_kubernetes()["ingress"], "certManagerIssuer": None}
    run = run_stack(
        "prod", overrides={"kubernetes": _prod_kubernetes(ingress=ingress)}, secrets=REAL_SECRETS
    )
    assert not run.of_type(CERTIFICATE)
    assert (NS, "allow-ingress-controller-to-acme-solver") not in k8s_objects(run, NETPOL)
    assert obj(run, INGRESS, "grafana").inputs["spec"]["tls"][0]["secretName"] == "grafana-tls"


def test_prometheus_and_alertmanager_ingress_only_with_auth() -> None:
    auth = {"nginx.ingress.kubernetes.io/auth-url": "https://oauth2.example.com/oauth2/auth"}
    run = run_stack(
        "prod",
        overrides={
            "kubernetes": _prod_kubernetes(
                ingress={
                    **_prod_kubernetes()["ingress"],
                    "prometheusHost": "prometheus.example.com",
                    "alertmanagerHost": "alertmanager.example.com",
                    "authAnnotations": auth,
                }
            )
        },
        secrets=REAL_SECRETS,
    )
    protected = obj(run, INGRESS, "prometheus-alertmanager").inputs
    assert protected["metadata"]["annotations"] == auth
    assert protected["spec"]["tls"][0]["secretName"] == "grafana-tls-protected"
    certificate = obj(run, CERTIFICATE, "grafana-tls-protected").inputs["spec"]
    assert certificate["secretName"] == "grafana-tls-protected"
    assert certificate["dnsNames"] == ["prometheus.example.com", "alertmanager.example.com"]
    assert {r["host"] for r in protected["spec"]["rules"]} == {
        "prometheus.example.com",
        "alertmanager.example.com",
    }
    grafana = obj(run, INGRESS, "grafana").inputs
    assert auth.keys().isdisjoint(grafana["metadata"]["annotations"])
    flows = _allowed(run)
    assert (NS, "prometheus", "ns:ingress-nginx", 9090, "TCP") in flows
    assert (NS, "alertmanager", "ns:ingress-nginx", 9093, "TCP") in flows
    (container,) = pod_spec(obj(run, STATEFULSET, "prometheus"))["containers"]
    assert "--web.external-url=https://prometheus.example.com" in container["args"]


def test_without_ingress_grafana_is_reached_through_the_configured_url() -> None:
    run = run_stack(
        "prod",
        overrides={
            "kubernetes": _prod_kubernetes(
                ingress={"enabled": False}, grafanaUrl="http://127.0.0.1:3000"
            )
        },
        secrets=REAL_SECRETS,
    )
    assert not k8s_objects(run, INGRESS)
    assert not [f for f in _allowed(run) if f[2].startswith("ns:")]
    provider = run.of_type("pulumi:providers:grafana")[0]
    assert provider.inputs["url"] == "http://127.0.0.1:3000"


def test_remote_write_reaches_prometheus_yml() -> None:
    run = run_stack(
        "prod",
        overrides={"kubernetes": _prod_kubernetes(remoteWriteUrl="https://mimir.example.com/push")},
        secrets=REAL_SECRETS,
    )
    config = yaml.safe_load(
        obj(run, CONFIG_MAP, "prometheus-config").inputs["data"]["prometheus.yml"]
    )
    assert config["remote_write"] == [{"url": "https://mimir.example.com/push"}]


@pytest.mark.parametrize(
    ("auth", "secret_key", "file", "block"),
    [
        ("basic", "remoteWritePassword", "remote_write_password", "basic_auth"),
        ("bearer", "remoteWriteBearerToken", "remote_write_token", "authorization"),
    ],
)
def test_remote_write_credentials_reach_prometheus_as_a_secret_file(
    auth: str, secret_key: str, file: str, block: str
) -> None:
    credential = "Rw-Cr3dential-that-must-not-leak"
    changes: dict[str, Any] = {
        "remoteWriteUrl": "https://mimir.example.com/api/v1/push",
        "remoteWriteAuth": auth,
    }
    if auth == "basic":
        changes["remoteWriteUsername"] = "tenant-1"
    run = run_stack(
        "prod",
        overrides={"kubernetes": _prod_kubernetes(**changes)},
        secrets={**REAL_SECRETS, secret_key: credential},
    )
    text = obj(run, CONFIG_MAP, "prometheus-config").inputs["data"]["prometheus.yml"]
    (entry,) = yaml.safe_load(text)["remote_write"]
    path = f"/etc/prometheus/secrets/{file}"
    if auth == "basic":
        assert entry[block] == {"username": "tenant-1", "password_file": path}
    else:
        assert entry[block] == {"credentials_file": path}
    assert credential not in text
    assert credential in _secret_values(obj(run, SECRET_TYPE, "prometheus-remote-write"))
    statefulset = obj(run, STATEFULSET, "prometheus")
    (container,) = containers(statefulset)
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["secrets"]["mountPath"] == "/etc/prometheus/secrets"
    assert mounts["secrets"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod_spec(statefulset)["volumes"]}
    assert volumes["secrets"]["secret"]["secretName"] == "prometheus-remote-write"
    assert "checksum/secret" in pod_annotations(statefulset)
    for resource in run.resources:
        assert credential not in json.dumps(list(plain_strings(resource.wire_inputs)))


@pytest.mark.parametrize(
    ("changes", "secrets", "message"),
    [
        (
            {"remoteWriteUrl": "https://m.example.com/push", "remoteWriteAuth": "basic"},
            {"remoteWritePassword": "x-Secret-1"},
            "kubernetes.remoteWriteUsername = None is invalid",
        ),
        (
            {
                "remoteWriteUrl": "https://m.example.com/push",
                "remoteWriteAuth": "basic",
                "remoteWriteUsername": "tenant",
            },
            {},
            "remoteWritePassword is not set: required by kubernetes.remoteWriteAuth = 'basic'",
        ),
        (
            {"remoteWriteUrl": "http://m.example.com/push", "remoteWriteAuth": "bearer"},
            {"remoteWriteBearerToken": "x-Secret-2"},
            "kubernetes.remoteWriteUrl = 'http://m.example.com/push' is invalid: allowed an https",
        ),
        (
            {"remoteWriteAuth": "bearer"},
            {"remoteWriteBearerToken": "x-Secret-3"},
            "kubernetes.remoteWriteAuth = 'bearer' is invalid",
        ),
    ],
)
def test_remote_write_auth_errors(
    changes: dict[str, Any], secrets: dict[str, str], message: str
) -> None:
    with pytest.raises(SynthError) as raised:
        run_stack(
            "prod",
            overrides={"kubernetes": _prod_kubernetes(**changes)},
            secrets={**REAL_SECRETS, **secrets},
        )
    assert message in str(raised.value), str(raised.value)
    for value in secrets.values():
        assert value not in str(raised.value)


def _prod_kubernetes(**changes: Any) -> dict[str, Any]:
    """The `kubernetes` object of Pulumi.prod.yaml with `changes` applied."""
    from tests.infra.harness import stack_config

    current: dict[str, Any] = json.loads(stack_config("prod")["kubernetes"])
    return {**current, **changes}


ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"


def test_node_exporter_is_reachable_only_through_an_authenticating_proxy(
    prod_run: StackRun,
) -> None:
    node_exporter, proxy = pod_spec(obj(prod_run, DAEMONSET, "node-exporter", NODE_NS))[
        "containers"
    ]
    # node-exporter serves the node's loopback only; the kubelet probes it there.
    assert "--web.listen-address=127.0.0.1:9100" in node_exporter["args"]
    assert "ports" not in node_exporter
    for probe in ("readinessProbe", "livenessProbe"):
        assert node_exporter[probe]["httpGet"]["host"] == "127.0.0.1"
    # kube-rbac-proxy serves the node's address over TLS and forwards to the loopback.
    assert PINNED.match(proxy["image"]) and "kube-rbac-proxy" in proxy["image"]
    assert "--secure-listen-address=[$(NODE_IP)]:9100" in proxy["args"]
    assert "--upstream=http://127.0.0.1:9100/" in proxy["args"]
    assert proxy["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert proxy["securityContext"]["runAsNonRoot"] is True
    assert "httpGet" not in proxy["readinessProbe"]  # every HTTP request needs a token
    role = k8s_objects(prod_run, CLUSTER_ROLE)[("", "monitoring-node-exporter")]
    assert role.inputs["rules"] == [
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["tokenreviews"],
            "verbs": ["create"],
        },
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["subjectaccessreviews"],
            "verbs": ["create"],
        },
    ]
    # Prometheus authenticates with its token, and may get /metrics.
    prometheus_role = k8s_objects(prod_run, CLUSTER_ROLE)[("", "monitoring-prometheus")]
    assert {"nonResourceURLs": ["/metrics"], "verbs": ["get"]} in prometheus_role.inputs["rules"]
    config = yaml.safe_load(
        obj(prod_run, CONFIG_MAP, "prometheus-config").inputs["data"]["prometheus.yml"]
    )
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "node"]
    assert job["scheme"] == "https"
    assert job["authorization"]["credentials_file"].endswith("/serviceaccount/token")


def test_kube_state_metrics_reads_only_our_namespaces_and_the_kinds_alerts_use(
    prod_run: StackRun,
) -> None:
    (container,) = containers(obj(prod_run, DEPLOYMENT, "kube-state-metrics"))
    assert PINNED.match(container["image"]) and "kube-state-metrics:v2." in container["image"]
    assert f"--namespaces={NS},{NODE_NS}" in container["args"]
    assert "--resources=pods,statefulsets,daemonsets" in container["args"]
    assert container["ports"] == [{"containerPort": 8080, "name": "metrics", "protocol": "TCP"}]
    for namespace in (NS, NODE_NS):
        role = obj(prod_run, ROLE, "kube-state-metrics", namespace)
        assert role.inputs["rules"] == [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {
                "apiGroups": ["apps"],
                "resources": ["statefulsets", "daemonsets"],
                "verbs": ["get", "list", "watch"],
            },
        ]
        binding = obj(prod_run, ROLE_BINDING, "kube-state-metrics", namespace)
        assert binding.inputs["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "kube-state-metrics",
        }
        assert binding.inputs["subjects"] == [
            {"kind": "ServiceAccount", "name": "kube-state-metrics", "namespace": NS}
        ]
    # No cluster-wide grant at all for it.
    for binding in k8s_objects(prod_run, CLUSTER_ROLE_BINDING).values():
        assert "kube-state-metrics" not in str(binding.inputs["subjects"])


def test_alloy_may_only_read_pods_and_their_logs(prod_run: StackRun) -> None:
    role = k8s_objects(prod_run, CLUSTER_ROLE)[("", "monitoring-alloy")]
    assert role.inputs["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    ]
    (container,) = pod_spec(obj(prod_run, DAEMONSET, "alloy"))["containers"]
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]}
    assert env == {"NODE_NAME": "spec.nodeName"}  # tails only its own node's pods


def test_content_rendered_for_another_platform_is_refused(prod_run: StackRun) -> None:
    from dataclasses import replace

    from infra.kubernetes.target import check_content
    from infra.settings.kubernetes import KubernetesSettings

    content = prod_run.stack.content
    settings = KubernetesSettings.model_validate(_prod_kubernetes())
    check_content(settings, content)  # the real pairing is accepted
    static = replace(content, settings=replace(content.settings, discovery="static"))
    with pytest.raises(ValueError, match="discovery = 'static'"):
        check_content(settings, static)
    no_replica = replace(content, settings=replace(content.settings, replica_label=None))
    with pytest.raises(ValueError, match=r"replicas.prometheus = 2 needs"):
        check_content(settings, no_replica)


def test_outputs(prod_run: StackRun) -> None:
    outputs = prod_run.result.outputs
    assert outputs["grafanaUrl"] == "https://grafana.example.com"
    assert outputs["prometheusUrl"] == "http://prometheus.monitoring.svc.cluster.local:9090"
    assert outputs["alertmanagerUrl"] == "http://alertmanager.monitoring.svc.cluster.local:9093"
    assert outputs["exporterUrl"] == "http://exporter.monitoring.svc.cluster.local:9188/metrics"
    assert outputs["grafanaAdminPassword"] == SECRET


def test_exporter_runs_as_the_user_its_image_declares(prod_run: StackRun) -> None:
    from pathlib import Path

    dockerfile = (Path(__file__).resolve().parents[2] / "exporter" / "Dockerfile").read_text()
    users = re.findall(r"^USER (\d+)(?::(\d+))?$", dockerfile, flags=re.MULTILINE)
    assert users, "exporter/Dockerfile declares no numeric USER"
    uid, gid = users[-1]
    pod = pod_spec(obj(prod_run, DEPLOYMENT, "exporter"))
    assert pod["securityContext"]["runAsUser"] == int(uid)
    assert pod["securityContext"]["runAsGroup"] == int(gid or uid)
    entrypoint = re.findall(r"^ENTRYPOINT (.+)$", dockerfile, flags=re.MULTILINE)[-1]
    assert json.loads(entrypoint) == pod["containers"][0]["command"]


def test_namespaced_objects_are_created_after_their_namespace(prod_run: StackRun) -> None:
    namespaces = {name: r.urn for (_, name), r in k8s_objects(prod_run, NAMESPACE).items()}
    namespaced = [
        r
        for r in prod_run.resources
        if r.type.startswith(K8S) and r.inputs.get("metadata", {}).get("namespace")
    ]
    assert len(namespaced) > 30
    for resource in namespaced:
        namespace = resource.inputs["metadata"]["namespace"]
        assert namespaces[namespace] in resource.dependencies, resource.name


def test_every_image_can_be_pinned_by_digest() -> None:
    """`images.*` accepts "repo:tag@sha256:<digest>": the containers then run exactly that."""
    from infra.settings.stack import ImagesConfig

    digest = "sha256:" + "ab" * 32
    images = {
        key: f"{value.split('@')[0]}@{digest}"
        for key, value in ImagesConfig().model_dump(by_alias=True).items()
    }
    run = run_stack("prod", overrides={"images": images}, secrets=REAL_SECRETS)
    workloads = [r for t in WORKLOADS for r in k8s_objects(run, t).values()]
    for workload in workloads:
        for container in containers(workload):
            assert container["image"].endswith(f"@{digest}") or "@sha256:" in container["image"]
    pinned = [c["image"] for w in workloads for c in containers(w) if c["image"].endswith(digest)]
    assert len(pinned) >= len(workloads) - 1  # all but our exporter, pinned by its own digest
