"""The rendered files with the components added: rule files, prometheus.yml, alertmanager.yml.

Until `ContentSettings` carries the components (the structure issue), callers pass them beside
the settings; the base files come from the same renderers as always, unchanged.
"""

from __future__ import annotations

from monitoring.notifications import (
    alertmanager_config,
    am_inhibit_rule,
    legacy_secret_values,
    notification_model,
)
from monitoring.render import check_settings, to_yaml
from monitoring.rules import groups_by_file
from monitoring.scrape import prometheus_config
from monitoring.settings import ContentSettings
from monitoring.thirdparty.model import Components
from monitoring.thirdparty.rules import (
    DEFAULT_THRESHOLDS,
    ComponentThresholds,
    component_inhibit_rules,
    component_rule_groups,
)
from monitoring.thirdparty.scrape import TargetAddress, scrape_configs


def render_component_rule_files(
    settings: ContentSettings,
    components: Components,
    thresholds: ComponentThresholds = DEFAULT_THRESHOLDS,
) -> dict[str, str]:
    """File name -> rule file YAML (`postgres.yml`, `redis.yml`, `nginx.yml`) for the types
    that have instances; they go in `settings.rule_files_dir` beside the others."""
    check_settings(settings)
    groups = component_rule_groups(components, thresholds)
    return {
        name: to_yaml({"groups": rendered})
        for name, rendered in groups_by_file(settings, groups).items()
    }


def render_prometheus_config_with_components(
    settings: ContentSettings,
    components: Components,
    address: TargetAddress,
    scrape_interval: str | None = None,
) -> str:
    check_settings(settings)
    config = prometheus_config(settings)
    config["scrape_configs"] += scrape_configs(components, address, scrape_interval)
    return to_yaml(config)


def render_alertmanager_config_with_components(
    settings: ContentSettings,
    components: Components,
    webhook_url: str | None,
    heartbeat_url: str | None,
) -> str:
    """alertmanager.yml with the component inhibition rules (a secret as a whole, as always)."""
    check_settings(settings)
    secrets = legacy_secret_values(webhook_url, heartbeat_url)
    config = alertmanager_config(notification_model(settings), secrets)
    config["inhibit_rules"] += [am_inhibit_rule(r) for r in component_inhibit_rules(components)]
    return to_yaml(config)
