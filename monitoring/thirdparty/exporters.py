"""How each exporter runs: flags, non-secret environment, and the secret files it reads.

One `ExporterCommand` per declared instance; both deployment targets and the live test start
the exporters from it. Passwords only ever reach a file: postgres_exporter reads
`DATA_SOURCE_PASS_FILE` (there is no `DATA_SOURCE_NAME_FILE`), redis_exporter reads
`--redis.password-file`, a JSON map from the exact `--redis.addr` to the password.

Flags are written `--flag=value`: Go's `flag` package (Debian's redis 1.45 and nginx 0.11) and
kingpin (postgres_exporter, nginx-prometheus-exporter 1.x) both accept that form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml

from components import THIRD_PARTY
from monitoring.thirdparty.model import (
    Instance,
    Kind,
    NginxInstance,
    PostgresInstance,
    RedisInstance,
)

# Listen ports of the exporters (their defaults), from their component contracts.
PORTS: dict[Kind, int] = {
    "postgres": THIRD_PARTY["postgres"].port,
    "redis": THIRD_PARTY["redis"].port,
    "nginx": THIRD_PARTY["nginx"].port,
}
METRICS_PATH = "/metrics"
# Every secret file an exporter reads, and our queries file, live in one directory of its own.
SECRETS_DIR = "/etc/exporter-secrets"
CONFIG_DIR = "/etc/exporter-config"
POSTGRES_PASSWORD_FILE = "password"
REDIS_PASSWORD_FILE = "redis-passwords.json"
POSTGRES_QUERIES_FILE = "queries.yml"
# nginx-prometheus-exporter 0.11 exits at start when NGINX does not answer, unless it may
# retry. 1.x never connects at start and has no retries flag (an unknown flag is fatal to
# kingpin), but ignores the environment variable: the variable works with both.
NGINX_RETRIES = 100_000
NGINX_RETRY_INTERVAL = "5s"


@dataclass(frozen=True)
class ExporterCommand:
    kind: Kind
    name: str  # the instance name
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]  # never a secret
    port: int
    secret_files: tuple[str, ...] = ()  # file names under SECRETS_DIR the exporter reads
    config_files: tuple[str, ...] = ()  # file names under CONFIG_DIR


def _listen(host: str, port: int) -> str:
    return f"--web.listen-address={host}:{port}"


def postgres_data_source_uri(instance: PostgresInstance) -> str:
    """host:port/database?sslmode=...: the DSN without user and password."""
    return f"{instance.address}/{instance.database}?sslmode={instance.sslmode}"


def postgres_exporter(
    instance: PostgresInstance,
    *,
    port: int = PORTS["postgres"],
    host: str = "",
    secrets_dir: str = SECRETS_DIR,
    config_dir: str = CONFIG_DIR,
) -> ExporterCommand:
    args = [_listen(host, port)]
    config_files: tuple[str, ...] = ()
    if instance.replication_lag_queries:
        args.append(f"--extend.query-path={config_dir}/{POSTGRES_QUERIES_FILE}")
        config_files = (POSTGRES_QUERIES_FILE,)
    return ExporterCommand(
        kind="postgres",
        name=instance.name,
        args=tuple(args),
        env=(
            ("DATA_SOURCE_URI", postgres_data_source_uri(instance)),
            ("DATA_SOURCE_USER", instance.user),
            ("DATA_SOURCE_PASS_FILE", f"{secrets_dir}/{POSTGRES_PASSWORD_FILE}"),
        ),
        port=port,
        secret_files=(POSTGRES_PASSWORD_FILE,),
        config_files=config_files,
    )


def redis_exporter(
    instance: RedisInstance,
    *,
    port: int = PORTS["redis"],
    host: str = "",
    secrets_dir: str = SECRETS_DIR,
) -> ExporterCommand:
    args = [f"--redis.addr={instance.address}", _listen(host, port)]
    secret_files: tuple[str, ...] = ()
    if instance.password_secret is not None:
        args.append(f"--redis.password-file={secrets_dir}/{REDIS_PASSWORD_FILE}")
        secret_files = (REDIS_PASSWORD_FILE,)
    return ExporterCommand(
        kind="redis",
        name=instance.name,
        args=tuple(args),
        env=(),
        port=port,
        secret_files=secret_files,
    )


def nginx_exporter(
    instance: NginxInstance, *, port: int = PORTS["nginx"], host: str = ""
) -> ExporterCommand:
    return ExporterCommand(
        kind="nginx",
        name=instance.name,
        args=(f"--nginx.scrape-uri={instance.status_url}", _listen(host, port)),
        env=(
            ("NGINX_RETRIES", str(NGINX_RETRIES)),
            ("NGINX_RETRY_INTERVAL", NGINX_RETRY_INTERVAL),
        ),
        port=port,
    )


def exporter_command(instance: Instance, port: int | None = None) -> ExporterCommand:
    """The command of any instance, on its exporter's default port unless `port` is given."""
    if isinstance(instance, PostgresInstance):
        return postgres_exporter(instance, port=port or PORTS["postgres"])
    if isinstance(instance, RedisInstance):
        return redis_exporter(instance, port=port or PORTS["redis"])
    return nginx_exporter(instance, port=port or PORTS["nginx"])


# --- Secret files (their content is secret as a whole) ------------------------------------------


def postgres_password_file(password: str) -> str:
    return password


def redis_password_file(instance: RedisInstance, password: str) -> str:
    """redis_exporter's password file: JSON keyed by the exact `--redis.addr` value."""
    return json.dumps({instance.address: password})


def secret_file_content(instance: Instance, file_name: str, password: str) -> str:
    if isinstance(instance, PostgresInstance) and file_name == POSTGRES_PASSWORD_FILE:
        return postgres_password_file(password)
    if isinstance(instance, RedisInstance) and file_name == REDIS_PASSWORD_FILE:
        return redis_password_file(instance, password)
    raise ValueError(f"{instance.name}: no secret file {file_name!r}")


# --- Our extend-queries file ------------------------------------------------------------------

# Replica lag in seconds, on a replica; 0 on a primary and on a replica that has replayed all it
# received (an idle primary sends nothing, so the last replay's age is not lag).
# Namespaced `pg_replica` so that it never clashes with the `pg_replication_*` series of newer
# exporters' replication collector, and without pg_stat_statements (Debian's example file needs
# that extension and keeps pg_exporter_last_scrape_error at 1 without it).
REPLICA_LAG_QUERY = """\
SELECT
  CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS in_recovery,
  CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()))
  END AS lag_seconds
"""


def postgres_queries_file() -> str:
    """The `--extend.query-path` file: `pg_replica_lag_seconds`, `pg_replica_in_recovery`."""
    return yaml.safe_dump(
        {
            "pg_replica": {
                "query": REPLICA_LAG_QUERY,
                "master": True,
                "metrics": [
                    {
                        "in_recovery": {
                            "usage": "GAUGE",
                            "description": "1 on a replica (in recovery), 0 on a primary",
                        }
                    },
                    {
                        "lag_seconds": {
                            "usage": "GAUGE",
                            "description": "Seconds since the last replayed transaction while"
                            " WAL is waiting to be replayed; 0 on a primary",
                        }
                    },
                ],
            }
        },
        sort_keys=False,
    )


def config_file_content(file_name: str) -> str:
    if file_name == POSTGRES_QUERIES_FILE:
        return postgres_queries_file()
    raise ValueError(f"no exporter config file {file_name!r}")
