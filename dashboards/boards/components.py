"""tm-postgres, tm-redis, tm-nginx: one dashboard per standard component type.

Each has an instance variable (`name`, the configured name), units, and the alert levels of
`monitoring/thirdparty/rules.py` as thresholds.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat, timeseries

from dashboards.layout import new_dashboard
from dashboards.panels import (
    ANY_IS_BAD,
    ANY_IS_SUSPECT,
    NONZERO_RATE_IS_BAD,
    UP_DOWN,
    Levels,
    Q,
    graph,
    prometheus_variable,
    query_variable,
    ratio_graph,
    row,
    single,
)
from monitoring.dashboard_uids import component_uid
from monitoring.thirdparty.model import Kind
from monitoring.thirdparty.rules import HUMAN
from monitoring.thirdparty.scrape import JOBS
from monitoring.thresholds import ComponentThresholds

LEGEND = "{{name}}"


def _rate(metric: str, sel: str) -> str:
    return f"sum by (name) (rate({metric}{{{sel}}}[$__rate_interval]))"


def _graph(title: str, queries: list[Q], unit: str, **options: Any) -> timeseries.Panel:
    """A time series whose axis starts at 0 (counts, rates, sizes, durations)."""
    return graph(title, queries, unit, min_value=0, **options)


def _selector(kind: Kind) -> str:
    return f'job="{JOBS[kind]}", name=~"$name"'


def _skeleton(kind: Kind, description: str) -> db.Dashboard:
    return new_dashboard(
        component_uid(kind),
        HUMAN[kind],
        description,
        ["components", kind],
        [
            prometheus_variable(),
            query_variable("name", "Instance", f'label_values(up{{job="{JOBS[kind]}"}}, name)'),
        ],
    )


def _up(kind: Kind, metric: str) -> stat.Panel:
    return single(
        f"{HUMAN[kind]} up",
        [Q(f"min by (name) ({metric}{{{_selector(kind)}}})", LEGEND)],
        "none",
        mappings=UP_DOWN,
        description="As its exporter sees it; no value when the exporter itself is down.",
    )


def postgres(t: ComponentThresholds) -> db.Dashboard:
    sel = _selector("postgres")
    by = "name, datname"
    commits = f"sum by ({by}) (rate(pg_stat_database_xact_commit{{{sel}}}[$__rate_interval]))"
    rollbacks = f"sum by ({by}) (rate(pg_stat_database_xact_rollback{{{sel}}}[$__rate_interval]))"
    hits = f"sum by ({by}) (rate(pg_stat_database_blks_hit{{{sel}}}[$__rate_interval]))"
    reads = f"sum by ({by}) (rate(pg_stat_database_blks_read{{{sel}}}[$__rate_interval]))"
    connections = Levels(t.postgres_connections_ratio)
    return (
        _skeleton("postgres", "Connections, transactions, cache, size and replication.")
        .with_row(row("Now"))
        .with_panel(_up("postgres", "pg_up"))
        .with_panel(
            single(
                "Connections used",
                [
                    Q(
                        f"sum by (name) (pg_stat_activity_count{{{sel}}})"
                        f" / max by (name) (pg_settings_max_connections{{{sel}}})",
                        LEGEND,
                    )
                ],
                "percentunit",
                levels=connections,
            )
        )
        .with_panel(
            single(
                "Deadlocks (1h)",
                [Q(f"sum by (name) (increase(pg_stat_database_deadlocks{{{sel}}}[1h]))", LEGEND)],
                "short",
                levels=ANY_IS_SUSPECT,
            )
        )
        .with_panel(
            single(
                "Exporter query errors",
                [Q(f"max by (name) (pg_exporter_last_scrape_error{{{sel}}})", LEGEND)],
                "short",
                levels=ANY_IS_SUSPECT,
                description="1 while postgres_exporter's last scrape had a query error.",
            )
        )
        .with_row(row("Connections and transactions"))
        .with_panel(
            _graph(
                "Connections by state",
                [
                    Q(
                        f"sum by (name, state) (pg_stat_activity_count{{{sel}}})",
                        "{{name}} {{state}}",
                    )
                ],
                "short",
                stacked=True,
            )
        )
        .with_panel(
            ratio_graph(
                "Connections / max_connections",
                [
                    Q(
                        f"sum by (name) (pg_stat_activity_count{{{sel}}})"
                        f" / max by (name) (pg_settings_max_connections{{{sel}}})",
                        LEGEND,
                    )
                ],
                levels=connections,
            )
        )
        .with_panel(
            _graph(
                "Transactions",
                [
                    Q(commits, "{{name}}/{{datname}} commits"),
                    Q(rollbacks, "{{name}}/{{datname}} rollbacks"),
                ],
                "ops",
            )
        )
        .with_panel(
            ratio_graph(
                "Rollback ratio",
                [Q(f"{rollbacks} / ({commits} + {rollbacks})", "{{name}}/{{datname}}")],
                levels=Levels(t.postgres_rollback_ratio),
            )
        )
        .with_panel(
            _graph(
                "Longest active transaction",
                [
                    Q(
                        f"max by (name, datname)"
                        f' (pg_stat_activity_max_tx_duration{{{sel}, state="active"}})',
                        "{{name}}/{{datname}}",
                    )
                ],
                "s",
                levels=Levels(t.postgres_long_transaction_seconds),
            )
        )
        .with_panel(
            _graph(
                "Locks by mode",
                [Q(f"sum by (name, mode) (pg_locks_count{{{sel}}})", "{{name}} {{mode}}")],
                "short",
            )
        )
        .with_row(row("Cache and size"))
        .with_panel(
            ratio_graph(
                "Buffer cache hit ratio",
                [Q(f"{hits} / ({hits} + {reads})", "{{name}}/{{datname}}")],
                levels=Levels(t.postgres_cache_hit_ratio_min, high_is_bad=False),
            )
        )
        .with_panel(
            _graph(
                "Database size",
                [
                    Q(
                        f"sum by (name, datname) (pg_database_size_bytes{{{sel}}})",
                        "{{name}}/{{datname}}",
                    )
                ],
                "bytes",
            )
        )
        .with_row(row("Replication"))
        .with_panel(
            _graph(
                "Replica lag behind this primary (bytes)",
                [
                    Q(
                        f"max by (name, application_name)"
                        f" (pg_stat_replication_pg_wal_lsn_diff{{{sel}}})",
                        "{{name}} -> {{application_name}}",
                    )
                ],
                "bytes",
                levels=Levels(t.postgres_replication_lag_bytes),
            )
        )
        .with_panel(
            _graph(
                "Replay lag of this replica (seconds)",
                [Q(f"max by (name) (pg_replica_lag_seconds{{{sel}}})", LEGEND)],
                "s",
                levels=Levels(t.postgres_replication_lag_seconds),
                description="From our extend-queries file (replicationLagQueries); 0 on a primary.",
            )
        )
    )


def redis(t: ComponentThresholds) -> db.Dashboard:
    sel = _selector("redis")
    memory = Levels(t.redis_memory_ratio)
    return (
        _skeleton("redis", "Memory against maxmemory, clients, evictions, persistence.")
        .with_row(row("Now"))
        .with_panel(_up("redis", "redis_up"))
        .with_panel(
            single(
                "Memory / maxmemory",
                [
                    Q(
                        f"max by (name) (redis_memory_used_bytes{{{sel}}}"
                        f" / (redis_memory_max_bytes{{{sel}}} > 0))",
                        LEGEND,
                    )
                ],
                "percentunit",
                levels=memory,
                description="No value when maxmemory is 0 (no limit).",
            )
        )
        .with_panel(
            single(
                "Clients / maxclients",
                [
                    Q(
                        f"max by (name) (redis_connected_clients{{{sel}}}"
                        f" / redis_config_maxclients{{{sel}}})",
                        LEGEND,
                    )
                ],
                "percentunit",
                levels=Levels(t.redis_clients_ratio),
            )
        )
        .with_panel(
            single(
                "Last RDB save",
                [Q(f"min by (name) (redis_rdb_last_bgsave_status{{{sel}}})", LEGEND)],
                "none",
                mappings=UP_DOWN,
                description="1: the last background save succeeded.",
            )
        )
        .with_row(row("Memory and keys"))
        .with_panel(
            _graph(
                "Memory used",
                [
                    Q(f"max by (name) (redis_memory_used_bytes{{{sel}}})", "{{name}} used"),
                    Q(f"max by (name) (redis_memory_max_bytes{{{sel}}})", "{{name}} maxmemory"),
                ],
                "bytes",
            )
        )
        .with_panel(
            _graph(
                "Evicted keys",
                [Q(_rate("redis_evicted_keys_total", sel), LEGEND)],
                "ops",
                levels=NONZERO_RATE_IS_BAD,
            )
        )
        .with_panel(
            _graph(
                "Keyspace reads",
                [
                    Q(_rate("redis_keyspace_hits_total", sel), "{{name}} hits"),
                    Q(_rate("redis_keyspace_misses_total", sel), "{{name}} misses"),
                ],
                "ops",
            )
        )
        .with_panel(
            _graph(
                "Commands",
                [Q(_rate("redis_commands_processed_total", sel), LEGEND)],
                "ops",
            )
        )
        .with_row(row("Clients and persistence"))
        .with_panel(
            _graph(
                "Connected clients",
                [
                    Q(f"max by (name) (redis_connected_clients{{{sel}}})", "{{name}} connected"),
                    Q(f"max by (name) (redis_config_maxclients{{{sel}}})", "{{name}} maxclients"),
                ],
                "short",
            )
        )
        .with_panel(
            _graph(
                "Rejected connections",
                [Q(_rate("redis_rejected_connections_total", sel), LEGEND)],
                "ops",
                levels=NONZERO_RATE_IS_BAD,
            )
        )
        .with_panel(
            _graph(
                "Age of the last RDB snapshot",
                [
                    Q(
                        f"time() - max by (name) (redis_rdb_last_save_timestamp_seconds{{{sel}}})",
                        LEGEND,
                    )
                ],
                "s",
                levels=Levels(t.redis_rdb_max_age_seconds),
            )
        )
        .with_panel(
            _graph(
                "Uptime",
                [Q(f"max by (name) (redis_uptime_in_seconds{{{sel}}})", LEGEND)],
                "s",
            )
        )
    )


def nginx(t: ComponentThresholds) -> db.Dashboard:
    sel = _selector("nginx")
    accepted = _rate("nginx_connections_accepted", sel)
    handled = _rate("nginx_connections_handled", sel)
    active = Levels(t.nginx_active_connections_max)
    return (
        _skeleton("nginx", "Connections and requests from the stub_status page.")
        .with_row(row("Now"))
        .with_panel(_up("nginx", "nginx_up"))
        .with_panel(
            single(
                "Active connections",
                [Q(f"sum by (name) (nginx_connections_active{{{sel}}})", LEGEND)],
                "short",
                levels=active,
            )
        )
        .with_panel(
            single(
                "Requests",
                [Q(_rate("nginx_http_requests_total", sel), LEGEND)],
                "reqps",
            )
        )
        .with_panel(
            single(
                "Dropped connections",
                [Q(f"{accepted} - {handled}", LEGEND)],
                "cps",
                levels=ANY_IS_BAD,
                description="Accepted minus handled (worker_connections or file descriptors"
                " exhausted).",
            )
        )
        .with_row(row("Connections"))
        .with_panel(
            _graph(
                "Connections by state",
                [
                    Q(
                        f"sum by (name) (nginx_connections_{state}{{{sel}}})",
                        f"{{{{name}}}} {state}",
                    )
                    for state in ("reading", "writing", "waiting")
                ],
                "short",
                stacked=True,
            )
        )
        .with_panel(
            _graph(
                "Active connections",
                [Q(f"sum by (name) (nginx_connections_active{{{sel}}})", LEGEND)],
                "short",
                levels=active,
            )
        )
        .with_panel(
            _graph(
                "Accepted and handled",
                [Q(accepted, "{{name}} accepted"), Q(handled, "{{name}} handled")],
                "cps",
            )
        )
        .with_panel(
            _graph(
                "Requests",
                [Q(_rate("nginx_http_requests_total", sel), LEGEND)],
                "reqps",
            )
        )
    )


BOARDS = {"postgres": postgres, "redis": redis, "nginx": nginx}


def components_alerts_panel() -> stat.Panel:
    """For the overview: firing alerts of the components, linking to their dashboards."""
    kinds = "|".join(BOARDS)
    return single(
        "Databases, caches and proxies",
        [Q(f'count(ALERTS{{alertstate="firing", component=~"{kinds}"}}) or vector(0)')],
        "short",
        description="Firing alerts of PostgreSQL, Redis and NGINX; the links open their"
        " dashboards.",
        levels=ANY_IS_BAD,
        width=24,
    ).links(
        [
            db.DashboardLink(HUMAN[kind]).url(f"/d/{component_uid(kind)}?${{__url_time_range}}")
            for kind in ("postgres", "redis", "nginx")
        ]
    )
