"""When each market trades, and the "market closed" mute intervals built from it.

A market follows an `exchange_calendars` calendar (any name the installed library knows,
including `24/7` and `24/5`: sessions, lunch breaks, holidays and early closes all come from the
library) or a custom schedule (`sessions`, `weekdays`, `holidays`, `earlyCloses`).

Both become a `MarketSchedule`: the regular sessions of each weekday plus the dates that differ
(holidays, early closes, late opens) within a window of two calendar years, the year given and
the next. The window depends on the year only, so the rendered mute times change when the year
turns or `exchange_calendars` is upgraded, never on an ordinary day.
"""

from __future__ import annotations

import functools
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from exporter.calendars import merge_intervals
from monitoring import calendar_cache
from monitoring.settings import Market
from validation import WEEKDAYS as DAY_NAMES
from validation import InvalidValue, close_minute, session_minutes

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_MINUTES = 24 * 60


Span = tuple[int, int]  # [start, end) minutes after local midnight, end up to 1440


@dataclass(frozen=True)
class TimeRange:
    start: str  # "HH:MM", local time
    end: str  # "HH:MM", up to "24:00"


@dataclass(frozen=True)
class TimeInterval:
    """One Alertmanager `time_intervals` entry (also a Grafana mute timing interval).

    Empty fields do not restrict: an interval with only dates covers those whole days.
    """

    weekdays: tuple[str, ...]  # e.g. ("monday:friday",)
    times: tuple[TimeRange, ...] = ()  # empty: the whole day
    location: str | None = None
    days_of_month: tuple[str, ...] = ()  # e.g. ("16", "17")
    months: tuple[str, ...] = ()  # e.g. ("2",)
    years: tuple[str, ...] = ()  # e.g. ("2026",)


@dataclass(frozen=True)
class MarketSchedule:
    """Local trading hours of one market over the window `first_year`..`first_year + 1`."""

    timezone: str
    weekly: tuple[tuple[Span, ...], ...]  # open spans of Monday .. Sunday
    exceptions: tuple[tuple[date, tuple[Span, ...]], ...]  # dates that differ (holiday: ())
    first_year: int
    # Last day whose holidays and early closes are known; None: none are listed (custom).
    known_until: date | None

    @property
    def always_open(self) -> bool:
        return all(spans == ((0, DAY_MINUTES),) for spans in self.weekly) and not self.exceptions

    def open_spans(self, day: date) -> tuple[Span, ...]:
        return dict(self.exceptions).get(day, self.weekly[day.weekday()])


# --- parsing and validation -------------------------------------------------------------------


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_sessions(sessions: Sequence[str], key: str) -> tuple[Span, ...]:
    """Validated, sorted, non-overlapping "HH:MM-HH:MM" sessions as minute spans."""
    spans: list[Span] = []
    for session in sorted(sessions):
        span = session_minutes(key, session)
        if spans and span[0] < spans[-1][1]:
            raise ValueError(f"{key}: {session!r} overlaps the previous session")
        spans.append(span)
    return tuple(spans)


@functools.cache
def calendar_names() -> tuple[str, ...]:
    """Every calendar name (and alias) the installed exchange_calendars knows (cached on disk:
    see monitoring/calendar_cache.py)."""
    cached = calendar_cache.load("names")
    if isinstance(cached, list) and all(isinstance(name, str) for name in cached):
        return tuple(cached)
    import exchange_calendars

    names = tuple(sorted(exchange_calendars.get_calendar_names(include_aliases=True)))
    calendar_cache.store("names", list(names))
    return names


# --- exchange calendars -----------------------------------------------------------------------


def _local_spans(opens: datetime, closes: datetime, zone: ZoneInfo) -> Iterable[tuple[date, Span]]:
    """A UTC session cut at local midnights: (local date, minute span) pieces."""
    start, end = opens.astimezone(zone), closes.astimezone(zone)
    while start < end:
        midnight = datetime(start.year, start.month, start.day, tzinfo=zone) + timedelta(days=1)
        piece_end = min(end, midnight)
        first = start.hour * 60 + start.minute
        last = DAY_MINUTES if piece_end >= midnight else piece_end.hour * 60 + piece_end.minute
        if last > first:
            yield start.date(), (first, last)
        start = piece_end


