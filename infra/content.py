"""Render the target-independent content once (prometheus.yml, rules, alertmanager.yml, Loki,
Alloy, exporter config, Grafana server settings) into a `RenderedContent`.

Secrets enter here only as `pulumi.Output.secret`. Reviewers get the same files rendered with
placeholders instead of secrets (`files_for_review`), which is what synth writes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import yaml

from components import THIRD_PARTY, alloy, grafana, prometheus
from exporter.config import parse_config as parse_exporter_config
from infra.settings import stack as cfg
from infra.targets import ComponentExporter, GrafanaServerConfig, RenderedContent
from monitoring import render
from monitoring.logs import render_alloy_config, render_loki_config
from monitoring.notifications import (
    Email,
    Smtp,
    alertmanager_secret_files,
    inline_secret_keys,
    notification_model,
)
from monitoring.settings import ContentSettings
from monitoring.thirdparty import exporters


def grafana_env(config: cfg.StackConfig, settings: ContentSettings) -> dict[str, str]:
    """Grafana server settings (no secrets: those are files, see GrafanaServerConfig)."""
    return {
        "GF_SECURITY_ADMIN_USER": config.grafana_admin_user,
        "GF_SECURITY_ADMIN_PASSWORD__FILE": grafana.secret_path(grafana.ADMIN_PASSWORD_FILE),
        "GF_SECURITY_SECRET_KEY__FILE": grafana.secret_path(grafana.SECRET_KEY_FILE),
        "GF_SECURITY_DISABLE_GRAVATAR": "true",
        "GF_SECURITY_COOKIE_SAMESITE": "lax",
        "GF_AUTH_ANONYMOUS_ENABLED": "false",
        "GF_AUTH_BASIC_ENABLED": "true",  # the Grafana provider signs in with basic auth
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_USERS_ALLOW_ORG_CREATE": "false",
        "GF_SNAPSHOTS_EXTERNAL_ENABLED": "false",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_UNIFIED_ALERTING_ENABLED": "true",
        "GF_SERVER_HTTP_PORT": str(grafana.COMPONENT.port),
        "GF_SERVER_ROOT_URL": settings.grafana_url,
        "GF_LOG_MODE": "console",
        # Grafana's default Content-Security-Policy template (script nonces, self only).
        "GF_SECURITY_CONTENT_SECURITY_POLICY": "true",
        **grafana_https_env(settings.grafana_url),
        **grafana_smtp_env(config),
    }


def grafana_https_env(grafana_url: str) -> dict[str, str]:
    """Behind https: session cookies only over TLS, and HSTS (a year). Over plain http (dev on
    localhost) both would lock users out, so they are set only for an https root URL."""
    if not grafana_url.startswith("https://"):
        return {}
    return {
        "GF_SECURITY_COOKIE_SECURE": "true",
        "GF_SECURITY_STRICT_TRANSPORT_SECURITY": "true",
        "GF_SECURITY_STRICT_TRANSPORT_SECURITY_MAX_AGE_SECONDS": "31536000",
    }


def grafana_smtp_env(config: cfg.StackConfig) -> dict[str, str]:
    """Grafana's own SMTP settings, for its email contact point (same relay as Alertmanager)."""
    model = notification_model(config.content)
    if not any(isinstance(i, Email) for r in model.receivers for i in r.integrations):
        return {"GF_SMTP_ENABLED": "false"}
    smtp: Smtp = model.smtp
    env = {
        "GF_SMTP_ENABLED": "true",
        "GF_SMTP_HOST": smtp.smarthost,
        "GF_SMTP_FROM_ADDRESS": smtp.sender,
        "GF_SMTP_FROM_NAME": "trading-monitoring",
        "GF_SMTP_STARTTLS_POLICY": (
            "MandatoryStartTLS" if smtp.require_tls else "OpportunisticStartTLS"
        ),
    }
    if smtp.username is not None:
        env["GF_SMTP_USER"] = smtp.username
        if smtp.password_secret is not None:
            env["GF_SMTP_PASSWORD__FILE"] = grafana.secret_path(grafana.SMTP_PASSWORD_FILE)
    return env


def render_exporter_config(
    settings: ContentSettings, exporter_section: Mapping[str, Any] | None = None
) -> str:
    """The exporter's YAML config: the markets (from `markets[]`, with their custom schedules)
    and the stack's `exporter` section (SQL overrides, collectors, endpoints...), checked with
    the exporter's own parser."""
    markets = []
    for market in settings.markets:
        entry: dict[str, object] = {"code": market.code, "timezone": market.timezone}
        if market.sessions:
            entry["sessions"] = list(market.sessions)
            entry["weekdays"] = list(market.weekdays)
            if market.holidays:
                entry["holidays"] = list(market.holidays)
            if market.early_closes:
                entry["early_closes"] = [{"date": d, "close": c} for d, c in market.early_closes]
        else:
            entry["calendar"] = market.calendar
        markets.append(entry)
    own = {k: v for k, v in (exporter_section or {}).items() if k != "enabled"}
    text = yaml.safe_dump({"markets": markets, **own}, sort_keys=False)
    parse_exporter_config(yaml.safe_load(text))  # raises on anything the exporter rejects
    return text


