"""Offline synth: run the real Pulumi program under Pulumi's mocks (no CLI, no credentials).

`python -m infra synth --stack dev --out out/dev` reads `Pulumi.dev.yaml`, validates it, runs
the program with `pulumi.runtime.set_mocks`, and writes:
- `plan.json`: {"stack", "resources": [{"type", "name", "parent", "inputs"}], "outputs"}, with
  every secret replaced by "[secret]" (inputs use the camelCase wire names the providers get);
- every rendered artifact: prometheus.yml, rules/*.yml, alertmanager.yml (placeholders instead
  of secrets), loki.yml, config.alloy, exporter.yml, dashboards/<uid>.json.
Secret config values are never read: each secret key is replaced by a placeholder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format  # type: ignore[import-untyped]
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.stack import run_pulumi_func

from infra import pulumi_runtime
from infra.drill import drill
from infra.settings import stack as cfg
from infra.settings.base import NAMESPACE, ConfigError, misplaced_key

PROJECT = NAMESPACE
PROJECT_DIR = Path(__file__).resolve().parent.parent
SECRET = "[secret]"
UNKNOWN = "<unknown>"
EXIT_CONFIG = 2


class SynthError(Exception):
    """Unknown stack or bad config: reported as one message, exit code 2."""


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]  # secrets redacted: what plan.json shows
    # Kept in memory for tests, never written: the wire inputs with secrets still wrapped.
    wire_inputs: dict[str, Any]
    custom: bool
    provider: str | None  # "<provider urn>::<id>"
    dependencies: list[str]  # URNs (depends_on and Output dependencies)
    delete_before_replace: bool
    retain_on_delete: bool
    protect: bool


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _wire_to_json(value: Any) -> Any:
    """A deserialized wire value, with secrets replaced by "[secret]" at the leaf."""
    if isinstance(value, dict):
        sig = pulumi_runtime.wire_signature(value)
        if sig == pulumi_runtime.SECRET_SIG:
            return SECRET
        if sig == pulumi_runtime.RESOURCE_SIG:
            return value.get("urn")
        if sig is not None:
            return {k: _wire_to_json(v) for k, v in value.items() if k != pulumi_runtime.SIG_KEY}
        return {k: _wire_to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_to_json(v) for v in value]
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _decode_provider_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Generated provider SDKs JSON-encode non-string settings (`retries` -> "10") and the
    provider decodes them; record the decoded value, as the provider's schema types it."""
    decoded: dict[str, Any] = {}
    for key, value in inputs.items():
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value
            decoded[key] = parsed if isinstance(parsed, bool | int | float | list | dict) else value
        else:
            decoded[key] = value
    return decoded


def _mock_outputs(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Plausible provider outputs so the program runs: digests, names, uids, passwords."""
    outputs = dict(inputs)
    if typ == "docker:index/image:Image":
        image = str(inputs.get("imageName", name))
        outputs["repoDigest"] = f"{image.split(':')[0]}@sha256:{_digest(image + name)}"
        outputs["imageName"] = image
    elif typ == "docker:index/remoteImage:RemoteImage":
        ref = str(inputs.get("name", name))
        outputs["imageId"] = f"sha256:{_digest(ref)}"
        outputs["repoDigest"] = f"{ref.split(':')[0]}@sha256:{_digest(ref)}"
    elif typ in ("docker:index/container:Container", "docker:index/network:Network"):
        outputs.setdefault("name", name)
    elif typ == "random:index/randomPassword:RandomPassword":
        length = int(inputs.get("length", 32))
        fake = _digest(f"mock-password-{name}")[:length]
        outputs["result"] = rpc.wrap_rpc_secret(fake)
        outputs["bcryptHash"] = rpc.wrap_rpc_secret(f"$2a$10${_digest(fake)[:53]}")
    elif typ == "grafana:oss/dashboard:Dashboard":
        config_json = inputs.get("configJson")
        if isinstance(config_json, str):
            model = json.loads(config_json)
            outputs["uid"] = model.get("uid", name)
            outputs["url"] = f"/d/{outputs['uid']}"
    elif typ.startswith("grafana:"):
        outputs.setdefault("uid", inputs.get("uid", name))
        outputs.setdefault("name", name)
    elif typ.startswith("kubernetes:"):
        metadata = dict(outputs.get("metadata") or {})
        metadata.setdefault("name", name)
        outputs["metadata"] = metadata
    return outputs


class SynthMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", _mock_outputs(args.typ, args.name, args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        return {}, []


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """MockMonitor that also records parent, dependencies and the wire inputs of each resource."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            wire = json_format.MessageToDict(request.object)
            if request.type.startswith("pulumi:providers:"):
                wire = _decode_provider_inputs(wire)
            self.recorded.append(
                RecordedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent or None,
                    inputs=_wire_to_json(wire),
                    wire_inputs=wire,
                    custom=bool(request.custom),
                    provider=request.provider or None,
                    dependencies=list(request.dependencies),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    retain_on_delete=bool(request.retainOnDelete),
                    protect=bool(request.protect),
                )
            )
        return response


