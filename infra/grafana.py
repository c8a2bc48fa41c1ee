"""Grafana content through its API (pulumiverse_grafana), the same on both targets.

The provider points at the deployed Grafana, derived from the target's outputs and
`depends_on` its readiness (healthy container / ready Deployment), with retries. It creates the
folders, the Prometheus/Loki/Alertmanager datasources (uids `prometheus`, `loki`,
`alertmanager`), every dashboard (stable uids, overwrite), the contact points, the ONE
notification policy tree, message templates and mute timings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumiverse_grafana as grafana

from dashboards import FOLDERS, build_dashboards
from dashboards.boards.service import CUSTOM_FOLDER, SERVICES_FOLDER
from infra.settings import stack as cfg
from infra.settings.base import NAMESPACE, ConfigError
from infra.targets import RenderedContent, TargetEndpoints
from monitoring.notifications import (
    GrafanaContactPoint,
    GrafanaMuteTiming,
    GrafanaNotificationModel,
    GrafanaPolicy,
)

# ContactPoint list argument -> its typed args class (nested secrets: pulumi.Output.secret).
INTEGRATION_ARGS: dict[str, Any] = {
    "slacks": grafana.alerting.ContactPointSlackArgs,
    "emails": grafana.alerting.ContactPointEmailArgs,
    "pagerduties": grafana.alerting.ContactPointPagerdutyArgs,
    "webhooks": grafana.alerting.ContactPointWebhookArgs,
    "discords": grafana.alerting.ContactPointDiscordArgs,
    "telegrams": grafana.alerting.ContactPointTelegramArgs,
    "opsgenies": grafana.alerting.ContactPointOpsgenyArgs,
    "teams": grafana.alerting.ContactPointTeamArgs,
}
PROVIDER_RETRIES = 10
PROVIDER_RETRY_WAIT_SECONDS = 5


@dataclass(frozen=True)
class DatasourceUrls:
    """Where Grafana (server side) reaches each datasource on the target's network."""

    prometheus: str
    loki: str
    alertmanager: str