def build_content(
    config: cfg.StackConfig,
    secrets: cfg.StackSecrets,
    admin_password: pulumi.Output[str],
    secret_key: pulumi.Output[str],
) -> RenderedContent:
    settings = config.content

    def secret(key: str) -> str | None:
        value = secrets.get(key)
        return value.get_secret_value() if value is not None else None

    # Secrets Alertmanager reads from files, and those it cannot (inline: the rendered file
    # is a secret as a whole); the deployed version decides (`*_file` fields).
    model = notification_model(settings)
    files = alertmanager_secret_files(model)
    inline = inline_secret_keys(model)
    alertmanager_yml = pulumi.Output.secret(
        render.render_alertmanager(
            settings, None, {key: value for key in inline if (value := secret(key))}
        )
    )
    secret_files = {
        file_name: pulumi.Output.secret(value)
        for key, file_name in files.items()
        if (value := secret(key)) is not None
    }
    prometheus_yml = render.render_prometheus_config(settings)
    # Ours, then the team's own files (`rules.files`, as custom-<name>.yml).
    rule_files = {**render.render_rule_files(settings), **config.custom_rule_files}
    loki_yml = render_loki_config(settings, config.log_retention_time)
    alloy_config = render_alloy_config(settings, docker_host=f"unix://{alloy.DOCKER_SOCKET}")
    exporter_yml = render_exporter_config(settings, config.exporter)
    blackbox_yml = render.render_blackbox_config(settings)

    review_alertmanager = render.render_alertmanager(
        # Inline secrets are URLs or tokens: a URL placeholder keeps the copy valid for amtool.
        settings,
        None,
        {key: f"https://secret.invalid/{key}" for key in inline if secrets.has(key)},
    )
    review: dict[str, str] = {
        "prometheus.yml": prometheus_yml,
        "alertmanager.yml": review_alertmanager,
        "loki.yml": loki_yml,
        "config.alloy": alloy_config,
        "exporter.yml": exporter_yml,
        **({"blackbox.yml": blackbox_yml} if blackbox_yml is not None else {}),
        **{f"rules/{name}": text for name, text in rule_files.items()},
        **{
            f"alertmanager-secrets/{file_name}": cfg.placeholder_secret(key)
            for key, file_name in files.items()
            if secrets.has(key)
        },
    }
    smtp = model.smtp
    smtp_password = secret(smtp.password_secret) if smtp.password_secret else None
    extra_grafana_files = (
        {grafana.SMTP_PASSWORD_FILE: pulumi.Output.secret(smtp_password)}
        if smtp_password is not None and smtp.username is not None
        else {}
    )
    exporters, exporter_review = component_exporters(config, secrets)
    review.update(exporter_review)
    return RenderedContent(
        settings=settings,
        component_exporters=exporters,
        prometheus_yml=prometheus_yml,
        prometheus_args=prometheus.args(settings),
        rule_files=rule_files,
        custom_dashboards=config.custom_dashboards,
        alertmanager_yml=alertmanager_yml,
        alertmanager_secret_files=secret_files,
        loki_yml=loki_yml,
        alloy_config=alloy_config,
        exporter_config_yml=exporter_yml,
        blackbox_yml=blackbox_yml,
        grafana=GrafanaServerConfig(
            admin_user=config.grafana_admin_user,
            admin_password=pulumi.Output.secret(admin_password),
            secret_key=pulumi.Output.secret(secret_key),
            env=grafana_env(config, settings),
            image=config.images.grafana,
            extra_secret_files=extra_grafana_files,
        ),
        files_for_review=review,
    )


def component_exporters(
    config: cfg.StackConfig, secrets: cfg.StackSecrets
) -> tuple[tuple[ComponentExporter, ...], dict[str, str]]:
    """The exporter of every declared instance, and its files for review (placeholders in
    place of passwords)."""
    deployed: list[ComponentExporter] = []
    review: dict[str, str] = {}
    for kind in config.components.kinds:
        contract = THIRD_PARTY[kind]
        for instance in config.components.of(kind):
            command = exporters.exporter_command(instance)
            secret = getattr(instance, "password_secret", None)
            password = secrets.get(secret) if secret is not None else None
            config_files = {
                name: exporters.config_file_content(name) for name in command.config_files
            }
            secret_files: dict[str, pulumi.Output[str]] = {}
            for name in command.secret_files:
                assert password is not None and secret is not None  # required_secret_keys
                secret_files[name] = pulumi.Output.secret(
                    exporters.secret_file_content(instance, name, password.get_secret_value())
                )
                review[f"exporters/{kind}-{instance.name}/{name}"] = exporters.secret_file_content(
                    instance, name, cfg.placeholder_secret(secret)
                )
            for name, text in config_files.items():
                review[f"exporters/{kind}-{instance.name}/{name}"] = text
            deployed.append(
                ComponentExporter(
                    component=contract.instance(instance.name),
                    command=command,
                    config_files=config_files,
                    secret_files=secret_files,
                )
            )
    return tuple(deployed), review
