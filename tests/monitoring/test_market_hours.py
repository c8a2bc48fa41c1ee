"""Market hours from exchange_calendars and custom schedules, as mute intervals."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import exchange_calendars
import pandas
import pytest
import yaml

from dashboards import build_dashboards
from monitoring.dashboard_uids import market_uid
from monitoring.market_hours import (
    WEEKDAYS,
    TimeInterval,
    closed_interval_name,
    closed_intervals,
    custom_schedule,
    holiday_window_end,
    market_sessions,
    parse_sessions,
    schedule_intervals,
)
from monitoring.render import render_alertmanager_config
from monitoring.settings import Market
from tests.monitoring.conftest import HEARTBEAT_URL, WEBHOOK_URL, make_settings, run, tool

YEAR = 2026  # fixed window: 2026 and 2027, whatever today is
UTC = ZoneInfo("UTC")
AM_WEEKDAYS = (WEEKDAYS[6], *WEEKDAYS[:6])  # Alertmanager counts from Sunday


def _in_ranges(value: int, specs: tuple[str, ...], names: tuple[str, ...] = ()) -> bool:
    if not specs:
        return True
    for spec in specs:
        first, _, last = spec.partition(":")
        low = names.index(first) if names else int(first)
        high = names.index(last or first) if names else int(last or first)
        if low <= value <= high:
            return True
    return False


def muted(intervals: tuple[TimeInterval, ...], when: datetime) -> bool:
    """Alertmanager's time_interval semantics (every field must match; empty matches all)."""
    for interval in intervals:
        local = when.astimezone(ZoneInfo(interval.location or "UTC"))
        minute = local.hour * 60 + local.minute
        if (
            _in_ranges((local.weekday() + 1) % 7, interval.weekdays, AM_WEEKDAYS)
            and _in_ranges(local.day, interval.days_of_month)
            and _in_ranges(local.month, interval.months)
            and _in_ranges(local.year, interval.years)
            and (
                not interval.times
                or any(
                    int(t.start[:2]) * 60 + int(t.start[3:])
                    <= minute
                    < int(t.end[:2]) * 60 + int(t.end[3:])
                    for t in interval.times
                )
            )
        ):
            return True
    return False


def _market(calendar: str) -> Market:
    return Market("xx", "X", calendar, str(exchange_calendars.get_calendar(calendar).tz))


@pytest.mark.parametrize("calendar_code", ["XNYS", "XKRX", "XSHG", "XHKG", "XTKS", "CMES", "XSAU"])
def test_closed_intervals_match_exchange_calendars_over_the_window(calendar_code: str) -> None:
    """Every 37 minutes of the window: muted exactly when exchange_calendars says closed
    (weekends, lunch breaks, holidays, early closes and late opens included)."""
    market = _market(calendar_code)
    intervals = closed_intervals(market, YEAR)
    until = holiday_window_end(market, YEAR)
    assert until is not None
    calendar = exchange_calendars.get_calendar(
        calendar_code, start=f"{YEAR - 1}-12-01", end=until.isoformat()
    )
    when = datetime(YEAR, 1, 2, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC) - timedelta(days=2)
    checked = 0
    while when < end:
        open_now = bool(calendar.is_open_on_minute(pandas.Timestamp(when)))
        assert muted(intervals, when) == (not open_now), (calendar_code, when)
        checked += 1
        when += timedelta(minutes=37)
    assert checked > 12_000


def _ny(day: str, hhmm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo("America/New_York"))


def test_fixed_dates_holiday_next_open_day_and_early_close() -> None:
    intervals = closed_intervals(_market("XNYS"), YEAR)
    assert muted(intervals, _ny("2026-11-26", "11:00"))  # Thanksgiving: a holiday
    assert not muted(intervals, _ny("2026-11-27", "10:00"))  # the next open day
    assert muted(intervals, _ny("2026-11-27", "13:30"))  # early close at 13:00
    assert not muted(intervals, _ny("2026-11-30", "15:30"))  # a regular Monday afternoon
    assert muted(intervals, _ny("2027-12-24", "11:00"))  # next year's holidays too
    assert not muted(intervals, _ny("2026-12-23", "15:30"))
    assert muted(intervals, _ny("2026-12-24", "13:30"))  # Christmas Eve closes at 13:00


def test_lunch_breaks_and_lunar_holidays_come_from_the_library() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    hk = ZoneInfo("Asia/Hong_Kong")
    kr = closed_intervals(_market("XKRX"), YEAR)
    assert market_sessions(_market("XKRX"), YEAR) == ("09:00-15:30",)
    assert market_sessions(_market("XHKG"), YEAR) == ("09:30-12:00", "13:00-16:00")
    assert muted(kr, datetime(2026, 2, 17, 11, 0, tzinfo=seoul))  # Seollal
    assert not muted(kr, datetime(2026, 2, 19, 11, 0, tzinfo=seoul))
    hkg = closed_intervals(_market("XHKG"), YEAR)
    assert muted(hkg, datetime(2026, 11, 24, 12, 30, tzinfo=hk))  # lunch break
    assert not muted(hkg, datetime(2026, 11, 24, 13, 30, tzinfo=hk))


