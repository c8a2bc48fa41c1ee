"""Bad flags and config values: one clear line naming the key and value, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from exporter.config import ConfigError, TableSettings, parse_config, with_overrides
from exporter.db import parse_target
from tests.exporter.harness import REPO, always_open_config, write_config


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )


def _assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert done.stdout == ""
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--listen", "nonsense"], ["--listen", "'nonsense'", "host:port"]),
        (["--listen", "127.0.0.1:70000"], ["--listen", "70000", "0 to 65535"]),
        (["--refresh-interval", "0"], ["--refresh-interval", "'0'", "0.1 to"]),
        (["--refresh-interval", "soon"], ["--refresh-interval", "'soon'"]),
        (["--timeout", "-1"], ["--timeout", "'-1'"]),
        (["--config", "/nonexistent/x.yml"], ["--config", "/nonexistent/x.yml", "readable"]),
        (["--log-level", "loud"], ["--log-level", "'loud'", "debug"]),
        (["--bogus"], ["unrecognized arguments: --bogus"]),
    ],
)
def test_bad_serve_flags(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    _assert_one_line_error(_run("serve", "--db", "x.db", *args, cwd=tmp_path), *needles)


def test_bad_database_url_never_prints_the_password(tmp_path: Path) -> None:
    done = _run("serve", "--db", "mysql://app:s3cret@db/trading", cwd=tmp_path)
    _assert_one_line_error(done, "--db", "mysql://app:***@db/trading", "postgresql://")
    assert "s3cret" not in done.stderr


def test_missing_db_flag(tmp_path: Path) -> None:
    _assert_one_line_error(_run("serve", cwd=tmp_path), "--db")


def test_bad_config_file_value(tmp_path: Path) -> None:
    raw = always_open_config(["kr"])
    raw["refresh_interval"] = "fast"
    config = write_config(tmp_path / "c.yml", raw)
    done = _run("serve", "--db", "x.db", "--config", str(config), cwd=tmp_path)
    _assert_one_line_error(done, "refresh_interval", "'fast'")


def test_broken_yaml(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("markets: [\n", encoding="utf-8")
    done = _run("serve", "--db", "x.db", "--config", str(config), cwd=tmp_path)
    _assert_one_line_error(done, "--config", "valid YAML")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--rows", "-5"], ["--rows", "'-5'"]),
        (["--rows", "many"], ["--rows", "'many'"]),
        (["--regions", "kr,KR"], ["--regions", "'KR'"]),
        (["--regions", "kr,kr"], ["--regions", "unique market codes"]),
        (["--bar-seconds", "0"], ["--bar-seconds", "'0'"]),
    ],
)
def test_bad_demo_db_flags(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    done = _run("demo-db", str(tmp_path / "d.db"), *args, cwd=tmp_path)
    _assert_one_line_error(done, *needles)
    assert not (tmp_path / "d.db").exists()


def test_demo_db_creates_a_missing_directory(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "d.db"
    done = _run("demo-db", str(target), "--rows", "100", "--regions", "kr", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert target.stat().st_size > 0


def test_demo_db_under_a_file_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("not a directory")
    target = str(tmp_path / "plain-file" / "d.db")
    _assert_one_line_error(_run("demo-db", target, cwd=tmp_path), "path", target, "directory")


def test_demo_db_command_creates_the_database(tmp_path: Path) -> None:
    done = _run(
        "demo-db", str(tmp_path / "d.db"), "--rows", "3000", "--regions", "kr,vn", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "3000 OHLCV rows" in done.stdout
    assert (tmp_path / "d.db").stat().st_size > 0


MARKET = {"code": "kr", "timezone": "Asia/Seoul", "calendar": "XKRX"}


@pytest.mark.parametrize(
    ("raw", "key", "value"),
    [
        ({"colour": "blue"}, "colour", "blue"),
        ({"markets": []}, "markets", []),
        ({"markets": [{**MARKET, "code": "KR"}]}, "markets[0].code", "KR"),
        ({"markets": [{**MARKET, "calendar": "X SHE"}]}, "markets[0].calendar", "X SHE"),
        ({"markets": [{**MARKET, "code": "a" * 25}]}, "markets[0].code", "a" * 25),
        (
            {"markets": [{**MARKET, "early_closes": [{"date": "2026-12-24", "close": "25:00"}]}]},
            "markets[0].early_closes[0].close",
            "25:00",
        ),
        (
            {"markets": [{**MARKET, "early_closes": [{"date": "24.12.2026", "close": "13:00"}]}]},
            "markets[0].early_closes[0].date",
            "24.12.2026",
        ),
        (
            {"markets": [{**MARKET, "timezone": "Mars/Olympus"}]},
            "markets[0].timezone",
            "Mars/Olympus",
        ),
        ({"markets": [{"code": "vn", "timezone": "UTC"}]}, "markets[0].sessions", []),
        (
            {"markets": [{"code": "vn", "timezone": "UTC", "sessions": ["09:00-08:00"]}]},
            "markets[0].sessions[0]",
            "09:00-08:00",
        ),
        (
            {"markets": [{"code": "vn", "timezone": "UTC", "sessions": ["9-5"]}]},
            "markets[0].sessions[0]",
            "9-5",
        ),
        (
            {"markets": [{**MARKET, "weekdays": ["mon", "funday"]}]},
            "markets[0].weekdays[1]",
            "funday",
        ),
        ({"markets": [MARKET, MARKET]}, "markets", "kr"),
        ({"collectors": {"trading": {"interval": 0}}}, "collectors.trading.interval", 0),
        ({"collectors": {"nope": {}}}, "collectors.nope", {}),
        ({"collectors": {"database": {"enabled": False}}}, "collectors.database.enabled", False),
        ({"metrics": {"trading_made_up": {"sql": "SELECT 1"}}}, "metrics.trading_made_up", None),
        ({"metrics": {"trading_orders": {"sql": ""}}}, "metrics.trading_orders.sql", ""),
        ({"histogram_buckets": [1, 0.5]}, "histogram_buckets", [1, 0.5]),
        ({"max_strategies": 0}, "max_strategies", 0),
        ({"endpoints": ["Quotes"]}, "endpoints[0]", "Quotes"),
        ({"tables": {"bars": {}}}, "tables.bars", {}),
        ({"tables": {"ohlcv": {"watermark": "id; DROP"}}}, "tables.ohlcv.watermark", "id; DROP"),
        ({"tables": {"orders": {"max_tail": -1}}}, "tables.orders.max_tail", -1),
        ({"tables": {"orders": {"sql": "x"}}}, "tables.orders.sql", "x"),
        ({"reconcile": {"interval": 0}}, "reconcile.interval", 0),
        ({"reconcile": {"every": 1}}, "reconcile.every", 1),
    ],
)
def test_config_errors_name_key_and_value(raw: dict[str, Any], key: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert info.value.key == key
    if value is not None:
        assert info.value.value == value
    assert str(info.value).startswith(f"{key} = ")


def test_config_file_and_flags_combine() -> None:
    config = parse_config(
        {
            "refresh_interval": 30,
            "collectors": {"data_quality": {"interval": 120}, "host": {"enabled": False}},
            "metrics": {
                "trading_orders": {
                    "sql": "SELECT 'kr' AS market, 'buy' AS side, 1 AS n",
                    "value_column": "n",
                }
            },
        }
    )
    assert config.collector("data_quality").interval == 120
    assert config.collector("trading").interval == 30
    assert not config.collector("host").enabled
    assert config.metrics["trading_orders"].value_column == "n"
    assert [m.code for m in config.markets] == ["kr", "us", "cn", "hk", "jp", "vn"]


def test_database_targets() -> None:
    assert parse_target("data/t.db").location == "data/t.db"
    assert parse_target("sqlite:////var/lib/t.db").location == "/var/lib/t.db"
    pg = parse_target("postgresql://app:pw@db:5432/trading")
    assert pg.dialect == "postgresql"
    assert pg.describe() == "postgresql://app:***@db:5432/trading"
    with pytest.raises(ConfigError):
        parse_target("sqlite:///")


def test_a_busy_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _run("serve", "--db", "x.db", "--listen", f"127.0.0.1:{port}", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"exporter: error: --listen: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_data_quality_every_minute_unless_an_interval_is_set() -> None:
    assert parse_config({}).collector("data_quality").interval == 60
    assert parse_config({}).collector("api").interval == 15
    assert parse_config({"refresh_interval": 5}).collector("data_quality").interval == 5
    flagged = with_overrides(parse_config({}), refresh_interval=0.2)
    assert flagged.collector("data_quality").interval == 0.2


def test_watermarks_per_dialect_and_from_the_file() -> None:
    config = parse_config(
        {
            "tables": {
                "ohlcv": {"watermark": "bar_id", "max_tail": 10},
                "orders": {"watermark": "none"},
            }
        }
    )
    assert parse_config({}).table("ohlcv", "sqlite").watermark == "rowid"
    assert parse_config({}).table("ohlcv", "postgresql").watermark == "id"
    assert config.table("ohlcv", "postgresql") == TableSettings("bar_id", 10)
    assert config.table("orders", "sqlite").watermark is None  # recounted whole every run
