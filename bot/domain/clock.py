"""The reference day and time for relative dates (昨天, 上周五), due dates and case ids.

Users are in mainland China, so "today" is China Standard Time whatever the
server's zone. Evaluation runs against a fixed day so that "昨天" always
means the same date; set ``WUSHUA_TODAY=YYYY-MM-DD`` to pin it.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    current = datetime.now(CHINA)
    pinned = os.environ.get("WUSHUA_TODAY")
    if pinned:
        return datetime.combine(date.fromisoformat(pinned), current.timetz())
    return current


def today() -> date:
    return now().date()
