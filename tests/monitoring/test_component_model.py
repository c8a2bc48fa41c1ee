"""The `components` config model and the exporter commands rendered from it (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from monitoring.thirdparty import exporters
from monitoring.thirdparty.model import Components, parse_components
from validation import InvalidValue

# The README's seed-003 example, as `pulumi config` hands it over.
SEED_003 = yaml.safe_load(
    """
postgres:
  - name: trading-db
    address: "db.internal:5432"
    database: trading
    user: exporter
    passwordSecret: tradingDbPassword
    replicationLagQueries: true
redis:
  - {name: cache, address: "redis://cache.internal:6379", passwordSecret: cachePassword}
nginx:
  - {name: edge, statusUrl: "http://nginx.internal:8080/stub_status"}
"""
)


@pytest.fixture()
def seed() -> Components:
    return parse_components(SEED_003)


def test_seed_003_example_parses(seed: Components) -> None:
    assert seed.kinds == ("postgres", "redis", "nginx")
    assert seed.postgres[0].sslmode == "require"  # lib/pq's default
    assert seed.password_secrets() == {
        "tradingDbPassword": "components.postgres[0].passwordSecret",
        "cachePassword": "components.redis[0].passwordSecret",
    }
    assert parse_components(None).kinds == ()


def _with(kind: str, index: int, **changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(json.dumps(SEED_003))
    raw[kind][index].update(changes)
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            _with("postgres", 0, address="db.internal"),
            "components.postgres[0].address = 'db.internal' is invalid: allowed host:port",
        ),
        (
            _with("postgres", 0, sslmode="prefer"),
            "components.postgres[0].sslmode = 'prefer' is invalid: allowed one of",
        ),
        (
            _with("postgres", 0, passwordSecret="my secret"),
            "components.postgres[0].passwordSecret = 'my secret' is invalid",
        ),
        (
            _with("redis", 0, address="cache.internal:6379"),
            "components.redis[0].address = 'cache.internal:6379' is invalid: allowed redis://",
        ),
        (
            _with("redis", 0, address="redis://:pw@cache:6379"),
            "components.redis[0].address = 'redis://:pw@cache:6379' is invalid",
        ),
        (
            _with("nginx", 0, statusUrl="nginx:8080/stub_status"),
            "components.nginx[0].statusUrl = 'nginx:8080/stub_status' is invalid",
        ),
        (_with("nginx", 0, name="Edge_1"), "components.nginx[0].name = 'Edge_1' is invalid"),
        (_with("nginx", 0, port=1), "components.nginx[0].port = 1 is invalid"),
        (
            {**SEED_003, "postgres": SEED_003["postgres"] * 2},
            "components.postgres[].name = 'trading-db' is invalid: allowed unique",
        ),
        (
            {
                "postgres": [{**SEED_003["postgres"][0], "exporterDatabase": True}] * 1
                + [{**SEED_003["postgres"][0], "name": "b", "exporterDatabase": True}]
            },
            "components.postgres[].exporterDatabase = ['trading-db', 'b'] is invalid",
        ),
    ],
)
def test_bad_values_are_refused_with_key_value_and_allowed(raw: Any, message: str) -> None:
    with pytest.raises(InvalidValue) as error:
        parse_components(raw)
    assert str(error.value).startswith(message), str(error.value)
    assert "\n" not in str(error.value)


def test_postgres_exporter_reads_its_password_from_a_file(seed: Components) -> None:
    command = exporters.postgres_exporter(seed.postgres[0])
    env = dict(command.env)
    assert env == {
        "DATA_SOURCE_URI": "db.internal:5432/trading?sslmode=require",
        "DATA_SOURCE_USER": "exporter",
        "DATA_SOURCE_PASS_FILE": f"{exporters.SECRETS_DIR}/{exporters.POSTGRES_PASSWORD_FILE}",
    }
    assert "DATA_SOURCE_NAME" not in env and "DATA_SOURCE_PASS" not in env
    assert command.args == (
        "--web.listen-address=:9187",
        f"--extend.query-path={exporters.CONFIG_DIR}/queries.yml",
    )
    queries = yaml.safe_load(exporters.config_file_content("queries.yml"))
    assert set(queries) == {"pg_replica"} and queries["pg_replica"]["master"] is True
    assert "pg_stat_statements" not in exporters.postgres_queries_file()


def test_redis_password_file_is_json_keyed_by_the_exact_address(seed: Components) -> None:
    cache = seed.redis[0]
    command = exporters.redis_exporter(cache)
    assert "--redis.addr=redis://cache.internal:6379" in command.args
    assert command.secret_files == (exporters.REDIS_PASSWORD_FILE,)
    content = exporters.secret_file_content(cache, exporters.REDIS_PASSWORD_FILE, "s3cret")
    assert json.loads(content) == {"redis://cache.internal:6379": "s3cret"}
    no_auth = parse_components({"redis": [{"name": "c", "address": "redis://c:6379"}]})
    assert not any("password" in a for a in exporters.redis_exporter(no_auth.redis[0]).args)


def test_nginx_exporter_flags_work_with_0_11_and_1_x(seed: Components) -> None:
    command = exporters.nginx_exporter(seed.nginx[0])
    # `--flag=value` for both Go's flag (0.11) and kingpin (1.x); retries only through the
    # environment, which 1.x (no retries flag) ignores.
    assert command.args == (
        "--nginx.scrape-uri=http://nginx.internal:8080/stub_status",
        "--web.listen-address=:9113",
    )
    assert dict(command.env)["NGINX_RETRIES"] == str(exporters.NGINX_RETRIES)
