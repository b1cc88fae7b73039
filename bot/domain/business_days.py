"""Business-day arithmetic on the mainland China calendar (holidays and make-up workdays).

``chinesecalendar`` carries the State Council's official schedule, holidays
and 调休 make-up workdays alike, for the years already announced. Beyond them
the ``holidays`` package's computed statutory days and their 补假 stand in:
it knows no make-up workdays, so dates in those years are estimates, and the
text says 约 (``is_estimated``). When a ``chinesecalendar`` release carries a
new year's schedule, bumping its pin is all it takes.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar
import holidays
from chinese_calendar.constants import holidays as official_holidays

from bot.domain.clock import today

log = logging.getLogger(__name__)

WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
OFFICIAL_YEARS = range(min(official_holidays).year, max(official_holidays).year + 1)


def is_estimated(day: date) -> bool:
    """True when ``day`` lies in a year without an announced schedule."""
    return day.year not in OFFICIAL_YEARS


@lru_cache(maxsize=16)
def _computed_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("CN", years=year))


def is_workday(day: date) -> bool:
    if not is_estimated(day):
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5 and day not in _computed_holidays(day.year)


def is_makeup_workday(day: date) -> bool:
    """A Saturday or Sunday worked in exchange for a holiday (调休上班)."""
    return day.weekday() >= 5 and is_workday(day)


def add_business_days(start: date, count: int) -> date:
    """The date ``count`` business days after ``start``; 0 means ``start`` or the next workday."""
    day = start
    while not is_workday(day):
        day += timedelta(days=1)
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if is_workday(day):
            remaining -= 1
    return day


def format_date(day: date) -> str:
    """``11月27日``; the year only when it is not the current one."""
    prefix = f"{day.year}年" if day.year != today().year else ""
    return f"{prefix}{day.month}月{day.day}日"


def format_day(day: date, note: str | None = None) -> str:
    """``11月27日（周五）``, with the year outside the current one; ``note`` joins the weekday."""
    inside = WEEKDAY_NAMES[day.weekday()] + (f"，{note}" if note else "")
    return f"{format_date(day)}（{inside}）"


@lru_cache(maxsize=1)
def warn_about_estimated_years() -> None:
    """Logged once per process: dates from next year on are estimates until the schedule is out."""
    if today().year + 1 not in OFFICIAL_YEARS:
        log.warning(
            "Holiday calendar: the official schedule (chinesecalendar) ends with %d; business days "
            "after it use the holidays package's computed statutory days without make-up workdays "
            "and are shown as estimates (约). Upgrade chinesecalendar when the State Council "
            "publishes the next year's schedule.",
            OFFICIAL_YEARS[-1],
        )


warn_about_estimated_years()
