"""What a picture's reading means for the case: the lines shown for confirmation, the facts
it gives once confirmed, and whether it is the second slip of a duplicate charge."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from bot.domain import knowledge
from bot.domain.business_days import format_date
from bot.domain.checklist import format_amount
from bot.domain.receipts import ReceiptReading, duplicate_of
from bot.domain.validation import check_amount, check_date, check_merchant


def _shown(name: str, value: str) -> str:
    if name == "amount":
        return format_amount(float(Decimal(value))) or value
    if name == "date":
        return format_date(date.fromisoformat(value))
    if name == "card_type":
        return knowledge.receipts()["card_types"].get(value, value)
    return value


def describe(reading: ReceiptReading) -> str:
    """One line per field read, in the order of receipts.yml ("金额：128.50元")."""
    read = reading.facts()
    labels = knowledge.receipts()["fields"]
    return "\n".join(f"{label}：{_shown(name, read[name])}" for name, label in labels.items() if name in read)


def kind_name(reading: ReceiptReading) -> str:
    return knowledge.receipts()["kinds"].get(reading.kind, knowledge.receipts()["kinds"]["unknown"])


def records_a_refund(reading: ReceiptReading) -> bool:
    """A 撤销 or 退货 slip: money going back, so its amount is not what was charged."""
    return reading.transaction_type in knowledge.receipts()["refund_types"]


def case_facts(reading: ReceiptReading, reference: date | None = None) -> dict[str, Any]:
    """The case facts a confirmed reading gives, by slot name, each checked as a typed one is."""
    slots: dict[str, Any] = {}
    if reading.amount is not None and not records_a_refund(reading):
        amount = check_amount(float(reading.amount))
        if amount.ok:
            slots["amount"] = amount.value
    if reading.date is not None:
        day = check_date(reading.date, reference)
        if day.ok:
            slots["date"] = day.value.isoformat()
    if reading.merchant_name:
        merchant = check_merchant(reading.merchant_name)
        if merchant.ok:
            slots["merchant"] = merchant.value
    if reading.card_last4:
        slots["card_last4"] = reading.card_last4
    if reading.card_type in ("credit", "debit"):
        slots["card_type"] = reading.card_type
    return slots


def duplicated_by(reading: ReceiptReading, earlier: Iterable[ReceiptReading]) -> ReceiptReading | None:
    """The earlier confirmed charge this one repeats (same amount, within minutes), if any."""
    return next((other for other in earlier if duplicate_of(other, reading)), None)