def _urn_label(urn: str | None) -> str | None:
    """ "<type>::<name>" of a URN (the last type segment), for readable parents."""
    if not urn:
        return None
    parts = urn.split("::")
    return f"{parts[2].split('$')[-1]}::{parts[3]}"


def stack_file(stack: str, project_dir: Path = PROJECT_DIR) -> Path:
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml")
        )
        raise SynthError(
            f"--stack {stack!r} is unknown: allowed {', '.join(known) or '(none)'} "
            f"(no {path.name} in {project_dir})"
        )
    return path


def read_stack_config(path: Path) -> dict[str, str]:
    """The project's keys from Pulumi.<stack>.yaml as the CLI passes them (JSON for objects).

    Secret (`secure:`) values become placeholders: synth never decrypts or shows a secret.
    """
    return read_stack_file(path)[0]


class _StackFileLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (the Pulumi CLI refuses
    such a file; PyYAML would keep the last value silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                value = self.construct_object(value_node, deep=True)
                shown = SECRET if isinstance(value, dict) and "secure" in value else value
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"{key} = {shown!r} is invalid: allowed each key once in a mapping (also on"
                    f" line {seen[key]}; the Pulumi CLI refuses duplicate keys)",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_stack_yaml(path: Path) -> Any:
    """The stack file's document; a YAML error (syntax, a duplicate key, a `!!python/...`
    tag, which safe loading refuses) is one line with the file and line."""
    try:
        return yaml.load(path.read_text(), Loader=_StackFileLoader)  # a SafeLoader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f"{path.name}:{mark.line + 1}" if mark is not None else path.name
        problem = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)
        detail = f"{context}, {problem}" if context and "is invalid" not in problem else problem
        raise SynthError(f"{where}: {' '.join(str(detail).split())}") from None


def read_stack_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """(values as in `read_stack_config`, the keys that are `secure:` in the file)."""
    document = load_stack_yaml(path) or {}
    if not isinstance(document, dict):
        raise SynthError(f"{path.name}: the file must be a YAML mapping with a `config` key")
    raw = document.get("config") or {}
    if not isinstance(raw, dict):
        raise SynthError(f"{path.name}: `config` must be a mapping")
    prefix = f"{PROJECT}:"
    values: dict[str, str] = {}
    secure: set[str] = set()
    misplaced = [
        problem
        for full_key, value in raw.items()
        for problem in [misplaced_key(str(full_key), _shown(value))]
        if problem is not None
    ]
    if misplaced:
        raise SynthError("\n".join(misplaced))
    for full_key, value in raw.items():
        if not str(full_key).startswith(prefix):
            continue  # provider config (docker:host, kubernetes:context, ...)
        key = str(full_key)[len(prefix) :]
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = cfg.placeholder_secret(key)
            secure.add(key)
        elif isinstance(value, str):
            values[key] = value
        else:
            # `pulumi config set --secret --path a.b value` encrypts the leaf in place and makes
            # the whole key a secret: stand-ins for the leaves, and the key stays secret.
            resolved, nested = _nested_secure(value, key)
            values[key] = json.dumps(resolved)
            if nested:
                secure.add(key)
    return values, secure


def _shown(value: Any) -> Any:
    """A stack file value as an error message may show it (never a `secure:` one)."""
    return SECRET if isinstance(value, dict) and set(value) == {"secure"} else value


