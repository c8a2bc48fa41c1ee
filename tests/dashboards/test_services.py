"""One dashboard per user service, from one template: uids, folder, valid JSON, units, links."""

from __future__ import annotations

import json
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard as SdkDashboard

from dashboards import Dashboard, build_dashboards, iter_panels
from dashboards.boards.service import SERVICE_TAG, SERVICES_FOLDER, service_dashboards
from monitoring import dashboard_uids
from monitoring.rules import AlertRule
from monitoring.service_rules import service_rule_groups
from monitoring.settings import ContentSettings
from tests.monitoring.service_config import SERVICES, THRESHOLDS


@pytest.fixture(scope="module")
def boards(settings: ContentSettings) -> dict[str, Dashboard]:
    return {d.uid: d for d in service_dashboards(settings, SERVICES, THRESHOLDS)}


def _panels(board: Dashboard) -> dict[str, dict[str, Any]]:
    return {p["title"]: p for p in iter_panels(board.model)}


def test_one_dashboard_per_service_in_the_services_folder(boards: dict[str, Dashboard]) -> None:
    assert list(boards) == [dashboard_uids.service_uid(s.name) for s in SERVICES]
    for board in boards.values():
        assert board.folder_uid == SERVICES_FOLDER.uid
        assert SERVICE_TAG in board.model["tags"]
        again = json.loads(json.dumps(SdkDashboard.from_json(board.model), cls=JSONEncoder))
        assert again == board.model
        ids = [p["id"] for p in board.model["panels"]]
        assert len(ids) == len(set(ids))
        titles = [p["title"] for p in iter_panels(board.model)]
        assert len(titles) == len(set(titles)), titles


def test_sections_follow_the_config(boards: dict[str, Dashboard]) -> None:
    api = _panels(boards["tm-service-investiq-api"])
    for title in (
        "Targets up",
        "Request rate",
        "Error ratio",
        "Latency p50 / p95 / p99",
        "Probe success",
        "Probe duration",
        "Availability: error budget left (30d)",
        "Latency (under 500ms): burn rate over 1h",
        "Trades / min",
    ):
        assert title in api, title
    assert "TLS certificate expires in" not in api  # no HTTPS probe
    ml = _panels(boards["tm-service-ml"])  # probe-only, HTTPS
    assert set(ml) == {"Probe success", "Probe duration", "TLS certificate expires in"}
    gateway = _panels(boards["tm-service-gateway"])  # metrics without SLO
    assert set(gateway) == {"Targets up", "Targets down"}
    # The service's own panels come last.
    assert list(api)[-1] == "Trades / min"


def test_latency_is_shown_in_the_histogram_unit(boards: dict[str, Dashboard]) -> None:
    api = _panels(boards["tm-service-investiq-api"])["Latency p50 / p95 / p99"]
    screener = _panels(boards["tm-service-screener"])["Latency p50 / p95 / p99"]
    assert api["fieldConfig"]["defaults"]["unit"] == "ms"
    assert screener["fieldConfig"]["defaults"]["unit"] == "s"
    # The SLO threshold line is in the same unit: 500 (ms), 0.25 (s).
    assert [s["value"] for s in api["fieldConfig"]["defaults"]["thresholds"]["steps"]][1] == 500
    assert [s["value"] for s in screener["fieldConfig"]["defaults"]["thresholds"]["steps"]][
        1
    ] == 0.25
    exprs = [t["expr"] for t in api["targets"]]
    assert all("investiq_request_duration_milliseconds_bucket" in e for e in exprs)


def test_every_service_alert_links_to_its_dashboard(
    settings: ContentSettings, boards: dict[str, Dashboard]
) -> None:
    for rule in (
        r
        for g in service_rule_groups(settings, SERVICES, THRESHOLDS)
        for r in g.rules
        if isinstance(r, AlertRule)
    ):
        if "{{ $labels.service }}" in rule.dashboard_uid:
            # Probe alerts: the series carry `service`; every probed service has a board.
            for service in (s for s in SERVICES if s.probes):
                uid = rule.dashboard_uid.replace("{{ $labels.service }}", service.name)
                assert uid in boards, (rule.name, uid)
        else:
            assert rule.dashboard_uid in boards, (rule.name, rule.dashboard_uid)


def test_the_overview_links_to_the_service_dashboards(settings: ContentSettings) -> None:
    overview = next(d for d in build_dashboards(settings) if d.uid == dashboard_uids.OVERVIEW)
    links = [link for link in overview.model["links"] if link.get("tags") == [SERVICE_TAG]]
    assert links and links[0]["type"] == "dashboards"