def _merge(spans: Iterable[Span]) -> tuple[Span, ...]:
    return tuple(merge_intervals(spans))


# One session as exchange_calendars returns it, in UTC: open, close, break start, break end.
Session = tuple[datetime, datetime, datetime | None, datetime | None]


@dataclass(frozen=True)
class CalendarSessions:
    """What exchange_calendars returns for a calendar over a date range."""

    timezone: str
    known_until: date  # the range's end, or the last day the library records holidays for
    sessions: tuple[Session, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "known_until": self.known_until.isoformat(),
            "sessions": [[t.isoformat() if t else None for t in s] for s in self.sessions],
        }

    @staticmethod
    def from_json(value: Any) -> CalendarSessions | None:
        """None for anything but what `to_json` writes (a damaged cache entry)."""
        try:
            sessions = tuple(
                (
                    datetime.fromisoformat(opens),
                    datetime.fromisoformat(closes),
                    datetime.fromisoformat(break_start) if break_start else None,
                    datetime.fromisoformat(break_end) if break_end else None,
                )
                for opens, closes, break_start, break_end in value["sessions"]
            )
            return CalendarSessions(
                str(value["timezone"]), date.fromisoformat(value["known_until"]), sessions
            )
        except (KeyError, TypeError, ValueError):
            return None


def calendar_sessions(name: str, start: date, end: date) -> CalendarSessions:
    """The calendar's sessions over [start, end] (see `_load` for calendars whose holidays end
    earlier), from the on-disk cache when an earlier run stored them."""
    key = f"sessions-{name}-{start.isoformat()}-{end.isoformat()}"
    cached = CalendarSessions.from_json(calendar_cache.load(key))
    if cached is not None:
        return cached
    fresh = library_sessions(name, start, end)
    calendar_cache.store(key, fresh.to_json())
    return fresh


def library_sessions(name: str, start: date, end: date) -> CalendarSessions:
    """`calendar_sessions` straight from exchange_calendars (no cache)."""
    import exchange_calendars
    import pandas as pd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calendar, known_until = _load(exchange_calendars, name, start, end)
    except Exception as exc:  # the library's own limits and bugs: name them
        raise ValueError(
            f"calendar {name!r} cannot be loaded by the installed exchange_calendars"
            f" ({type(exc).__name__}: {exc}); use custom sessions instead"
        ) from None

    def instant(value: Any) -> datetime | None:
        return None if pd.isna(value) else value.to_pydatetime()

    sessions = tuple(
        (
            row.open.to_pydatetime(),
            row.close.to_pydatetime(),
            instant(row.break_start),
            instant(row.break_end),
        )
        for row in calendar.schedule.itertuples()
    )
    return CalendarSessions(str(calendar.tz), known_until, sessions)


@functools.cache
def calendar_schedule(name: str, first_year: int) -> MarketSchedule:
    """The schedule of an exchange_calendars calendar over `first_year` and the next year.

    Holidays are known only as far as the library records them (`bound_max`); beyond that the
    window ends early and the MarketHolidayWindowEnding alert says so.
    """
    if name not in calendar_names():
        raise ValueError(f"unknown calendar {name!r}; allowed: {', '.join(calendar_names())}")
    start, end = date(first_year, 1, 1), date(first_year + 1, 12, 31)
    loaded = calendar_sessions(name, start, end)
    known_until = loaded.known_until
    load_start = min(start, known_until - timedelta(days=366))
    zone = ZoneInfo(loaded.timezone)
    by_day: dict[date, list[Span]] = {}
    for opens, closes, break_start, break_end in loaded.sessions:
        pieces = [(opens, closes)]
        if break_start is not None and break_end is not None:
            pieces = [(opens, break_start), (break_end, closes)]
        for piece_opens, piece_closes in pieces:
            for day, span in _local_spans(piece_opens, piece_closes, zone):
                by_day.setdefault(day, []).append(span)
    days = [load_start + timedelta(days=i) for i in range((known_until - load_start).days + 1)]
    actual = {day: _merge(by_day.get(day, ())) for day in days}
    # The regular week: each weekday's most common hours over the loaded year(s).
    weekly = tuple(
        Counter(spans for day, spans in actual.items() if day.weekday() == wd).most_common(1)[0][0]
        for wd in range(7)
    )
    exceptions = tuple(
        (day, spans)
        for day, spans in actual.items()
        # The last loaded day lacks the next day's evening session (CME-style calendars).
        if start <= day < known_until and spans != weekly[day.weekday()]
    )
    return MarketSchedule(loaded.timezone, weekly, exceptions, first_year, known_until)


