"""Business-day arithmetic on the mainland China calendar (holidays and make-up workdays).

``chinesecalendar`` carries the State Council's official schedule; it only
knows the years that have been announced, so later dates fall back to
Monday–Friday and callers say 通常/约.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

from bot.clock import today

WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


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


def format_day(day: date) -> str:
    """``11月27日（周五）``; the year only when it is not the current one."""
    prefix = f"{day.year}年" if day.year != today().year else ""
    return f"{prefix}{day.month}月{day.day}日（{WEEKDAY_NAMES[day.weekday()]}）"
