"""Dashboards: stable uids, folders, one per market, valid Grafana 11.6 JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard as SdkDashboard

from dashboards import FOLDERS, Dashboard, build_dashboards, iter_panels
from monitoring import dashboard_uids
from monitoring.alert_catalog import DEFAULT_MARKETS
from monitoring.alerts import all_rule_groups
from monitoring.rules import AlertRule
from monitoring.slo import slos
from tests.dashboards.conftest import custom_market, make_settings

GRAFANA_11_6_SCHEMA_VERSION = 41
UID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")  # Grafana's uid rule


def test_fixed_uids_are_the_shared_constants(dashboards: list[Dashboard]) -> None:
    uids = [d.uid for d in dashboards]
    expected = [
        *dashboard_uids.FIXED,
        *(dashboard_uids.market_uid(m.code) for m in DEFAULT_MARKETS),
    ]
    assert sorted(uids) == sorted(expected)
    assert len(uids) == len(set(uids))
    for d in dashboards:
        assert UID.match(d.uid), d.uid
        assert d.model["uid"] == d.uid
        assert d.model["title"] == d.title


def test_uids_do_not_depend_on_build_order_or_other_markets() -> None:
    full = {d.title: d.uid for d in build_dashboards(make_settings())}
    only_jp = {d.title: d.uid for d in build_dashboards(make_settings(DEFAULT_MARKETS[4:5]))}
    for title, uid in only_jp.items():
        assert full[title] == uid


def test_every_dashboard_is_in_a_known_folder(dashboards: list[Dashboard]) -> None:
    folder_uids = [f.uid for f in FOLDERS]
    assert len(folder_uids) == len(set(folder_uids))
    assert len({f.title for f in FOLDERS}) == len(FOLDERS)
    for folder in FOLDERS:
        assert UID.match(folder.uid), folder.uid
    # Older Grafana stores folders as dashboards: keep the two uid spaces apart.
    assert not set(folder_uids) & {d.uid for d in dashboards}
    for d in dashboards:
        assert d.folder_uid in folder_uids, (d.uid, d.folder_uid)
    # Every folder holds something.
    assert {d.folder_uid for d in dashboards} == set(folder_uids)


@pytest.mark.parametrize(
    "codes",
    [
        tuple(m.code for m in DEFAULT_MARKETS),
        ("kr",),
        ("us", "de", "br"),
        ("zz", "aa"),
    ],
)
def test_one_market_dashboard_per_configured_market(codes: tuple[str, ...]) -> None:
    by_code = {m.code: m for m in DEFAULT_MARKETS}
    markets = tuple(by_code.get(code) or custom_market(code) for code in codes)
    built = build_dashboards(make_settings(markets))
    market_dashboards = [d for d in built if d.uid.startswith(dashboard_uids.MARKET_PREFIX)]
    assert [d.uid for d in market_dashboards] == [dashboard_uids.market_uid(c) for c in codes]
    for d, market in zip(market_dashboards, markets, strict=True):
        assert market.name in d.title
        assert d.model["timezone"] == market.timezone
        exprs = [t["expr"] for p in iter_panels(d.model) for t in p.get("targets", [])]
        assert exprs
        # A market's dashboard shows that market only, with no market variable to change it.
        for expr in exprs:
            if "market" in expr:
                assert f'market="{market.code}"' in expr, expr
                assert "$market" not in expr, expr
    # The fixed dashboards do not depend on the markets.
    assert len(built) - len(market_dashboards) == len(dashboard_uids.FIXED)


def test_market_dashboards_come_from_one_template(dashboards: list[Dashboard]) -> None:
    """Same panels, same queries except the market code."""
    kr = next(d for d in dashboards if d.uid == dashboard_uids.market_uid("kr"))
    for d in dashboards:
        if d.uid.startswith(dashboard_uids.MARKET_PREFIX) and d is not kr:
            code = d.uid.removeprefix(dashboard_uids.MARKET_PREFIX)
            assert [p["title"] for p in iter_panels(d.model)] == [
                p["title"] for p in iter_panels(kr.model)
            ]
            kr_exprs = [t["expr"] for p in iter_panels(kr.model) for t in p.get("targets", [])]
            exprs = [t["expr"] for p in iter_panels(d.model) for t in p.get("targets", [])]
            assert exprs == [e.replace('market="kr"', f'market="{code}"') for e in kr_exprs]


def test_schema_version_is_grafana_11_6(dashboards: list[Dashboard]) -> None:
    for d in dashboards:
        assert d.model["schemaVersion"] == GRAFANA_11_6_SCHEMA_VERSION, d.uid


def test_json_round_trips(dashboards: list[Dashboard]) -> None:
    for d in dashboards:
        text = json.dumps(d.model, sort_keys=True)
        assert json.loads(text) == d.model
        # The SDK reads its own output back to the same JSON.
        again = json.loads(json.dumps(SdkDashboard.from_json(d.model), cls=JSONEncoder))
        assert again == d.model, d.uid


def test_panel_ids_are_unique_and_panels_fit_the_grid(dashboards: list[Dashboard]) -> None:
    for d in dashboards:
        ids = [p["id"] for p in d.model["panels"]]
        ids += [n["id"] for p in d.model["panels"] for n in p.get("panels", [])]
        assert len(ids) == len(set(ids)), d.uid
        assert all(isinstance(i, int) and i > 0 for i in ids), d.uid
        for p in iter_panels(d.model):
            pos = p["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, (d.uid, p["title"])
            assert pos["h"] > 0, (d.uid, p["title"])


def test_panel_titles_are_unique_within_a_dashboard(dashboards: list[Dashboard]) -> None:
    for d in dashboards:
        titles = [p["title"] for p in iter_panels(d.model)]
        assert len(titles) == len(set(titles)), (d.uid, titles)


def test_dashboards_are_read_only_code(dashboards: list[Dashboard]) -> None:
    for d in dashboards:
        assert d.model["editable"] is False, d.uid
        assert "trading-monitoring" in d.model["tags"], d.uid


def test_every_alert_links_to_a_built_dashboard(dashboards: list[Dashboard]) -> None:
    settings = make_settings()
    built = {d.uid for d in dashboards}
    linked: set[str] = set()
    for group in all_rule_groups(settings):
        for rule in group.rules:
            if not isinstance(rule, AlertRule):
                continue
            uid = rule.dashboard_uid
            if uid == dashboard_uids.market_uid("{{ $labels.market }}"):
                expanded = {dashboard_uids.market_uid(m.code) for m in settings.markets}
            else:
                expanded = {uid}
            assert expanded <= built, (rule.name, uid)
            linked |= expanded
    assert linked


def test_every_slo_is_shown_where_its_alerts_link(dashboards: list[Dashboard]) -> None:
    by_uid = {d.uid: d for d in dashboards}
    for slo in slos(make_settings()):
        board = by_uid[slo.dashboard_uid]
        exprs = [t["expr"] for p in iter_panels(board.model) for t in p.get("targets", [])]
        assert any(f'slo="{slo.name}"' in e for e in exprs), (slo.name, board.uid)


@pytest.mark.parametrize(
    ("discovery", "present", "absent"),
    [
        ("static", 'name!=""', "container!="),
        ("kubernetes", 'container!="POD"', 'name!=""'),
    ],
)
def test_container_panels_follow_the_discovery_mode(
    discovery: str, present: str, absent: str
) -> None:
    built = build_dashboards(make_settings(discovery=discovery))
    system = next(d for d in built if d.uid == dashboard_uids.SYSTEM)
    container_exprs = [
        t["expr"]
        for p in iter_panels(system.model)
        for t in p["targets"]
        if "container_" in t["expr"]
    ]
    assert len(container_exprs) >= 4
    for expr in container_exprs:
        assert present in expr and absent not in expr, expr


def test_overview_market_series_link_to_their_market_dashboard(
    dashboards: list[Dashboard],
) -> None:
    overview = next(d for d in dashboards if d.uid == dashboard_uids.OVERVIEW)
    linked = 0
    for panel in iter_panels(overview.model):
        links = panel["fieldConfig"]["defaults"].get("links", [])
        for link in links:
            assert link["url"].startswith("/d/" + dashboard_uids.MARKET_PREFIX)
            assert "${__field.labels.market}" in link["url"]
            linked += 1
        if any("by (market" in t["expr"] for t in panel["targets"]):
            assert links, panel["title"]
    assert linked >= 6


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (("kr", "k r"), r"markets\[\]\.code = 'k r' is invalid: allowed 1 to 24 of a-z"),
        (("kr", "x" * 25), r"markets\[\]\.code = 'x{25}' is invalid"),
        (("kr", "us", "kr"), r"markets = 'kr' is invalid: allowed unique market codes"),
    ],
)
def test_bad_market_codes_get_one_clear_error(codes: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_dashboards(make_settings(tuple(custom_market(c) for c in codes)))


def test_docs_table_matches_the_dashboards(dashboards: list[Dashboard]) -> None:
    """docs/dashboards.md lists every dashboard with its title, folder and panel count."""
    docs = (Path(__file__).parents[2] / "docs" / "dashboards.md").read_text()
    rows = {
        cells[0].strip("` "): [c.strip() for c in cells[1:4]]
        for line in docs.splitlines()
        if line.startswith("| `tm-")
        for cells in [line.strip("|").split("|")]
    }
    folders = {f.uid: f.title for f in FOLDERS}
    for d in dashboards:
        key = "tm-market-<code>" if d.uid.startswith(dashboard_uids.MARKET_PREFIX) else d.uid
        title, folder, panels = rows[key]
        count = len(list(iter_panels(d.model)))
        if key == d.uid:
            assert (title, folder, panels) == (d.title, folders[d.folder_uid], str(count))
        else:
            assert (folder, panels) == (folders[d.folder_uid], f"{count} each"), d.uid


@pytest.mark.parametrize("discovery", ["static", "kubernetes"])
def test_every_self_watch_alert_has_a_meta_panel(discovery: str) -> None:
    """Each alert on the stack's own storage, pods and volumes has a meta panel showing its
    metrics; the Kubernetes row exists only with Kubernetes discovery."""
    from monitoring.self_watch import kubernetes_rule_group, prometheus_storage_alerts
    from tests.monitoring.test_metric_contract import metric_names

    settings = make_settings(discovery=discovery)
    board = next(d for d in build_dashboards(settings) if d.uid == dashboard_uids.META)
    shown: set[str] = set()
    for panel in iter_panels(board.model):
        for target in panel.get("targets", []):
            shown |= metric_names(target["expr"].replace("$__rate_interval", "5m"))
    group = kubernetes_rule_group(settings)
    alerts = [*prometheus_storage_alerts(settings), *(group.rules if group else ())]
    assert len(alerts) == (3 if discovery == "static" else 10)
    for alert in alerts:
        assert isinstance(alert, AlertRule)
        assert metric_names(alert.expr) & shown, alert.name
    assert any(name.startswith("kube_") for name in shown) == (discovery == "kubernetes")
