"""The on-disk calendar cache returns exactly what exchange_calendars returns."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import exchange_calendars
import pytest

from monitoring import calendar_cache, market_hours
from monitoring.market_hours import CalendarSessions, calendar_sessions, library_sessions

YEAR = 2026
START, END = date(YEAR, 1, 1), date(YEAR + 1, 12, 31)
# The prod stack's calendars (XSHG: holidays recorded to a year inside the window; XHKG: lunch
# breaks; XKRX: lunar holidays), an always-open one and a CME-style overnight one.
CALENDARS = ("XKRX", "XNYS", "XSHG", "XHKG", "XTKS", "24/7", "CMES")


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache per test (as on a fresh CI machine)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def fresh() -> dict[str, CalendarSessions]:
    return {name: library_sessions(name, START, END) for name in CALENDARS}


def _no_library(name: str, start: date, end: date) -> CalendarSessions:
    raise AssertionError(f"{name} was computed again instead of read from the cache")


@pytest.mark.parametrize("name", CALENDARS)
def test_a_cached_calendar_equals_the_library(
    name: str, fresh: dict[str, CalendarSessions], monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = calendar_sessions(name, START, END)  # computed, then stored
    assert cold == fresh[name]
    monkeypatch.setattr(market_hours, "library_sessions", _no_library)
    warm = calendar_sessions(name, START, END)  # read back
    assert warm == fresh[name]
    assert all(opens.utcoffset() is not None for opens, *_ in warm.sessions)


def test_schedules_from_the_cache_equal_fresh_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """What synth renders from: the derived schedule, cold run vs warm run."""
    compute = market_hours.calendar_schedule.__wrapped__
    cold = {name: compute(name, YEAR) for name in ("XKRX", "XSHG", "XHKG")}
    monkeypatch.setattr(market_hours, "library_sessions", _no_library)
    assert {name: compute(name, YEAR) for name in cold} == cold


def test_calendar_names_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    library = tuple(sorted(exchange_calendars.get_calendar_names(include_aliases=True)))
    assert market_hours.calendar_names.__wrapped__() == library
    assert calendar_cache.load("names") == list(library)
    monkeypatch.setattr(exchange_calendars, "get_calendar_names", None)  # not asked again
    assert market_hours.calendar_names.__wrapped__() == library


def test_a_damaged_entry_is_recomputed(fresh: dict[str, CalendarSessions]) -> None:
    calendar_sessions("XNYS", START, END)
    (entry,) = calendar_cache.cache_dir().glob("sessions-XNYS-*.json")
    for damage in ('{"sessions": [[1, 2]]}', "{not json", ""):
        entry.write_text(damage)
        assert calendar_sessions("XNYS", START, END) == fresh["XNYS"]
    assert CalendarSessions.from_json(calendar_cache.load("sessions-XNYS-2026-01-01-2027-12-31"))


def test_an_unwritable_cache_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: dict[str, CalendarSessions]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # mkdir under a file fails
    assert calendar_sessions("XNYS", START, END) == fresh["XNYS"]
    assert calendar_cache.load("sessions-XNYS-2026-01-01-2027-12-31") is None


def test_the_cache_is_per_library_version(cache_home: Path) -> None:
    version = exchange_calendars.__version__
    assert calendar_cache.cache_dir().parent == cache_home / "trading-monitoring"
    assert f"exchange_calendars-{version}" in calendar_cache.cache_dir().name
