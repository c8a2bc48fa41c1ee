"""Alerts and inhibition for PostgreSQL, Redis and NGINX, on the metrics their exporters expose.

Written only against series that postgres_exporter 0.11.1, redis_exporter 1.45.0 and
nginx-prometheus-exporter 0.11.0 really expose (the live test captures their /metrics), plus
`pg_replica_*` from our own extend-queries file. Every series carries the scrape labels
`component` and `name`, which alerts keep and inhibition matches on.
"""

from __future__ import annotations

from monitoring.dashboard_uids import component_uid
from monitoring.rules import AlertRule, Category, RuleGroup, num
from monitoring.thirdparty.model import Components, Kind
from monitoring.thirdparty.scrape import COMPONENT_LABEL, NAME_LABEL
from monitoring.thresholds import ComponentThresholds

DEFAULT_THRESHOLDS = ComponentThresholds()
TITLES: dict[Kind, str] = {"postgres": "Postgres", "redis": "Redis", "nginx": "Nginx"}
HUMAN: dict[Kind, str] = {"postgres": "PostgreSQL", "redis": "Redis", "nginx": "NGINX"}
TARGET_DOWN = "TargetDown"  # monitoring/alerts.py: any scrape target, these exporters included
BY = f"job, instance, {COMPONENT_LABEL}, {NAME_LABEL}"
CATEGORY: Category = "system"  # routed and muted like the other system-health alerts


def _dashboard(kind: Kind) -> str:
    """The component's dashboard, opened on the alert's instance."""
    return f"{component_uid(kind)}?var-name={{{{ $labels.name }}}}"


def down_alert_name(kind: Kind) -> str:
    """The "server unreachable" alert of a component type (its exporter being unreachable is
    the general `TargetDown`, whose series carry `component` and `name` too)."""
    return f"{TITLES[kind]}Down"


