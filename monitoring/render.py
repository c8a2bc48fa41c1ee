"""The renderers infra deploys: prometheus.yml, rule files, alertmanager.yml, Grafana inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from monitoring.alerts import all_rule_groups
from monitoring.market_hours import market_sessions
from monitoring.notifications import (
    GrafanaNotificationModel,
    Notifications,
    alertmanager_config,
    grafana_model,
    legacy_secret_values,
    notification_model,
)
from monitoring.rules import groups_by_file
from monitoring.scrape import prometheus_config
from monitoring.service_rules import blackbox_config
from monitoring.settings import ContentSettings
from monitoring.thresholds import (
    DURATION_FIELDS,
    LEVEL_PAIRS,
    NUMBER_BOUNDS,
    OBJECTIVE_FIELDS,
    RATIO_FIELDS,
    WINDOW_FIELDS,
    AlertThresholds,
)
from monitoring.tuning import AlertTuning
from validation import InvalidValue, check_number, check_unique, duration_seconds

__all__ = [
    "GrafanaNotificationModel",
    "check_settings",
    "grafana_notification_model",
    "render_alertmanager",
    "render_alertmanager_config",
    "render_blackbox_config",
    "render_prometheus_config",
    "render_rule_files",
]


class PurePythonDumper(yaml.SafeDumper):
    """Block style; multi-line strings as literal blocks."""


class LibyamlDumper(yaml.CSafeDumper):
    """The same with libyaml's emitter: 7x faster, the same text (tests/monitoring/test_render.py
    compares the two on every rendered config)."""


def _str_representer(dumper: yaml.representer.SafeRepresenter, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


PurePythonDumper.add_representer(str, _str_representer)
LibyamlDumper.add_representer(str, _str_representer)
YAML_DUMPER: type[yaml.SafeDumper | yaml.CSafeDumper] = LibyamlDumper


def to_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=YAML_DUMPER, sort_keys=False, default_flow_style=False, width=100)


_DEFAULTS = AlertThresholds()


def check_settings(settings: ContentSettings) -> None:
    """Raise one `InvalidValue` for content settings the renderers cannot honour."""
    check_unique("markets", (m.code for m in settings.markets), "market codes")
    for market in settings.markets:
        market_sessions(market)
    t = settings.thresholds
    for name in RATIO_FIELDS:
        value = getattr(t, name)
        if not 0 < value <= 1.0:
            raise InvalidValue(f"thresholds.{name}", value, "a ratio in (0, 1]")
    for name in OBJECTIVE_FIELDS:
        value = getattr(t, name)
        if not 0 < value < 1.0:
            raise InvalidValue(f"thresholds.{name}", value, "a ratio in (0, 1), e.g. 0.995")
    for name in DURATION_FIELDS:
        duration_seconds(f"thresholds.{name}", getattr(t, name), name in WINDOW_FIELDS)
    for name, (low, high) in NUMBER_BOUNDS.items():
        whole = isinstance(getattr(_DEFAULTS, name), int)
        check_number(f"thresholds.{name}", getattr(t, name), low, high, whole)
    for warning, critical, high_is_bad in LEVEL_PAIRS:
        low, high = getattr(t, warning), getattr(t, critical)
        if not (low < high if high_is_bad else low > high):
            side = "above" if high_is_bad else "below"
            raise InvalidValue(
                f"thresholds.{critical}", high, f"a level {side} thresholds.{warning} ({low})"
            )
    # 0 would make Prometheus' scrape/evaluation tickers and Alertmanager's timers spin.
    for name in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
        duration_seconds(name, getattr(settings, name), positive=True)
    for name in ("group_wait", "group_interval", "repeat_interval"):
        duration_seconds(name, getattr(settings, name), name != "group_wait")
    scrape_interval = duration_seconds("scrape_interval", settings.scrape_interval)
    if duration_seconds("scrape_timeout", settings.scrape_timeout) > scrape_interval:
        raise InvalidValue(
            "scrape_timeout",
            settings.scrape_timeout,
            f"at most scrape_interval ({settings.scrape_interval}); Prometheus refuses more",
        )
    period = duration_seconds("thresholds.slo_period_interval", t.slo_period_interval)
    if period < 2 * scrape_interval:
        raise InvalidValue(
            "thresholds.slo_period_interval",
            t.slo_period_interval,
            f"at least two scrape intervals ({settings.scrape_interval}); increase() over a"
            " shorter one would be empty",
        )
    if settings.replica_label in ("env", *dict(settings.external_labels)):
        raise InvalidValue(
            "replica_label", settings.replica_label, "a name other than every external label"
        )
    probed = [s.name for s in settings.services if s.probes]
    if probed and not settings.targets.blackbox:
        raise InvalidValue("targets.blackbox", (), f"the blackbox exporter for {probed}")


def render_prometheus_config(settings: ContentSettings) -> str:
    check_settings(settings)
    return to_yaml(prometheus_config(settings))


def render_rule_files(
    settings: ContentSettings, tuning: AlertTuning | None = None
) -> dict[str, str]:
    """File name -> rule file YAML; Prometheus loads `settings.rule_files_dir/*.yml`."""
    check_settings(settings)
    return {
        name: to_yaml({"groups": groups})
        for name, groups in groups_by_file(settings, all_rule_groups(settings, tuning)).items()
    }


def render_alertmanager(
    settings: ContentSettings,
    notifications: Notifications | None,
    secrets: Mapping[str, str],
    tuning: AlertTuning | None = None,
) -> str:
    """alertmanager.yml. `secrets` (stack key -> value) are the ones the configured
    Alertmanager version cannot read from a file (`inline_secret_keys`): when there are any,
    the file is a secret as a whole. `notifications` None: the legacy `receivers.*`."""
    check_settings(settings)
    model = notification_model(settings, notifications, tuning)
    return to_yaml(alertmanager_config(model, secrets))


def render_blackbox_config(settings: ContentSettings) -> str | None:
    """blackbox.yml, one module per probe of `services` (None: nothing to probe). Checked by
    `blackbox_exporter --config.check` in the tests."""
    if not any(s.probes for s in settings.services):
        return None
    return to_yaml(blackbox_config(settings.services, settings.service_thresholds))


def render_alertmanager_config(
    settings: ContentSettings, webhook_url: str | None, heartbeat_url: str | None
) -> str:
    """alertmanager.yml of the legacy `receivers.*` settings (webhook and heartbeat URLs
    inline: a secret as a whole)."""
    return render_alertmanager(settings, None, legacy_secret_values(webhook_url, heartbeat_url))


def grafana_notification_model(
    settings: ContentSettings,
    notifications: Notifications | None = None,
    tuning: AlertTuning | None = None,
) -> GrafanaNotificationModel:
    check_settings(settings)
    return grafana_model(notification_model(settings, notifications, tuning))
