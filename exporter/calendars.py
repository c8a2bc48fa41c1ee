"""Market sessions as sorted [open, close) Unix-second intervals.

Exchange calendars (holidays, lunch breaks) come from `exchange_calendars`, which needs pandas
and numpy (~100 MB of RSS). The exporter never imports it: a short-lived child process
(`python -m exporter.calendars`) computes a few weeks of sessions, prints them as JSON and
exits, so the long-running exporter stays small. Markets with configured `sessions` (Vietnam,
Shenzhen, tests) are computed here in pure Python.
"""

from __future__ import annotations

import bisect
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from exporter.config import MarketConfig

Interval = tuple[int, int]


class CalendarError(Exception):
    """The calendar child process failed or returned garbage."""


@dataclass(frozen=True)
class Schedule:
    """Sessions of one market between `valid_from` and `valid_until` (Unix seconds)."""

    intervals: tuple[Interval, ...]
    valid_from: int
    valid_until: int

    def is_open(self, now: float) -> bool:
        starts = [start for start, _ in self.intervals]
        i = bisect.bisect_right(starts, now) - 1
        return i >= 0 and now < self.intervals[i][1]

    def covers(self, now: float, margin: int) -> bool:
        return self.valid_from <= now and now + margin < self.valid_until


def configured_schedule(market: MarketConfig, start: date, end: date) -> Schedule:
    """Sessions from the market's configured local hours, weekdays, holidays and early closes."""
    zone = ZoneInfo(market.timezone)
    holidays = set(market.holidays)
    early_closes = dict(market.early_closes)
    intervals: list[Interval] = []
    day = start
    while day <= end:
        if day.weekday() in market.weekdays and day.isoformat() not in holidays:
            close_by = early_closes.get(day.isoformat(), 24 * 60)
            for session in market.sessions:
                if session.start_minute >= close_by:
                    continue
                # Wall-clock minutes, so DST days keep their local hours.
                opens = _local_minute(day, session.start_minute, zone)
                closes = _local_minute(day, min(session.end_minute, close_by), zone)
                intervals.append((int(opens.timestamp()), int(closes.timestamp())))
        day += timedelta(days=1)
    return Schedule(
        tuple(merge_intervals(intervals)), _day_start(start, zone), _day_start(end, zone)
    )


def _local_minute(day: date, minute: int, zone: ZoneInfo) -> datetime:
    if minute >= 24 * 60:
        nxt = day + timedelta(days=1)
        return datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
    return datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)


def _day_start(day: date, zone: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and join touching intervals (00:00-24:00 on consecutive days is one long session)."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def calendar_schedules(
    codes: Sequence[str], start: date, end: date, timeout: float
) -> dict[str, Schedule]:
    """Run the child process for the given exchange_calendars codes."""
    if not codes:
        return {}
    cmd = [sys.executable, "-m", "exporter.calendars", start.isoformat(), end.isoformat(), *codes]
    # The child must import this package wherever the parent found it.
    package_root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        raise CalendarError(f"calendar process took longer than {timeout:g}s") from None
    except OSError as exc:
        raise CalendarError(f"cannot start the calendar process: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CalendarError(f"calendar process exited with {done.returncode}: {last}")
    try:
        data = json.loads(done.stdout)
        return {
            code: Schedule(
                tuple((int(a), int(b)) for a, b in data[code]["intervals"]),
                int(data[code]["valid_from"]),
                int(data[code]["valid_until"]),
            )
            for code in codes
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise CalendarError(f"calendar process returned bad JSON: {exc}") from None


def _compute(code: str, start: date, end: date) -> dict[str, object]:
    """In the child: sessions with lunch breaks removed, as UTC Unix seconds."""
    import exchange_calendars as xcals
    import pandas as pd

    calendar = xcals.get_calendar(code, start=start.isoformat(), end=end.isoformat())
    schedule = calendar.schedule.loc[start.isoformat() : end.isoformat()]
    intervals: list[Interval] = []
    for row in schedule.itertuples():
        opens, closes = int(row.open.timestamp()), int(row.close.timestamp())
        if pd.isna(row.break_start) or pd.isna(row.break_end):
            intervals.append((opens, closes))
        else:
            intervals.append((opens, int(row.break_start.timestamp())))
            intervals.append((int(row.break_end.timestamp()), closes))
    first = int(pd.Timestamp(start.isoformat(), tz="UTC").timestamp())
    last = int(pd.Timestamp(end.isoformat(), tz="UTC").timestamp())
    return {"intervals": intervals, "valid_from": first, "valid_until": last}


def main(argv: Sequence[str]) -> int:
    """`python -m exporter.calendars START END CODE...` prints {code: schedule} as JSON."""
    start, end = date.fromisoformat(argv[0]), date.fromisoformat(argv[1])
    result = {code: _compute(code, start, end) for code in argv[2:]}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
