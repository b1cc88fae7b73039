"""A second look at messages the intent classifier was unsure of (``nlu_fallback``).

"日期也不对，是上周六", "能不能让真人帮我弄" and "店里查过了说没收到钱，下一步" are
plain requests, yet the classifier may spread its confidence thin over several
intents and fall below the fallback threshold. Before the bot answers "没太明白",
a few unambiguous marks in the text are read: a request for a person, a step
reported done with the next one asked, or a fact (a date, an amount, a bank, a
card's last digits), which is an answer or a correction. Anything else stays a
fallback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.domain.progress import reports_step_done

FALLBACK_INTENT = "nlu_fallback"
# The facts the bot can record from any message (a shop's name is not read here:
# too many sentences contain a noun that looks like one).
RECORDABLE_FACTS = frozenset({"date", "amount", "bank", "card_last4"})
_ASKS_FOR_A_PERSON = re.compile(r"真人|人工|转人工|客服人员|工作人员|活人")


def rescued_intent(text: str, entities: Iterable[str]) -> str | None:
    """The intent a fallback message plainly has, or None to leave it a fallback.

    >>> rescued_intent("日期也不对，是上周六", ["date"]), rescued_intent("嗯……这个", [])
    ('inform', None)
    """
    if _ASKS_FOR_A_PERSON.search(text):
        return "request_human"
    if reports_step_done(text):
        return "affirm"
    if RECORDABLE_FACTS & set(entities):
        return "inform"
    return None
