"""kube-state-metrics: one Deployment in the main namespace, read-only in our namespaces only.

Least privilege: `--namespaces` limits it to the stack's two namespaces and `--resources` to the
kinds our alerts read, so a namespaced Role per namespace (get/list/watch on those kinds) is
all it needs; no ClusterRole. Prometheus discovers its pod by label and `metrics` port.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components import kube_state_metrics
from infra.kubernetes.common import (
    Context,
    component_container,
    granted_to,
    metadata,
    pod_template,
    service_account,
    single_deployment,
)
from monitoring.self_watch import our_namespaces

APP = kube_state_metrics.COMPONENT.app
UID = kube_state_metrics.COMPONENT.security.uid


def rbac_rules() -> list[k8s.rbac.v1.PolicyRuleArgsDict]:
    groups = sorted(set(kube_state_metrics.API_GROUPS.values()))
    return [
        {
            "api_groups": [group],
            "resources": [kind for kind, g in kube_state_metrics.API_GROUPS.items() if g == group],
            "verbs": ["get", "list", "watch"],
        }
        for group in groups
    ]


def create_kube_state_metrics(ctx: Context, prefix: str) -> k8s.apps.v1.Deployment:
    namespaces = our_namespaces(ctx.content.settings)
    account = service_account(ctx, f"{prefix}-kube-state-metrics-sa", APP, token=True)
    bindings: list[k8s.rbac.v1.RoleBinding] = []
    for namespace in namespaces:
        role = k8s.rbac.v1.Role(
            f"{prefix}-kube-state-metrics-role-{namespace}",
            metadata=metadata(APP, namespace),
            rules=rbac_rules(),
            opts=ctx.opts,
        )
        bindings.append(
            k8s.rbac.v1.RoleBinding(
                f"{prefix}-kube-state-metrics-binding-{namespace}",
                metadata=metadata(APP, namespace),
                **granted_to(account, "Role", APP),
                opts=ctx.with_deps(role),
            )
        )
    # Its port is named `metrics`: Prometheus discovers the pod by it.
    container = component_container(
        ctx,
        kube_state_metrics.COMPONENT,
        image=ctx.images.kube_state_metrics,
        args=kube_state_metrics.args(namespaces),
        volume_mounts=[],
    )
    pod = pod_template(
        APP,
        UID,
        {
            "service_account_name": APP,
            "containers": [container],
        },
        api_token=True,  # it reads the API
    )
    return single_deployment(ctx, f"{prefix}-kube-state-metrics", APP, pod, depends_on=bindings)
