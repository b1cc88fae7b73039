"""Checks on the facts a user gives, each returning a value or a reason code.

Reason codes name the response the bot uses to ask again
(``utter_invalid_<reason>`` in domain.yml).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Generic, TypeVar

from bot.domain.clock import today
from bot.domain.knowledge import resolve_bank
from bot.domain.normalise import card_last4_from, parse_amount, parse_date

T = TypeVar("T")

MAX_PLAUSIBLE_AMOUNT = 5_000_000
OLDEST_TRANSACTION = timedelta(days=3 * 365)
MAX_MERCHANT_LENGTH = 40
_MERCHANT_FILLER = re.compile(r"^(在|是|商户是|商家是|店名是|叫)|(刷的卡|刷的|消费的|买的|那家店|的店)$")
_HAS_NAME = re.compile(r"[\u4e00-\u9fffA-Za-z]")


@dataclass(frozen=True)
class Checked(Generic[T]):
    value: T | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def check_amount(raw: Any) -> Checked[float]:
    amount = (
        raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else parse_amount(str(raw or ""))
    )
    if amount is None:
        return Checked(error="amount")
    if amount <= 0:
        return Checked(error="amount_not_positive")
    if amount > MAX_PLAUSIBLE_AMOUNT:
        return Checked(error="amount_implausible")
    return Checked(value=float(amount))


def check_date(raw: Any, reference: date | None = None) -> Checked[date]:
    reference = reference or today()
    day = raw if isinstance(raw, date) else parse_date(str(raw or ""), reference)
    if day is None:
        return Checked(error="date")
    if day > reference:
        return Checked(error="date_future")
    if reference - day > OLDEST_TRANSACTION:
        return Checked(error="date_too_old")
    return Checked(value=day)


def check_bank(raw: Any) -> Checked[str]:
    text = str(raw or "").strip()
    bank = resolve_bank(text)
    if bank is not None:
        return Checked(value=bank.name)
    # Smaller banks (城商行, 农商行) are not in the list; keep a plausible name as typed.
    if "银行" in text and len(text) <= 20:
        return Checked(value=text)
    return Checked(error="bank")


def check_merchant(raw: Any) -> Checked[str]:
    text = _MERCHANT_FILLER.sub("", str(raw or "").strip()).strip(" ，。,.!！?？")
    if not text or len(text) > MAX_MERCHANT_LENGTH or not _HAS_NAME.search(text):
        return Checked(error="merchant")
    return Checked(value=text)


def check_card_last4(raw: Any) -> Checked[str]:
    last4 = card_last4_from(str(raw or ""))
    return Checked(value=last4) if last4 else Checked(error="card_last4")
