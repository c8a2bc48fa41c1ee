"""Market sessions: configured hours in pure Python, exchange calendars in a child process."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest

from exporter.calendars import calendar_schedules, configured_schedule
from exporter.config import default_markets, parse_config


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_vietnam_default_sessions_with_lunch_break() -> None:
    vn = next(m for m in default_markets() if m.code == "vn")
    schedule = configured_schedule(vn, date(2026, 11, 20), date(2026, 11, 30))
    # Ho Chi Minh is UTC+7: 09:00-11:30 and 13:00-14:45 local, Monday to Friday.
    assert schedule.is_open(_ts("2026-11-23T02:00:00"))  # Mon 09:00
    assert not schedule.is_open(_ts("2026-11-23T01:59:59"))  # Mon 08:59:59
    assert not schedule.is_open(_ts("2026-11-23T05:00:00"))  # Mon 12:00, lunch
    assert schedule.is_open(_ts("2026-11-23T07:44:59"))  # Mon 14:44:59
    assert not schedule.is_open(_ts("2026-11-23T07:45:00"))  # Mon 14:45, closed
    assert not schedule.is_open(_ts("2026-11-22T03:00:00"))  # Sunday


def test_configured_weekdays_holidays_and_dst() -> None:
    config = parse_config(
        {
            "markets": [
                {
                    "code": "us",
                    "timezone": "America/New_York",
                    "sessions": ["09:30-16:00"],
                    "weekdays": ["mon", "tue", "wed", "thu", "fri"],
                    "holidays": ["2026-11-26"],
                },
                {"code": "x", "timezone": "UTC", "sessions": ["00:00-24:00"], "weekdays": ["sat"]},
            ]
        }
    )
    us, weekend = config.markets
    schedule = configured_schedule(us, date(2026, 10, 26), date(2026, 11, 30))
    assert schedule.is_open(_ts("2026-10-30T13:30:00"))  # EDT: 09:30 local = 13:30 UTC
    assert not schedule.is_open(_ts("2026-11-02T13:30:00"))  # EST after the switch: 08:30
    assert schedule.is_open(_ts("2026-11-02T14:30:00"))
    assert not schedule.is_open(_ts("2026-11-26T15:00:00"))  # configured holiday
    saturday = configured_schedule(weekend, date(2026, 11, 20), date(2026, 11, 30))
    assert saturday.is_open(_ts("2026-11-21T00:00:00"))
    assert saturday.is_open(_ts("2026-11-21T23:59:59"))
    assert not saturday.is_open(_ts("2026-11-22T00:00:00"))


def test_round_the_clock_sessions_merge_into_one_interval() -> None:
    config = parse_config(
        {
            "markets": [
                {
                    "code": "t",
                    "timezone": "UTC",
                    "sessions": ["00:00-24:00"],
                    "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                }
            ]
        }
    )
    schedule = configured_schedule(config.markets[0], date(2026, 1, 1), date(2026, 1, 10))
    assert len(schedule.intervals) == 1


def test_exchange_calendars_holidays_and_lunch_breaks() -> None:
    schedules = calendar_schedules(
        ["XTKS", "XHKG", "XNYS"], date(2026, 11, 20), date(2026, 12, 5), timeout=60
    )
    tokyo, hong_kong, new_york = schedules["XTKS"], schedules["XHKG"], schedules["XNYS"]
    # 2026-11-23 is Labour Thanksgiving Day in Japan; the next day trades (09:00 JST = 00:00Z).
    assert not tokyo.is_open(_ts("2026-11-23T01:00:00"))
    assert tokyo.is_open(_ts("2026-11-24T01:00:00"))
    # Hong Kong: open 10:00 HKT (02:00Z), lunch 12:00-13:00 HKT.
    assert hong_kong.is_open(_ts("2026-11-24T02:00:00"))
    assert not hong_kong.is_open(_ts("2026-11-24T04:30:00"))
    assert hong_kong.is_open(_ts("2026-11-24T05:30:00"))
    # New York: Thanksgiving 2026-11-26 closed; 2026-11-25 open at 15:00Z.
    assert not new_york.is_open(_ts("2026-11-26T15:00:00"))
    assert new_york.is_open(_ts("2026-11-25T15:00:00"))


def test_a_failing_calendar_process_is_reported_and_not_restarted_every_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from exporter import collectors
    from exporter.calendars import CalendarError
    from exporter.scheduler import serialise
    from tests.exporter.harness import parse

    calls = []

    def failing(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise CalendarError("calendar process exited with 1: ImportError")

    monkeypatch.setattr(collectors, "calendar_schedules", failing)
    config = parse_config(
        {
            "markets": [
                {"code": "kr", "timezone": "Asia/Seoul", "calendar": "XKRX"},
                {
                    "code": "vn",
                    "timezone": "UTC",
                    "sessions": ["00:00-24:00"],
                    "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                },
            ]
        }
    )
    collector = collectors.MarketStatusCollector(config)
    for _ in range(5):
        result = collector.run(time.monotonic() + 5)
        assert not result.success and "ImportError" in result.errors[0]
        samples = parse(serialise(result.families).decode())
        # The configured market is still exported; the calendar market is absent, not guessed.
        assert samples == {("trading_market_open", (("market", "vn"),)): 1.0}
    assert len(calls) == 1


def test_early_closes_and_always_open_calendars() -> None:
    config = parse_config(
        {
            "markets": [
                {
                    "code": "hose-vn",
                    "timezone": "Asia/Ho_Chi_Minh",
                    "sessions": ["09:00-11:30", "13:00-14:45"],
                    "holidays": ["2026-02-17"],
                    "early_closes": [{"date": "2026-02-18", "close": "11:00"}],
                },
                {"code": "hyperliquid", "timezone": "UTC", "calendar": "24/7"},
            ]
        }
    )
    vn, crypto = config.markets
    schedule = configured_schedule(vn, date(2026, 2, 16), date(2026, 2, 20))
    assert not schedule.is_open(_ts("2026-02-17T03:00:00"))  # Tết holiday, 10:00 local
    assert schedule.is_open(_ts("2026-02-18T03:59:59"))  # 10:59:59 local
    assert not schedule.is_open(_ts("2026-02-18T04:00:00"))  # early close at 11:00
    assert not schedule.is_open(_ts("2026-02-18T06:30:00"))  # no afternoon session
    assert schedule.is_open(_ts("2026-02-19T06:30:00"))
    # Any exchange_calendars name works in the child process, 24/7 included.
    always = calendar_schedules([crypto.calendar or ""], date(2026, 11, 20), date(2026, 12, 5), 60)
    for when in ("2026-11-21T00:00:00", "2026-11-21T12:00:00", "2026-11-22T23:59:59"):
        assert always["24/7"].is_open(_ts(when))
