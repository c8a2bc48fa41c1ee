"""The pydantic base of every stack config model, and the one formatter of its errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from validation import InvalidValue, invalid_message

NAMESPACE = "trading-monitoring"


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def misplaced_key(full_key: str, shown: object) -> str | None:
    """The one-line error for a stack config key that was meant for this program but that
    nothing would read: no namespace, or a namespace that looks like ours (a typo such as
    `trading-monitorng:`, `trading_monitoring:`, `Trading-Monitoring:`). None otherwise
    (provider keys such as `docker:host` or `kubernetes:context`)."""
    namespace, colon, name = full_key.partition(":")
    if not colon:
        return invalid_message(
            full_key, shown, f"{NAMESPACE}:{full_key} (keys need the project's namespace)"
        )
    if namespace == NAMESPACE:
        return None
    folded = "".join(ch for ch in namespace.lower() if ch.isalnum())
    if folded == NAMESPACE.replace("-", "") or _edit_distance(namespace.lower(), NAMESPACE) <= 3:
        return invalid_message(
            full_key,
            shown,
            f"{NAMESPACE}:{name} (`{namespace}:` looks like a typo of `{NAMESPACE}:`; "
            "nothing would read this key)",
        )
    return None


class ConfigModel(BaseModel):
    """camelCase config keys; unknown keys are errors (a typo must not be silently ignored);
    no silent coercion ("yes" is not true, "3000" not 3000, 1800.9 not 1800). The stack config
    is validated from JSON (load_stack_config), where arrays are the models' tuples."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, strict=True
    )


StrictModel = ConfigModel  # the name the Kubernetes models use


class ConfigError(ValueError):
    """Bad stack config. The message has one line per problem, each naming key, value, allowed."""


def format_validation_error(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """One line per problem: `<namespace>:<prefix.key.path> = <value> is invalid: allowed ...`.

    `model` is the validated model (the `prefix` key's value), to list the keys allowed where
    an unknown one was found."""
    lines = []
    for err in exc.errors():
        loc = [prefix, *(str(part) for part in err["loc"])]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, InvalidValue):
            path = ".".join(part for part in (*loc, cause.key) if part)
            lines.append(f"{NAMESPACE}:{invalid_message(path, cause.value, cause.allowed)}")
            continue
        path = ".".join(part for part in loc if part)
        if err["type"] == "missing":
            lines.append(f"{NAMESPACE}:{path} is not set: required (see Pulumi.dev.yaml)")
        elif err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):  # model, dataclass
            allowed = ", ".join(_keys_at(model, err["loc"][:-1])) or "see the README config table"
            lines.append(
                f"{NAMESPACE}:{path} = {err.get('input')!r} is not a known key: "
                f"allowed keys here are {allowed}"
            )
        else:
            allowed = err["msg"].replace("Input should be ", "")
            lines.append(f"{NAMESPACE}:{invalid_message(path, err.get('input'), allowed)}")
    return "\n".join(lines)


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The camelCase keys of the model found at `loc` below `model`."""
    for part in loc:
        fields = {(f.alias or n): f for n, f in model.model_fields.items()}
        annotation = fields[str(part)].annotation if str(part) in fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(f.alias or n for n, f in model.model_fields.items())