class GrafanaContent(pulumi.ComponentResource):
    """Everything inside Grafana. `dashboard_urls`: dashboard uid -> URL for people."""

    dashboard_urls: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        content: RenderedContent,
        endpoints: TargetEndpoints,
        datasource_urls: DatasourceUrls,
        secrets: cfg.StackSecrets,
        model: GrafanaNotificationModel,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("trading-monitoring:grafana:GrafanaContent", name, None, opts)
        server = content.grafana
        # Secret, because the password is (tests check it).
        auth: pulumi.Output[str] = pulumi.Output.concat(
            server.admin_user, ":", server.admin_password
        )
        # Two links to readiness on purpose: the URL is derived from the healthy Grafana, and
        # depends_on says so explicitly in case a target ever passes a plain URL.
        self.provider = grafana.Provider(
            "grafana",
            url=endpoints.grafana_api_url,
            auth=auth,
            retries=PROVIDER_RETRIES,
            retry_wait=PROVIDER_RETRY_WAIT_SECONDS,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[endpoints.grafana_ready]),
        )
        self._opts = pulumi.ResourceOptions(parent=self, provider=self.provider)
        self._secrets = secrets

        folders = {
            folder.uid: grafana.oss.Folder(
                f"folder-{folder.uid}", uid=folder.uid, title=folder.title, opts=self._opts
            )
            for folder in (
                *FOLDERS,
                *([SERVICES_FOLDER] if content.settings.services else []),
                *([CUSTOM_FOLDER] if content.custom_dashboards else []),
            )
        }
        self._datasources(content, datasource_urls)
        self.dashboard_urls = {}
        self.dashboards = build_dashboards(content.settings)
        # Ours, then the team's own JSON files (`dashboards.files`, folder Custom) as written.
        boards = [(d.uid, d.model, d.folder_uid) for d in self.dashboards] + [
            (c.uid, c.model, CUSTOM_FOLDER.uid) for c in content.custom_dashboards
        ]
        for uid, board_json, folder_uid in boards:
            board = grafana.oss.Dashboard(
                f"dashboard-{uid}",
                config_json=json.dumps(board_json, sort_keys=True),
                folder=folders[folder_uid].uid,
                overwrite=True,
                opts=self._opts,
            )
            self.dashboard_urls[uid] = pulumi.Output.concat(endpoints.grafana_url, "/d/", board.uid)

        templates = [
            grafana.alerting.MessageTemplate(
                f"template-{template.name}",
                name=template.name,
                template=template.template,
                opts=self._opts,
            )
            for template in model.message_templates
        ]
        mute_timings = [self._mute_timing(timing) for timing in model.mute_timings]
        contact_points = {
            point.name: self._contact_point(point, templates) for point in model.contact_points
        }
        if model.policy is not None:
            # Exactly one: this resource owns the organisation's whole policy tree.
            root = model.policy
            grafana.alerting.NotificationPolicy(
                "policy",
                contact_point=_contact_point_name(root, contact_points),
                group_bies=list(root.group_by or ["grafana_folder", "alertname"]),
                group_wait=root.group_wait,
                group_interval=root.group_interval,
                repeat_interval=root.repeat_interval,
                policies=[_policy_args(child, contact_points) for child in root.policies] or None,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=self.provider,
                    depends_on=[*contact_points.values(), *mute_timings],
                ),
            )
        self.register_outputs({"dashboards": len(self.dashboard_urls)})

    def _datasources(self, content: RenderedContent, urls: DatasourceUrls) -> None:
        prometheus_json = {
            "httpMethod": "POST",
            "timeInterval": content.settings.scrape_interval,
            "prometheusType": "Prometheus",
        }
        self._datasource(
            "prometheus", "Prometheus", urls.prometheus, prometheus_json, is_default=True
        )
        self._datasource("loki", "Loki", urls.loki, {"maxLines": 1000})
        alertmanager_json = {"implementation": "prometheus", "handleGrafanaManagedAlerts": False}
        self._datasource("alertmanager", "Alertmanager", urls.alertmanager, alertmanager_json)

    def _datasource(
        self,
        kind: str,
        name: str,
        url: str,
        json_data: dict[str, Any],
        *,
        is_default: bool | None = None,
    ) -> grafana.oss.DataSource:
        """A proxied datasource whose type and uid are both `kind`."""
        return grafana.oss.DataSource(
            f"datasource-{kind}",
            name=name,
            type=kind,
            uid=kind,
            url=url,
            is_default=is_default,
            access_mode="proxy",
            json_data_encoded=json.dumps(json_data, sort_keys=True),
            opts=self._opts,
        )

    def _secret(self, key: str) -> pulumi.Output[str]:
        value = self._secrets.get(key)
        if value is None:  # config validation requires it for every enabled receiver
            raise ConfigError(f"{NAMESPACE}:{key} is not set: required by Grafana")
        return pulumi.Output.secret(value.get_secret_value())

    def _contact_point(
        self, point: GrafanaContactPoint, templates: list[grafana.alerting.MessageTemplate]
    ) -> grafana.alerting.ContactPoint:
        lists: dict[str, list[Any]] = {}
        for integration in point.integrations:
            args: dict[str, Any] = dict(integration.settings)
            for argument, key in integration.secrets.items():
                args[argument] = self._secret(key)
            args_class = INTEGRATION_ARGS[integration.kind]
            lists.setdefault(integration.kind, []).append(args_class(**args))
        return grafana.alerting.ContactPoint(
            f"contact-point-{point.name}",
            name=point.name,
            slacks=lists.get("slacks"),
            emails=lists.get("emails"),
            pagerduties=lists.get("pagerduties"),
            webhooks=lists.get("webhooks"),
            discords=lists.get("discords"),
            telegrams=lists.get("telegrams"),
            opsgenies=lists.get("opsgenies"),
            teams=lists.get("teams"),
            opts=pulumi.ResourceOptions(
                parent=self, provider=self.provider, depends_on=list(templates)
            ),
        )

    def _mute_timing(self, timing: GrafanaMuteTiming) -> grafana.alerting.MuteTiming:
        return grafana.alerting.MuteTiming(
            f"mute-timing-{timing.name}",
            name=timing.name,
            intervals=[
                grafana.alerting.MuteTimingIntervalArgs(
                    weekdays=list(interval.weekdays) or None,
                    times=[
                        grafana.alerting.MuteTimingIntervalTimeArgs(start=t.start, end=t.end)
                        for t in interval.times
                    ]
                    or None,
                    location=interval.location,
                    days_of_months=list(interval.days_of_month) or None,
                    months=list(interval.months) or None,
                    years=list(interval.years) or None,
                )
                for interval in timing.intervals
            ],
            opts=self._opts,
        )


def _contact_point_name(
    policy: GrafanaPolicy, contact_points: dict[str, grafana.alerting.ContactPoint]
) -> pulumi.Input[str] | None:
    """The contact point's name Output (so the policy waits for it), or None to inherit."""
    if policy.contact_point is None:
        return None
    return contact_points[policy.contact_point].name


def _policy_args(
    policy: GrafanaPolicy,
    contact_points: dict[str, grafana.alerting.ContactPoint],
    depth: int = 1,
) -> Any:
    """A nested policy as the provider's typed args; each nesting level has its own class
    (`NotificationPolicyPolicyArgs`, `NotificationPolicyPolicyPolicyArgs`, ...)."""
    level = "Policy" * depth
    args_class = getattr(grafana.alerting, f"NotificationPolicy{level}Args", None)
    matcher_class = getattr(grafana.alerting, f"NotificationPolicy{level}MatcherArgs", None)
    if args_class is None or matcher_class is None:
        raise ValueError(f"notification policy tree deeper than the provider allows ({depth})")
    kwargs: dict[str, Any] = {
        "contact_point": _contact_point_name(policy, contact_points),
        "group_bies": list(policy.group_by) if policy.group_by is not None else None,
        "matchers": [
            matcher_class(label=m.label, match=m.match, value=m.value) for m in policy.matchers
        ]
        or None,
        "continue_": policy.continue_ or None,
        "group_wait": policy.group_wait,
        "group_interval": policy.group_interval,
        "repeat_interval": policy.repeat_interval,
        "mute_timings": list(policy.mute_timings) or None,
    }
    if policy.policies:
        kwargs["policies"] = [
            _policy_args(child, contact_points, depth + 1) for child in policy.policies
        ]
    return args_class(**{key: value for key, value in kwargs.items() if value is not None})