def test_an_always_open_market_has_no_closed_interval() -> None:
    crypto = Market("crypto", "Crypto", "24/7", "UTC")
    assert closed_intervals(crypto, YEAR) == ()
    assert holiday_window_end(crypto, YEAR) is None
    whole_week = custom_schedule("UTC", ((0, 24 * 60),), YEAR, weekdays=range(7))
    assert whole_week.always_open and schedule_intervals(whole_week) == ()
    # 24/5 closes at weekends only.
    weekdays_only = closed_intervals(Market("fx", "FX", "24/5", "UTC"), YEAR)
    assert weekdays_only == (TimeInterval(("sunday", "saturday"), (), "UTC"),)


def test_custom_schedule_weekdays_holidays_and_early_closes() -> None:
    """Vietnam (seed 000): two sessions, Tết as holidays, one early close."""
    zone = "Asia/Ho_Chi_Minh"
    tz = ZoneInfo(zone)
    tet = [date(2026, 2, d) for d in range(16, 21)]
    schedule = custom_schedule(
        zone,
        parse_sessions(("13:00-14:45", "09:00-11:30"), "sessions"),
        YEAR,
        holidays=[*tet, date(2020, 1, 1)],  # out of the window: not rendered
        early_closes=[(date(2026, 12, 31), 11 * 60)],
    )
    intervals = schedule_intervals(schedule)
    assert muted(intervals, datetime(2026, 2, 17, 10, 0, tzinfo=tz))  # Tết
    assert not muted(intervals, datetime(2026, 2, 23, 10, 0, tzinfo=tz))  # next open day
    assert muted(intervals, datetime(2026, 2, 23, 12, 0, tzinfo=tz))  # lunch
    assert muted(intervals, datetime(2026, 12, 31, 11, 15, tzinfo=tz))  # early close
    assert not muted(intervals, datetime(2026, 12, 31, 10, 15, tzinfo=tz))
    assert not muted(intervals, datetime(2026, 12, 30, 14, 15, tzinfo=tz))
    assert {y for i in intervals for y in i.years} == {"2026"}
    assert schedule.known_until == date(2026, 12, 31)
    # Weekdays: a Sunday-to-Thursday market.
    gulf = custom_schedule("UTC", ((600, 900),), YEAR, weekdays=(6, 0, 1, 2, 3))
    assert not muted(schedule_intervals(gulf), datetime(2026, 11, 29, 10, 30, tzinfo=UTC))
    assert muted(schedule_intervals(gulf), datetime(2026, 11, 27, 10, 30, tzinfo=UTC))


def test_window_depends_on_the_year_only() -> None:
    market = _market("XNYS")
    intervals = closed_intervals(market, YEAR)
    assert {y for i in intervals for y in i.years} == {"2026", "2027"}
    assert holiday_window_end(market, YEAR) == date(2027, 12, 31)
    # Where the library stops recording holidays, the window ends there.
    assert holiday_window_end(_market("XSHG"), YEAR) == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("market", "message"),
    [
        (
            Market("xx", "X", "XXXX", "UTC"),
            r"markets\[xx\]\.calendar = 'XXXX' is invalid: allowed one of ",
        ),
        (Market("xx", "X", "XBEL", "UTC"), r"'XBEL' cannot be loaded by the installed"),
        (Market("Bad", "X", "XNYS", "UTC"), r"markets\[Bad\]\.code = 'Bad' is invalid"),
        (Market("a" * 25, "X", "XNYS", "UTC"), "1 to 24 of a-z"),
    ],
)
def test_bad_markets_get_one_clear_error(market: Market, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        closed_intervals(market, YEAR)
    assert "\n" not in str(raised.value)


def test_unknown_calendar_error_lists_the_valid_names() -> None:
    with pytest.raises(ValueError) as raised:
        closed_intervals(Market("xx", "X", "XXXX", "UTC"), YEAR)
    for name in ("XNYS", "24/7", "24/5", "XKRX", "CMES"):
        assert name in str(raised.value)


def _code(calendar: str) -> str:
    return calendar.lower().replace("/", "-").replace("_", "-")


def test_every_calendar_renders_and_passes_amtool(tmp_path: Path) -> None:
    """Every exchange_calendars calendar: sessions, mute times (one amtool run for all) and
    its market dashboard; those the installed library cannot load get one clear error."""
    loadable: list[Market] = []
    broken: list[str] = []
    for name in exchange_calendars.get_calendar_names(include_aliases=False):
        market = Market(_code(name), name, name, "UTC")
        try:
            sessions = market_sessions(market, YEAR)
        except ValueError as exc:
            assert f"markets[{market.code}].calendar: calendar {name!r} cannot be loaded" in str(
                exc
            )
            broken.append(name)
            continue
        assert sessions, name
        loadable.append(market)
    # exchange_calendars 4.13.2 on pandas 3: four calendars fail to build, XTAE's special
    # dates are not sessions. An upgrade that fixes them only shrinks this set.
    assert set(broken) <= {"ASEX", "XBEL", "XBSE", "XCYS", "XTAE"}
    assert len(loadable) >= 66
    settings = make_settings(markets=tuple(loadable))
    config = tmp_path / "alertmanager.yml"
    config.write_text(render_alertmanager_config(settings, WEBHOOK_URL, HEARTBEAT_URL))
    result = run([tool("amtool"), "check-config", str(config)])
    assert result.returncode == 0, result.stdout + result.stderr
    names = {t["name"] for t in yaml.safe_load(config.read_text())["time_intervals"]}
    # 24/7 has no closed interval: its route has no mute interval either.
    assert closed_interval_name("24-7") not in names
    assert len(names) == len(loadable) - 1
    boards = {d.uid: d for d in build_dashboards(settings)}
    for market in loadable:
        assert market_uid(market.code) in boards, market.code
