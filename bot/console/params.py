"""Request parameters, parsed strictly: a bad value is a 400 with a message, never a 500.

Every value a page or form reads goes through one of these. Integers are
ASCII digits within bounds (``str.isdigit`` would take ``²`` and ``３``, and
an unbounded one overflows the database's 64-bit integers); dates are real
``YYYY-MM-DD`` days in a plausible window, and a range of them spans at most
``MAX_RANGE_DAYS`` so that no page builds a chart of a million days; text has
a length limit and no control characters (PostgreSQL refuses NUL outright).
An empty value is an absent one, as a form submits its empty fields.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TypeVar

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
MAX_RANGE_DAYS = 366
# The largest id either database stores (a signed 64-bit integer).
MAX_ID = 2**63 - 1
MAX_TEXT_CHARS = 100
# Widget and WeChat ids are under 50 characters; a REST client names its own, up to 128 after the prefix.
MAX_SENDER_CHARS = 256
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CASE_ID = re.compile(r"WS-[0-9]{8}-[0-9]{4,9}", re.IGNORECASE)
T = TypeVar("T")


class BadParameter(ValueError):
    """``name`` is the parameter, ``code`` the problem; the template ``_bad_parameter.html`` words it."""

    def __init__(self, name: str, code: str, **limits: object) -> None:
        super().__init__(name, code, limits)
        self.name = name
        self.code = code
        self.limits = limits


def blank(text: str | None) -> bool:
    return text is None or not text.strip()


def integer(text: str | None, name: str, *, minimum: int = 1, maximum: int = MAX_ID) -> int | None:
    if blank(text):
        return None
    text = text.strip()
    if not _ASCII_DIGITS.fullmatch(text) or not minimum <= int(text) <= maximum:
        raise BadParameter(name, "integer", minimum=minimum, maximum=maximum)
    return int(text)


def row_id(text: str | None, name: str) -> int:
    """A database row's id (a handoff, a message event): required."""
    return required(integer(text, name), name)


def day(text: str | None, name: str) -> date | None:
    if blank(text):
        return None
    text = text.strip()
    try:
        parsed = date.fromisoformat(text) if _ISO_DATE.fullmatch(text) else None
    except ValueError:  # 2026-02-30
        parsed = None
    if parsed is None or not EARLIEST_DATE <= parsed <= LATEST_DATE:
        raise BadParameter(name, "date", earliest=EARLIEST_DATE, latest=LATEST_DATE)
    return parsed


def date_range(since: date | None, until: date | None, today: date) -> tuple[date | None, date | None]:
    """The range to filter on, at most ``MAX_RANGE_DAYS`` long.

    ``since`` alone runs to today; ``until`` alone has no start of its own, so
    it covers the ``MAX_RANGE_DAYS`` up to it, and says so by returning that start.
    """
    if since is None and until is None:
        return None, None
    if since is None:
        assert until is not None
        since = until - timedelta(days=MAX_RANGE_DAYS - 1)
    check_range(since, until, today)
    return since, until


def check_range(since: date | None, until: date | None, today: date) -> None:
    if since is None:
        return
    if until is not None and since > until:
        raise BadParameter("since", "date_order")
    if ((until or max(today, since)) - since).days + 1 > MAX_RANGE_DAYS:
        raise BadParameter("since", "date_span", days=MAX_RANGE_DAYS)


def text(value: str | None, name: str, *, maximum: int = MAX_TEXT_CHARS) -> str | None:
    """A value matched exactly (a bank, a tag, a conversation id): a control character makes it bad."""
    if blank(value):
        return None
    value = value.strip()
    if len(value) > maximum or any(_is_control(char) for char in value):
        raise BadParameter(name, "text", maximum=maximum)
    return value


def search(value: str | None, name: str = "q", *, maximum: int = MAX_TEXT_CHARS) -> str | None:
    """Words to search for: control characters become spaces, as they could only be typos."""
    if blank(value):
        return None
    cleaned = " ".join(without_controls(value, " ").split())
    if len(cleaned) > maximum:
        raise BadParameter(name, "text", maximum=maximum)
    return cleaned or None


def required(value: T | None, name: str) -> T:
    if value is None:
        raise BadParameter(name, "required")
    return value


def choice(value: str | None, name: str, allowed: Iterable[str]) -> str | None:
    if blank(value):
        return None
    value = value.strip()
    if value not in allowed:
        raise BadParameter(name, "choice")
    return value


def choices(values: Iterable[str], name: str, allowed: Iterable[str]) -> tuple[str, ...]:
    """Several values of one parameter (``status=open&status=closed``), in ``allowed``'s order."""
    allowed = tuple(allowed)
    given = {choice(value, name, allowed) for value in values} - {None}
    return tuple(value for value in allowed if value in given)


def case_id(value: str | None, name: str = "case_id") -> str | None:
    value = text(value, name)
    if value is not None and not CASE_ID.fullmatch(value):
        raise BadParameter(name, "case_id")
    return value.upper() if value else None


def without_controls(value: str, replacement: str = "", keep: str = "") -> str:
    """``value`` with each control character but those in ``keep`` replaced."""
    return "".join(replacement if _is_control(char) and char not in keep else char for char in value)


def _is_control(char: str) -> bool:
    # Cc (NUL, newlines), Cf (zero-width and direction marks), Cs, Co, Cn.
    return unicodedata.category(char)[0] == "C"
