"""infra/pulumi_runtime.py mirrors private names of the Pulumi SDK: fail loudly when they move."""

from __future__ import annotations

from pulumi.runtime import rpc

from infra import pulumi_runtime


def test_wire_signatures_match_the_sdk() -> None:
    # If these private names disappear or change in a Pulumi upgrade, synth would silently
    # stop redacting secrets in plan.json: this test is the alarm.
    assert rpc._special_sig_key == pulumi_runtime.SIG_KEY
    assert rpc._special_secret_sig == pulumi_runtime.SECRET_SIG
    assert rpc._special_resource_sig == pulumi_runtime.RESOURCE_SIG


def test_a_wrapped_secret_is_recognised() -> None:
    wrapped = rpc.wrap_rpc_secret("hunter2")
    assert pulumi_runtime.wire_signature(wrapped) == pulumi_runtime.SECRET_SIG
    assert pulumi_runtime.wire_signature({"value": "x"}) is None