def _load(xcals: Any, name: str, start: date, end: date) -> tuple[Any, date]:
    """The calendar over [start, end], or up to the last year it records holidays for (its
    `bound_max`; precomputed calendars such as XSHG refuse a later end). One instantiation in
    the common case: some calendars (XKRX) take seconds to build."""
    try:
        return xcals.get_calendar(name, start=start.isoformat(), end=end.isoformat()), end
    except ValueError:
        # A month of data gives the calendar type, and so how far its holidays are recorded.
        probe = xcals.get_calendar(name, start=f"{start.year - 1}-12-01", end=start.isoformat())
        bound = probe.bound_max()
        if bound is None or bound.date() >= end:
            raise
        known_until = bound.date()
        first = min(start, known_until - timedelta(days=366))
        return xcals.get_calendar(
            name, start=first.isoformat(), end=known_until.isoformat()
        ), known_until


# --- the market's schedule --------------------------------------------------------------------


def market_schedule(market: Market, first_year: int) -> MarketSchedule:
    """Validated schedule of a market (calendar or custom) over `first_year` and the next; a bad
    market raises InvalidValue naming `markets[<code>].<key>` (`Market.check`)."""
    try:
        market.check()
    except InvalidValue as error:
        raise error.at(f"markets[{market.code}]") from None
    if market.sessions:
        return custom_schedule(
            market.timezone,
            parse_sessions(market.sessions, f"markets[{market.code}].sessions"),
            first_year,
            tuple(DAY_NAMES.index(day) for day in market.weekdays),
            [date.fromisoformat(day) for day in market.holidays],
            [
                (date.fromisoformat(day), close_minute("earlyCloses", close))
                for day, close in market.early_closes
            ],
        )
    assert market.calendar is not None  # Market.check: a calendar or sessions
    try:
        return calendar_schedule(market.calendar, first_year)
    except ValueError as exc:
        raise ValueError(f"markets[{market.code}].calendar: {exc}") from None


def custom_schedule(
    timezone: str,
    sessions: tuple[Span, ...],
    first_year: int,
    weekdays: Sequence[int] = (0, 1, 2, 3, 4),
    holidays: Sequence[date] = (),
    early_closes: Sequence[tuple[date, int]] = (),
) -> MarketSchedule:
    """A custom schedule: `sessions` on `weekdays` (Monday = 0), minus holidays and early closes."""
    weekly = tuple(sessions if wd in weekdays else () for wd in range(7))
    years = (first_year, first_year + 1)
    changed: dict[date, tuple[Span, ...]] = {}
    for day, close in early_closes:
        changed[day] = tuple((s, min(e, close)) for s, e in weekly[day.weekday()] if s < close)
    for day in holidays:
        changed[day] = ()
    exceptions = tuple(
        (day, spans)
        for day, spans in sorted(changed.items())
        if day.year in years and spans != weekly[day.weekday()]
    )
    listed = [*holidays, *(day for day, _ in early_closes)]
    known_until = date(max(d.year for d in listed), 12, 31) if listed else None
    return MarketSchedule(timezone, weekly, exceptions, first_year, known_until)


# --- mute intervals ---------------------------------------------------------------------------


def _complement(spans: tuple[Span, ...]) -> tuple[Span, ...]:
    gaps: list[Span] = []
    cursor = 0
    for start, end in spans:
        if start > cursor:
            gaps.append((cursor, start))
        cursor = end
    if cursor < DAY_MINUTES:
        gaps.append((cursor, DAY_MINUTES))
    return tuple(gaps)


def _subtract(spans: tuple[Span, ...], minus: tuple[Span, ...]) -> tuple[Span, ...]:
    """Minutes in `spans` but not in `minus`."""
    keep = set(_complement(minus))
    out: list[Span] = []
    for start, end in spans:
        for gap_start, gap_end in keep:
            low, high = max(start, gap_start), min(end, gap_end)
            if low < high:
                out.append((low, high))
    return _merge(out)


