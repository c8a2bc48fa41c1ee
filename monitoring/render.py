"""The renderers infra deploys: prometheus.yml, rule files, alertmanager.yml, Grafana inputs."""

from __future__ import annotations

import re
from typing import Any

import yaml

from monitoring.alerts import all_rule_groups
from monitoring.market_hours import market_sessions
from monitoring.notifications import GrafanaNotificationModel, alertmanager_config, grafana_model
from monitoring.rules import groups_by_file
from monitoring.scrape import prometheus_config
from monitoring.settings import ContentSettings
from monitoring.thresholds import DURATION_FIELDS, OBJECTIVE_FIELDS, RATIO_FIELDS

__all__ = [
    "GrafanaNotificationModel",
    "check_settings",
    "grafana_notification_model",
    "render_alertmanager_config",
    "render_prometheus_config",
    "render_rule_files",
]


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line strings as literal blocks."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def to_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)


_DURATION = re.compile(r"^((\d+)(ms|s|m|h|d|w|y))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _seconds(duration: str) -> float:
    return sum(
        int(n) * _UNIT_SECONDS[unit] for n, unit in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)
    )


def _check_duration(key: str, value: str) -> None:
    if not isinstance(value, str) or not _DURATION.match(value):
        raise ValueError(
            f"{key}: {value!r} is not a Prometheus duration (e.g. '30s', '5m', '1h30m')"
        )


def check_settings(settings: ContentSettings) -> None:
    """Raise one clear ValueError for content settings the renderers cannot honour."""
    codes = [m.code for m in settings.markets]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ValueError(f"markets: duplicate market codes {duplicates}; each code once")
    for market in settings.markets:
        market_sessions(market)
    t = settings.thresholds
    for name in RATIO_FIELDS:
        value = getattr(t, name)
        if not 0 < value <= 1.0:
            raise ValueError(f"thresholds.{name}: {value!r} is not a ratio in (0, 1]")
    for name in OBJECTIVE_FIELDS:
        value = getattr(t, name)
        if not 0 < value < 1.0:
            raise ValueError(f"thresholds.{name}: {value!r} must be in (0, 1), e.g. 0.995")
    for name in DURATION_FIELDS:
        _check_duration(f"thresholds.{name}", getattr(t, name))
    for name in (
        "scrape_interval",
        "scrape_timeout",
        "evaluation_interval",
        "group_wait",
        "group_interval",
        "repeat_interval",
    ):
        _check_duration(name, getattr(settings, name))
    if _seconds(settings.scrape_timeout) > _seconds(settings.scrape_interval):
        raise ValueError(
            f"scrape_timeout: {settings.scrape_timeout!r} is longer than scrape_interval"
            f" {settings.scrape_interval!r}; Prometheus refuses that"
        )
    if _seconds(t.slo_period_interval) < 2 * _seconds(settings.scrape_interval):
        raise ValueError(
            f"thresholds.slo_period_interval: {t.slo_period_interval!r} is shorter than two"
            f" scrape intervals ({settings.scrape_interval}); increase() over it would be empty"
        )
    if settings.replica_label in ("env", *dict(settings.external_labels)):
        raise ValueError(
            f"replica_label: {settings.replica_label!r} clashes with an external label name"
        )


def render_prometheus_config(settings: ContentSettings) -> str:
    check_settings(settings)
    return to_yaml(prometheus_config(settings))


def render_rule_files(settings: ContentSettings) -> dict[str, str]:
    """File name -> rule file YAML; Prometheus loads `settings.rule_files_dir/*.yml`."""
    check_settings(settings)
    return {
        name: to_yaml({"groups": groups})
        for name, groups in groups_by_file(settings, all_rule_groups(settings)).items()
    }


def render_alertmanager_config(
    settings: ContentSettings, webhook_url: str | None, heartbeat_url: str | None
) -> str:
    """alertmanager.yml. It contains the webhook and heartbeat URLs: a secret as a whole."""
    check_settings(settings)
    return to_yaml(alertmanager_config(settings, webhook_url, heartbeat_url))


def grafana_notification_model(settings: ContentSettings) -> GrafanaNotificationModel:
    check_settings(settings)
    return grafana_model(settings)
