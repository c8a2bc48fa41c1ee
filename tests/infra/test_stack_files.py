"""Pulumi.dev.yaml and Pulumi.prod.yaml show every option of their target, and no secret."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from infra.settings.stack import SECRET_KEYS, StackConfig
from monitoring.settings import Market
from monitoring.thirdparty.model import NginxInstance, PostgresInstance, RedisInstance

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "trading-monitoring:"


def _model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every leaf key (camelCase dotted path) a config model accepts."""
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        annotation = info.annotation
        nested = [
            arg
            for arg in (annotation, *typing.get_args(annotation))
            if isinstance(arg, type) and issubclass(arg, BaseModel)
        ]
        if nested and nested[0] not in LIST_ENTRIES:
            keys |= _model_keys(nested[0], key + ".")
        else:
            keys.add(key)
    return keys


# Lists of objects: the stack file shows the list (markets in full, components empty).
LIST_ENTRIES = (PostgresInstance, RedisInstance, NginxInstance)
# Objects whose keys are the user's own (labels, annotations, threshold overrides).
FREE_FORM_OBJECTS = ("authAnnotations.", "externalLabels.", "thresholds.")
# The top-level `exporter` section is the exporter's own config, checked by its own model.
FREE_FORM_SECTIONS = ("exporter.",)


def _document_keys(value: Any, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    if (
        isinstance(value, dict)
        and value
        and prefix.count(".") < 4
        and not prefix.endswith(FREE_FORM_OBJECTS)
        and prefix not in FREE_FORM_SECTIONS
    ):
        for key, item in value.items():
            keys |= _document_keys(item, f"{prefix}{key}.")
        return keys
    keys.add(prefix.rstrip("."))
    return keys


def _stack_keys(stack: str) -> tuple[set[str], dict[str, Any]]:
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    keys: set[str] = set()
    for full_key, value in config.items():
        assert full_key.startswith(PREFIX), full_key
        keys |= _document_keys(value, full_key[len(PREFIX) :] + ".")
    return keys, config


@pytest.mark.parametrize(("stack", "other"), [("dev", "kubernetes"), ("prod", "docker")])
def test_stack_file_shows_every_option(stack: str, other: str) -> None:
    keys, config = _stack_keys(stack)
    expected = {k for k in _model_keys(StackConfig) if not k.startswith(f"{other}.")}
    expected -= {f"{other}"}
    assert expected - keys == set(), f"Pulumi.{stack}.yaml does not show these options"
    assert keys - expected == set(), f"Pulumi.{stack}.yaml shows unknown options"
    market_keys = {key for market in config[f"{PREFIX}markets"] for key in market}
    assert market_keys == {to_camel(f.name) for f in dataclasses.fields(Market)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_file_holds_no_secret(stack: str) -> None:
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    config = yaml.safe_load(text)["config"]
    for key in SECRET_KEYS:
        assert f"{PREFIX}{key}" not in config, f"{key} belongs in `pulumi config set --secret`"
    assert "secure:" not in text