def _weekday_ranges(days: Sequence[int]) -> tuple[str, ...]:
    """[0, 1, 2, 4] -> ("monday:wednesday", "friday"). Ranges run Sunday to Saturday, as in
    Alertmanager ("saturday:sunday" is refused)."""
    out: list[str] = []
    run: list[int] = []
    for day in sorted(days, key=lambda d: (d + 1) % 7):
        if run and (day + 1) % 7 != (run[-1] + 1) % 7 + 1:
            out.append(_weekday_run(run))
            run = []
        run.append(day)
    if run:
        out.append(_weekday_run(run))
    return tuple(out)


def _weekday_run(run: list[int]) -> str:
    first, last = WEEKDAYS[run[0]], WEEKDAYS[run[-1]]
    return first if first == last else f"{first}:{last}"


def _times(spans: tuple[Span, ...]) -> tuple[TimeRange, ...]:
    if spans == ((0, DAY_MINUTES),):
        return ()  # the whole day
    return tuple(TimeRange(_hhmm(s), _hhmm(e)) for s, e in spans)


def schedule_intervals(schedule: MarketSchedule) -> tuple[TimeInterval, ...]:
    """When the market is closed: the regular week's gaps, then whole holidays and the closed
    parts of shortened days (grouped per month). An always-open market has none."""
    tz = schedule.timezone
    by_gaps: dict[tuple[Span, ...], list[int]] = {}
    for weekday, spans in enumerate(schedule.weekly):
        gaps = _complement(spans)
        if gaps:
            by_gaps.setdefault(gaps, []).append(weekday)
    intervals = [
        TimeInterval(_weekday_ranges(days), _times(gaps), tz)
        for gaps, days in sorted(by_gaps.items(), key=lambda item: item[1])
    ]
    by_month: dict[tuple[int, int, tuple[Span, ...]], list[int]] = {}
    for day, spans in schedule.exceptions:
        extra = _subtract(schedule.weekly[day.weekday()], spans)
        if extra:
            by_month.setdefault((day.year, day.month, extra), []).append(day.day)
    for (year, month, extra), days in sorted(by_month.items()):
        intervals.append(
            TimeInterval(
                (),
                _times(extra),
                tz,
                days_of_month=tuple(str(d) for d in days),
                months=(str(month),),
                years=(str(year),),
            )
        )
    return tuple(intervals)


def current_year() -> int:
    """The first year of the mute-time window (the renderers' only use of the clock)."""
    return date.today().year


def market_sessions(market: Market, first_year: int | None = None) -> tuple[str, ...]:
    """The market's regular sessions as "HH:MM-HH:MM" (the most common weekday's hours)."""
    schedule = market_schedule(market, current_year() if first_year is None else first_year)
    trading = [spans for spans in schedule.weekly if spans]
    if not trading:
        return ()
    spans = Counter(trading).most_common(1)[0][0]
    return tuple(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in spans)


def closed_intervals(market: Market, first_year: int | None = None) -> tuple[TimeInterval, ...]:
    """When the market is closed (weekends, outside sessions, holidays, early closes)."""
    year = current_year() if first_year is None else first_year
    return schedule_intervals(market_schedule(market, year))


def holiday_window_end(market: Market, first_year: int | None = None) -> date | None:
    """Last day the rendered holidays cover; None for a market that has no holidays to know
    (always open, or a custom schedule without listed holidays)."""
    schedule = market_schedule(market, current_year() if first_year is None else first_year)
    return None if schedule.always_open else schedule.known_until


def holiday_window_end_timestamp(market: Market, first_year: int | None = None) -> int | None:
    """Unix time of the local midnight that ends the market's holiday window."""
    last = holiday_window_end(market, first_year)
    if last is None:
        return None
    zone = ZoneInfo(market_schedule(market, first_year or current_year()).timezone)
    after = last + timedelta(days=1)
    return int(datetime(after.year, after.month, after.day, tzinfo=zone).timestamp())


def closed_interval_name(market_code: str) -> str:
    return f"market-closed-{market_code}"
