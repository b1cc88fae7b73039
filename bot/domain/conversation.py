"""Answers to questions asked around the case form, for the user's path and the fact asked.

The texts live in ``data/knowledge/conversation.yml``; this module only picks
one. A user who is asked for the amount and replies "为什么要这个" gets the
reason the amount matters on their path; one who asks "现在该怎么办" gets
the first move of their path (on the fraud path: freeze the card, with the
bank's hotline when it is known).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from bot.domain import knowledge

# Slot names of the form → the fact each one fills in ``bot.domain.cases.Facts``.
FACT_FOR_SLOT = {
    "bank": "bank",
    "amount": "amount",
    "correct_amount": "correct_amount",
    "date": "txn_date",
    "merchant": "merchant",
}


def answer_first(kind: str) -> str | None:
    """The two- or three-line answer for a path whose opener asked how; None for the fraud path."""
    return knowledge.conversation()["answer_first"].get(kind)


def _lookup(entry: dict[str, Any], kind: str | None, slot: str | None) -> str:
    for_kind = entry.get("kinds", {}).get(kind, {}) if kind else {}
    candidates = (
        for_kind.get("slots", {}).get(slot) if slot else None,
        for_kind.get("default"),
        entry.get("slots", {}).get(slot) if slot else None,
        entry["default"],
    )
    return next(text for text in candidates if text)


def contextual_answer(intent: str, kind: str | None, slot: str | None, hotline: str) -> str:
    """The answer to ``intent`` for this path (``kind``) while ``slot`` is being asked, if any."""
    return _lookup(knowledge.conversation()["in_form"][intent], kind, slot).format(hotline=hotline)


def contextual_intents() -> frozenset[str]:
    return frozenset(knowledge.conversation()["in_form"])


# What a message must say before an open case is offered another kind: a failed
# terminal, or a charge the cardholder did not make. "超市又扣了我一次" is neither.
_KIND_WORDS = {
    "failed_charge": re.compile(
        r"失败|超时|不成功|没成功|未成功|没付成|没刷成|出错|报错|错误|没反应|没出小票|没打出"
    ),
    "unauthorized": re.compile(
        r"不是我|非本人|没刷过|没去过|没用过|没消费|没有消费|盗刷|被盗|陌生|不认识|被人刷|别人刷|没出门"
        r"|卡在.{0,6}(?:身上|钱包|家)"
    ),
}


def names_its_kind(kind: str, text: str) -> bool:
    """Whether ``text`` says what makes a problem this kind (always, for kinds without such words)."""
    words = _KIND_WORDS.get(kind)
    return words is None or bool(words.search(text))


def speaks_as_merchant(text: str) -> bool:
    """Whether the message opens with its writer saying they are the merchant (``merchant_speaker``)."""
    return any(opening.search(text.strip()) for opening in _merchant_openings())


@lru_cache(maxsize=1)
def _merchant_openings() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in knowledge.conversation()["merchant_speaker"])


def command_in(text: str) -> str | None:
    """The command a message gives (``commands`` in conversation.yml): stop_follow_ups,
    delete_my_data, export_my_data, confirm_erase, cancel_erase; None for anything else."""
    return next((intent for intent, pattern in _commands() if pattern.search(text)), None)


@lru_cache(maxsize=1)
def _commands() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple(
        (intent, re.compile(pattern)) for intent, pattern in knowledge.conversation()["commands"].items()
    )