def _postgres(t: ComponentThresholds) -> tuple[AlertRule, ...]:
    def rate_sum(metric: str, extra: str = "") -> str:
        return f"sum by ({BY}{extra}) (rate({metric}[5m]))"

    db = ", datname"
    commits = rate_sum("pg_stat_database_xact_commit", db)
    rollbacks = rate_sum("pg_stat_database_xact_rollback", db)
    hits = rate_sum("pg_stat_database_blks_hit", db)
    reads = rate_sum("pg_stat_database_blks_read", db)
    dashboard = _dashboard("postgres")
    return (
        AlertRule(
            name="PostgresDown",
            expr="pg_up == 0",
            for_=t.down_for,
            severity="critical",
            category=CATEGORY,
            summary="PostgreSQL {{ $labels.name }} is unreachable",
            description=(
                "postgres_exporter cannot connect to PostgreSQL {{ $labels.name }}"
                " (down, refusing connections, or the exporter's role or password is wrong)."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="PostgresConnectionsNearLimit",
            expr=(
                f"sum by ({BY}) (pg_stat_activity_count)"
                f" / max by ({BY}) (pg_settings_max_connections)"
                f" > {num(t.postgres_connections_ratio)}"
            ),
            for_=t.postgres_connections_for,
            severity="warning",
            category=CATEGORY,
            summary="PostgreSQL {{ $labels.name }} is near max_connections",
            description=(
                "PostgreSQL {{ $labels.name }} uses {{ $value | humanizePercentage }} of"
                f" max_connections (limit {num(t.postgres_connections_ratio * 100)}%):"
                " new connections will soon be refused."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="PostgresDeadlocks",
            expr=f"sum by ({BY}{db}) (increase(pg_stat_database_deadlocks[5m])) > 0",
            severity="warning",
            category=CATEGORY,
            summary="Deadlocks in PostgreSQL {{ $labels.name }}/{{ $labels.datname }}",
            description=(
                "PostgreSQL {{ $labels.name }} aborted {{ $value | humanize }} transactions"
                " of database {{ $labels.datname }} as deadlocked in the last 5 minutes."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="PostgresLongRunningTransaction",
            expr=(
                f'max by ({BY}{db}) (pg_stat_activity_max_tx_duration{{state="active"}})'
                f" > {t.postgres_long_transaction_seconds}"
            ),
            for_=t.postgres_transaction_for,
            severity="warning",
            category=CATEGORY,
            summary="A long transaction runs in {{ $labels.name }}/{{ $labels.datname }}",
            description=(
                "An active transaction in {{ $labels.datname }} on {{ $labels.name }} has run"
                " for {{ $value | humanizeDuration }}"
                f" (limit {t.postgres_long_transaction_seconds}s): it holds locks and"
                " blocks vacuum."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="PostgresIdleInTransaction",
            expr=(
                f"max by ({BY}{db})"
                ' (pg_stat_activity_max_tx_duration{state=~"idle in transaction.*"})'
                f" > {t.postgres_idle_in_transaction_seconds}"
            ),
            for_=t.postgres_transaction_for,
            severity="warning",
            category=CATEGORY,
            summary="A session idles in a transaction in {{ $labels.name }}/{{ $labels.datname }}",
            description=(
                "A session of {{ $labels.datname }} on {{ $labels.name }} has held an open"
                " transaction without running anything for {{ $value | humanizeDuration }}"
                f" (limit {t.postgres_idle_in_transaction_seconds}s)."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="PostgresReplicationLagBytes",
            expr=f"pg_stat_replication_pg_wal_lsn_diff > {t.postgres_replication_lag_bytes}",
            for_=t.postgres_replication_for,
            severity="warning",
            category=CATEGORY,
            summary="Replica {{ $labels.application_name }} lags behind {{ $labels.name }}",
            description=(
                "Replica {{ $labels.application_name }} ({{ $labels.client_addr }}) has not"
                " replayed {{ $value | humanize1024 }}B of the WAL of primary {{ $labels.name }}"
                f" (limit {num(t.postgres_replication_lag_bytes / 1024 / 1024)} MiB)."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="PostgresReplicationLagSeconds",
            expr=f"pg_replica_lag_seconds > {t.postgres_replication_lag_seconds}",
            for_=t.postgres_replication_for,
            severity="warning",
            category=CATEGORY,
            summary="Replica {{ $labels.name }} replays WAL late",
            description=(
                "Replica {{ $labels.name }} is {{ $value | humanizeDuration }} behind its"
                f" primary (limit {t.postgres_replication_lag_seconds}s): reads from it are"
                " stale."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="PostgresHighRollbackRatio",
            expr=(
                f"{rollbacks} / ({commits} + {rollbacks}) > {num(t.postgres_rollback_ratio)}"
                f" and ({commits} + {rollbacks})"
                f" > {num(t.postgres_min_transactions_per_second)}"
            ),
            for_=t.postgres_rollback_for,
            severity="warning",
            category=CATEGORY,
            summary="Many rollbacks in {{ $labels.name }}/{{ $labels.datname }}",
            description=(
                "{{ $value | humanizePercentage }} of the transactions of {{ $labels.datname }}"
                " on {{ $labels.name }} rolled back over 5 minutes"
                f" (limit {num(t.postgres_rollback_ratio * 100)}%)."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="PostgresLowCacheHitRatio",
            expr=(
                f"{hits} / ({hits} + {reads}) < {num(t.postgres_cache_hit_ratio_min)}"
                f" and ({hits} + {reads}) > {num(t.postgres_min_blocks_per_second)}"
            ),
            for_=t.postgres_cache_hit_for,
            severity="warning",
            category=CATEGORY,
            summary="Low buffer cache hit ratio in {{ $labels.name }}/{{ $labels.datname }}",
            description=(
                "Only {{ $value | humanizePercentage }} of the block reads of"
                " {{ $labels.datname }} on {{ $labels.name }} hit shared buffers over 5 minutes"
                f" (minimum {num(t.postgres_cache_hit_ratio_min * 100)}%)."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="PostgresExporterQueryErrors",
            expr="pg_exporter_last_scrape_error == 1",
            for_=t.postgres_exporter_errors_for,
            severity="warning",
            category=CATEGORY,
            summary="postgres_exporter queries fail on {{ $labels.name }}",
            description=(
                "The last scrapes of PostgreSQL {{ $labels.name }} had query errors for"
                f" {t.postgres_exporter_errors_for}: some pg_* series are missing (role"
                " without pg_monitor, or a broken extend query)."
            ),
            dashboard_uid=dashboard,
        ),
    )


def _redis(t: ComponentThresholds) -> tuple[AlertRule, ...]:
    dashboard = _dashboard("redis")
    return (
        AlertRule(
            name="RedisDown",
            expr="redis_up == 0",
            for_=t.down_for,
            severity="critical",
            category=CATEGORY,
            summary="Redis {{ $labels.name }} is unreachable",
            description=(
                "redis_exporter cannot reach Redis {{ $labels.name }} (down, or the password"
                " is wrong)."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="RedisMemoryNearLimit",
            # maxmemory 0 means "no limit": no ratio, no alert.
            expr=(
                "redis_memory_used_bytes / (redis_memory_max_bytes > 0)"
                f" > {num(t.redis_memory_ratio)}"
            ),
            for_=t.redis_memory_for,
            severity="warning",
            category=CATEGORY,
            summary="Redis {{ $labels.name }} is near maxmemory",
            description=(
                "Redis {{ $labels.name }} uses {{ $value | humanizePercentage }} of maxmemory"
                f" (limit {num(t.redis_memory_ratio * 100)}%): it evicts keys or refuses"
                " writes next, by its maxmemory-policy."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="RedisEvictions",
            expr="increase(redis_evicted_keys_total[5m]) > 0",
            severity="warning",
            category=CATEGORY,
            summary="Redis {{ $labels.name }} evicts keys",
            description=(
                "Redis {{ $labels.name }} evicted {{ $value | humanize }} keys in the last"
                " 5 minutes because it reached maxmemory."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="RedisRejectedConnections",
            expr="increase(redis_rejected_connections_total[5m]) > 0",
            severity="warning",
            category=CATEGORY,
            summary="Redis {{ $labels.name }} rejects connections",
            description=(
                "Redis {{ $labels.name }} rejected {{ $value | humanize }} connections in the"
                " last 5 minutes (maxclients reached)."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="RedisClientsNearLimit",
            expr=(
                f"redis_connected_clients / redis_config_maxclients > {num(t.redis_clients_ratio)}"
            ),
            for_=t.redis_clients_for,
            severity="warning",
            category=CATEGORY,
            summary="Redis {{ $labels.name }} is near maxclients",
            description=(
                "Redis {{ $labels.name }} has {{ $value | humanizePercentage }} of maxclients"
                f" connected (limit {num(t.redis_clients_ratio * 100)}%)."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="RedisRdbSaveFailed",
            expr="redis_rdb_last_bgsave_status == 0",
            severity="warning",
            category=CATEGORY,
            summary="The last RDB save of Redis {{ $labels.name }} failed",
            description=(
                "The last background save of Redis {{ $labels.name }} failed: a restart would"
                " lose data since the last good snapshot (disk full or not writable?)."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="RedisRdbSaveTooOld",
            # Only with unsaved changes: a cache without snapshots (`save ""`) has none.
            expr=(
                "(time() - redis_rdb_last_save_timestamp_seconds)"
                f" > {t.redis_rdb_max_age_seconds}"
                " and redis_rdb_changes_since_last_save > 0"
            ),
            for_=t.redis_rdb_for,
            severity="warning",
            category=CATEGORY,
            summary="Redis {{ $labels.name }} has not saved a snapshot for long",
            description=(
                "The last RDB snapshot of Redis {{ $labels.name }} is"
                " {{ $value | humanizeDuration }} old while changes wait to be saved"
                f" (limit {t.redis_rdb_max_age_seconds}s)."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="RedisRestarted",
            expr=f"redis_uptime_in_seconds < {t.redis_restart_window_seconds}",
            severity="warning",
            category=CATEGORY,
            summary="Redis {{ $labels.name }} restarted",
            description=(
                "Redis {{ $labels.name }} has been up for only {{ $value | humanizeDuration }}:"
                " it restarted, and lost what it had not persisted."
            ),
            dashboard_uid=dashboard,
        ),
    )


def _nginx(t: ComponentThresholds) -> tuple[AlertRule, ...]:
    dashboard = _dashboard("nginx")
    return (
        AlertRule(
            name="NginxDown",
            expr="nginx_up == 0",
            for_=t.down_for,
            severity="critical",
            category=CATEGORY,
            summary="NGINX {{ $labels.name }} is unreachable",
            description=(
                "The NGINX exporter cannot read the stub_status page of {{ $labels.name }}."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="NginxDroppedConnections",
            # 0.11's counters have no `_total` suffix; accepted - handled = dropped.
            expr=(
                "increase(nginx_connections_accepted[5m])"
                " - increase(nginx_connections_handled[5m]) > 0"
            ),
            severity="warning",
            category=CATEGORY,
            summary="NGINX {{ $labels.name }} drops connections",
            description=(
                "NGINX {{ $labels.name }} accepted but did not handle {{ $value | humanize }}"
                " connections in the last 5 minutes (worker_connections or file descriptors"
                " exhausted)."
            ),
            dashboard_uid=dashboard,
        ),
        AlertRule(
            name="NginxHighActiveConnections",
            expr=f"nginx_connections_active > {t.nginx_active_connections_max}",
            for_=t.nginx_active_connections_for,
            severity="warning",
            category=CATEGORY,
            summary="NGINX {{ $labels.name }} has many active connections",
            description=(
                "NGINX {{ $labels.name }} has {{ $value }} active client connections"
                f" (limit {t.nginx_active_connections_max})."
            ),
            dashboard_uid=dashboard,
        ),
    )


_BUILDERS = {"postgres": _postgres, "redis": _redis, "nginx": _nginx}
FILES: dict[Kind, str] = {"postgres": "postgres.yml", "redis": "redis.yml", "nginx": "nginx.yml"}


def component_rule_groups(
    components: Components, thresholds: ComponentThresholds
) -> tuple[RuleGroup, ...]:
    """One group (and rule file) per component type with at least one instance."""
    return tuple(
        RuleGroup(kind, FILES[kind], _BUILDERS[kind](thresholds)) for kind in components.kinds
    )


def component_alert_names(thresholds: ComponentThresholds = DEFAULT_THRESHOLDS) -> tuple[str, ...]:
    """Every component alert name, whatever is declared (runbooks, docs)."""
    return tuple(rule.name for build in _BUILDERS.values() for rule in build(thresholds))
