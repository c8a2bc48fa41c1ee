"""Regular session hours per market, and the "market closed" mute intervals built from them.

Markets with an exchange_calendars code use the table below (checked against the installed
exchange_calendars in tests); others list `Market.sessions`. Holidays are not in the mute
intervals: the stale-data alert joins on `trading_market_open`, which knows holidays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitoring.settings import Market

# Current regular sessions (local time) of the calendars our markets use.
CALENDAR_SESSIONS: dict[str, tuple[str, ...]] = {
    "XKRX": ("09:00-15:30",),
    "XNYS": ("09:30-16:00",),
    "XSHG": ("09:30-11:30", "13:00-15:00"),
    "XHKG": ("09:30-12:00", "13:00-16:00"),
    "XTKS": ("09:00-11:30", "12:30-15:30"),
}

_SESSION = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class TimeRange:
    start: str  # "HH:MM", local time
    end: str  # "HH:MM", up to "24:00"


@dataclass(frozen=True)
class TimeInterval:
    """One Alertmanager `time_intervals` entry (also a Grafana mute timing interval)."""

    weekdays: tuple[str, ...]  # e.g. ("monday:friday",)
    times: tuple[TimeRange, ...] = ()  # empty: the whole day
    location: str | None = None


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def market_sessions(market: Market) -> tuple[str, ...]:
    """Sessions of a market as "HH:MM-HH:MM" strings, validated and sorted."""
    if market.sessions:
        sessions = market.sessions
        key = f"markets[{market.code}].sessions"
    elif market.calendar in CALENDAR_SESSIONS:
        sessions = CALENDAR_SESSIONS[market.calendar]
        key = f"markets[{market.code}].calendar"
    else:
        raise ValueError(
            f"markets[{market.code}]: calendar {market.calendar!r} has no known session hours;"
            f" set `sessions` (e.g. ['09:00-11:30', '13:00-15:00']) or use one of"
            f" {sorted(CALENDAR_SESSIONS)}"
        )
    try:
        ZoneInfo(market.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"markets[{market.code}].timezone: {market.timezone!r} is not an IANA time zone"
            " (e.g. 'Asia/Seoul')"
        ) from None
    previous_end = 0
    for session in sorted(sessions):
        match = _SESSION.match(session)
        if not match or _minutes(session[:5]) >= _minutes(session[6:]):
            raise ValueError(
                f"{key}: {session!r} is not a session; expected 'HH:MM-HH:MM' with start < end"
            )
        if _minutes(session[:5]) < previous_end:
            raise ValueError(f"{key}: {session!r} overlaps the previous session")
        previous_end = _minutes(session[6:])
    return tuple(sorted(sessions))


def closed_intervals(market: Market) -> tuple[TimeInterval, ...]:
    """When the market is closed: weekends, and weekdays outside its sessions."""
    gaps: list[TimeRange] = []
    cursor = "00:00"
    for session in market_sessions(market):
        start, end = session.split("-")
        if _minutes(start) > _minutes(cursor):
            gaps.append(TimeRange(cursor, start))
        cursor = end
    if _minutes(cursor) < _minutes("24:00"):
        gaps.append(TimeRange(cursor, "24:00"))
    weekend = TimeInterval(weekdays=("saturday", "sunday"), location=market.timezone)
    if not gaps:  # open around the clock on weekdays (an interval without times is all day)
        return (weekend,)
    return (
        weekend,
        TimeInterval(weekdays=("monday:friday",), times=tuple(gaps), location=market.timezone),
    )


def closed_interval_name(market_code: str) -> str:
    return f"market-closed-{market_code}"
