"""The few Pulumi SDK details synth and the secret check need, in one place.

Public APIs where they exist: `pulumi.runtime.config.is_config_secret` and `CONFIG` for the
config, `asyncio` to drive the program's event loop when it is not running (what the SDK's own
private `_sync_await` does in that case).

No public API exists for the wire format that a mock monitor receives: a secret or a resource
reference arrives as a dict tagged with a signature key. The values below are fixed by the
engine's resource protocol (pulumi/pulumi `sdk/go/common/resource/sig`, mirrored by the Python
SDK's private `rpc._special_*` names, for which no public accessor exists upstream);
tests/infra/test_pulumi_runtime.py fails loudly if the SDK's names disappear or change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from pulumi.runtime import config as runtime_config

T = TypeVar("T")

SIG_KEY = "4dabf18193072939515e22adb298388d"  # the key that tags a special wire value
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"


def wire_signature(value: dict[str, Any]) -> str | None:
    """The signature of a special wire value (secret, resource reference...), else None."""
    sig = value.get(SIG_KEY)
    return sig if isinstance(sig, str) else None


def config_items() -> dict[str, str]:
    """Every config value the program was given (`project:key` -> value), env included."""
    values: dict[str, str] = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return values


def is_secret_config(full_key: str) -> bool:
    return runtime_config.is_config_secret(full_key) or full_key in set(
        runtime_config.get_config_secret_keys_env()
    )


def run_until_complete(awaitable: Awaitable[T]) -> T:
    """Run `awaitable` on the current thread's event loop (synth: the loop is not running)."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop.run_until_complete(asyncio.ensure_future(awaitable, loop=loop))
