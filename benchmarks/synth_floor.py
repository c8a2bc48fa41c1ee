"""The libraries' share of a synth: what no change to our code can remove.

Run by benchmarks/synth_scale.py in a fresh interpreter, on the plan.json a real synth wrote:
imports `pulumi`, its mocks and the provider SDK modules the plan's resource types come from,
then registers the same resources (same types, names, parents and inputs) under Pulumi's mocks
through the generic `pulumi.CustomResource` / `ComponentResource`. Nothing of ours is imported,
no config is validated and nothing is rendered. The generic classes skip the typed SDK classes'
input conversion, so this is a lower bound of the libraries' share, not an estimate of it.

usage: .venv/bin/python benchmarks/synth_floor.py PLAN_JSON
"""

from __future__ import annotations

import gc
import sys

gc.disable()  # as synth does (infra/__main__.py)

import asyncio  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pulumi  # noqa: E402
from pulumi.runtime.stack import run_pulumi_func  # noqa: E402

# Provider name in a type token -> its Python SDK package.
SDK_PACKAGES = {
    "docker": "pulumi_docker",
    "grafana": "pulumiverse_grafana",
    "kubernetes": "pulumi_kubernetes",
    "random": "pulumi_random",
}


def sdk_class(type_token: str) -> tuple[str, str] | None:
    """The SDK module and class a resource type is registered with: "kubernetes:core/v1:Service"
    -> ("pulumi_kubernetes.core.v1", "Service"), "grafana:oss/dashboard:Dashboard" ->
    ("pulumiverse_grafana.oss", "Dashboard"), "pulumi:providers:docker" -> ("pulumi_docker",
    "Provider"); None for our component resources."""
    provider, module, name = type_token.split(":")
    if provider == "pulumi" and module == "providers":
        return SDK_PACKAGES[name], "Provider"
    package = SDK_PACKAGES.get(provider)
    if package is None:
        return None
    if provider == "kubernetes":
        group, version = module.split("/")
        if group.endswith(".k8s.io"):  # "rbac.authorization.k8s.io" -> rbac
            return f"{package}.{group.split('.')[0]}.{version}", name
        if "." in group:  # a custom resource (cert-manager.io): the generic class
            return f"{package}.apiextensions", "CustomResource"
        return f"{package}.{group}.{version}", name
    first = module.split("/")[0]  # "oss/dashboard" -> oss; "index/image" -> the package
    return (package if first == "index" else f"{package}.{first}"), name


class EchoMocks(pulumi.runtime.Mocks):
    """Outputs = inputs; counts the resources registered (components included)."""

    def __init__(self) -> None:
        self.registered = 0

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered += 1
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        return {}, []


def register(resources: list[dict[str, Any]]) -> None:
    """Components first, parents before children (plan.json lists them as registrations
    completed), then providers and custom resources under them."""
    components: dict[str, pulumi.Resource] = {}
    pending = [r for r in resources if sdk_class(r["type"]) is None]
    while pending:
        ready = [
            r
            for r in pending
            if r["parent"] in components or r["parent"].startswith("pulumi:pulumi:Stack::")
        ]
        if not ready:
            raise ValueError(f"plan.json: no parent for {[r['name'] for r in pending]}")
        for resource in ready:
            opts = pulumi.ResourceOptions(parent=components.get(resource["parent"]))
            components[f"{resource['type']}::{resource['name']}"] = pulumi.ComponentResource(
                resource["type"], resource["name"], None, opts
            )
        pending = [r for r in pending if r not in ready]
    for resource in resources:
        type_token, name, inputs = resource["type"], resource["name"], resource["inputs"]
        if sdk_class(type_token) is None:
            continue
        opts = pulumi.ResourceOptions(parent=components.get(resource["parent"]))
        if type_token.startswith("pulumi:providers:"):
            pulumi.ProviderResource(type_token.split(":")[-1], name, inputs, opts)
        else:
            pulumi.CustomResource(type_token, name, inputs, opts)


def main(plan_path: Path) -> None:
    resources = json.loads(plan_path.read_text())["resources"]
    # Load each resource's class as the program does (the SDKs' packages load lazily).
    for module, name in sorted({c for r in resources if (c := sdk_class(r["type"])) is not None}):
        getattr(importlib.import_module(module), name)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # before set_mocks: the mocks' futures belong to this loop
    mocks = EchoMocks()
    pulumi.runtime.set_mocks(mocks, project="floor", stack="floor", preview=False)
    loop.run_until_complete(run_pulumi_func(lambda: register(resources)))
    print(f"registered {mocks.registered} of {len(resources)} resources")
    gc.freeze()  # as synth does before exit


if __name__ == "__main__":
    main(Path(sys.argv[1]))