def _nested_secure(value: Any, path: str) -> tuple[Any, bool]:
    """`value` with each nested `{secure: ...}` leaf replaced by a placeholder; whether any."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return cfg.placeholder_secret(path), True
        found = False
        out: dict[str, Any] = {}
        for name, item in value.items():
            out[name], nested = _nested_secure(item, f"{path}.{name}")
            found = found or nested
        return out, found
    if isinstance(value, list):
        items = [_nested_secure(item, f"{path}[{i}]") for i, item in enumerate(value)]
        return [item for item, _ in items], any(nested for _, nested in items)
    return value, False


@dataclass
class SynthResult:
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)

    def plan(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [
                {
                    "type": r.type,
                    "name": r.name,
                    "parent": _urn_label(r.parent),
                    "inputs": r.inputs,
                }
                for r in sorted(self.resources, key=lambda r: r.urn)
            ],
            "outputs": self.outputs,
        }


async def _resolve(value: Any) -> Any:
    """An output tree as JSON, with secret Outputs replaced by "[secret]"."""
    if isinstance(value, pulumi.Output):
        if await value.is_secret():
            return SECRET
        return await _resolve(await value.future())
    if isinstance(value, dict):
        return {k: await _resolve(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [await _resolve(v) for v in value]
    return value


def run_program(
    stack: str,
    raw_config: Mapping[str, str],
    secret_values: Mapping[str, str] | None = None,
    monitor: RecordingMonitor | None = None,
    secure_keys: Collection[str] = (),
) -> tuple[SynthResult, RecordingMonitor, Any]:
    """Run the program under mocks: validate the config, then build the stack. Returns the
    result, the monitor (every registered resource) and the MonitoringStack.

    `secret_values`: secret keys to set (tests). When None (synth), every secret key that the
    stack file sets (`secure:`, listed in `secure_keys`) or the config requires gets a
    placeholder instead.
    Raises SynthError on bad config, before any resource is registered.
    """
    from infra.stack import MonitoringStack, stack_output_values

    mocks = SynthMocks()
    monitor = monitor if monitor is not None else RecordingMonitor(mocks)
    # A fresh root Stack named after this stack: set_mocks keeps an earlier run's root.
    pulumi.runtime.reset_options(project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)

    full: dict[str, str] = {f"{PROJECT}:{k}": v for k, v in raw_config.items()}
    secret_keys: list[str] = [f"{PROJECT}:{key}" for key in secure_keys]
    if secret_values is not None:
        for key, value in secret_values.items():
            full[f"{PROJECT}:{key}"] = value
            secret_keys.append(f"{PROJECT}:{key}")
    pulumi.runtime.set_all_config(full, secret_keys)
    try:
        config, secrets = cfg.load_stack_config(
            placeholder=cfg.placeholder_secret if secret_values is None else None
        )
    except ConfigError as error:
        raise SynthError(str(error)) from None

    holder: dict[str, Any] = {}

    def program() -> None:
        holder["stack"] = MonitoringStack(PROJECT, config, secrets)

    pulumi_runtime.run_until_complete(run_pulumi_func(program))
    built = holder["stack"]
    outputs = pulumi_runtime.run_until_complete(_resolve(stack_output_values(built.outputs)))
    files = dict(built.content.files_for_review)
    for dashboard in built.dashboards:
        files[f"dashboards/{dashboard.uid}.json"] = (
            json.dumps(dashboard.model, indent=2, sort_keys=True) + "\n"
        )
    result = SynthResult(stack=stack, resources=monitor.recorded, outputs=outputs, files=files)
    return result, monitor, built


def check_out_dir(out: Path) -> None:
    """`--out` is replaced as a whole, so it must be new, empty or a previous synth output."""
    if out.is_file() or (out.is_dir() and any(out.iterdir()) and not (out / "plan.json").is_file()):
        raise SynthError(
            f"--out {str(out)!r} is invalid: allowed a new or empty directory, or the output "
            "of an earlier synth (it is replaced as a whole)"
        )


def write(result: SynthResult, out: Path) -> None:
    check_out_dir(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "plan.json").write_text(json.dumps(result.plan(), indent=2, sort_keys=True) + "\n")
    for relative, text in sorted(result.files.items()):
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def synth(stack: str, out: Path, project_dir: Path = PROJECT_DIR) -> SynthResult:
    check_out_dir(out)
    raw, secure = read_stack_file(stack_file(stack, project_dir))
    result, _, _ = run_program(stack, raw, secure_keys=secure)
    write(result, out)
    return result


def main(argv: list[str] | None = None, echo: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra")
    commands = parser.add_subparsers(dest="command", required=True)
    synth_parser = commands.add_parser("synth", help="render the plan and every config offline")
    synth_parser.add_argument("--stack", required=True, help="stack name: Pulumi.<stack>.yaml")
    synth_parser.add_argument("--out", required=True, type=Path, help="output directory")
    synth_parser.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR, help="where Pulumi.<stack>.yaml lives"
    )
    drill_parser = commands.add_parser(
        "drill", help="send a test alert per route of a deployed stack and report delivery"
    )
    drill_parser.add_argument("--stack", required=True, help="a deployed stack (pulumi up)")
    drill_parser.add_argument(
        "--alertmanager", help="Alertmanager URL (default: the alertmanagerUrl output)"
    )
    drill_parser.add_argument("--timeout", type=float, default=120.0, help="seconds per route")
    drill_parser.add_argument(
        "--outputs", help="a file of `pulumi stack output --json` (default: ask the Pulumi CLI)"
    )
    args = parser.parse_args(argv)
    if args.command == "drill":
        return drill(args.stack, args.alertmanager, args.timeout, echo, args.outputs)
    try:
        result = synth(args.stack, args.out, args.project_dir)
    except SynthError as error:
        print(f"synth: {error}", file=sys.stderr)
        return EXIT_CONFIG
    echo(f"synth: {len(result.resources)} resources, {len(result.files)} files -> {args.out}")
    return 0
