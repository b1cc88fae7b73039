"""Consent to keep personal facts (PIPL Art. 17, 28–30): the notice's version, the answer
to it, and what the notice says about facts given before it.

The notice text lives in data/knowledge/privacy.yml; a case records the version agreed to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

from bot.domain import knowledge
from bot.domain.clock import CHINA, now

# The slot value while the user has not agreed; a given consent is the notice's version.
DECLINED = "declined"
# What a yes button or a yes read by the classifier puts in the slot before validation.
AGREED = "agreed"


def notice_version() -> str:
    return knowledge.privacy_notice()["version"]


def is_given(consent: str | None) -> bool:
    """Whether the slot holds a consent: a notice version (this one or an earlier one)."""
    return bool(consent) and consent not in (DECLINED, AGREED)


@lru_cache(maxsize=1)
def _typed_answers() -> tuple[re.Pattern[str], re.Pattern[str]]:
    notice = knowledge.privacy_notice()
    return re.compile(notice["typed_no"]), re.compile(notice["typed_yes"])


def read_typed_answer(text: str) -> str | None:
    """DECLINED or AGREED for a typed reply the classifier did not read as yes or no
    ("同意" reads as merchant_agreed); None when the reply is neither."""
    typed_no, typed_yes = _typed_answers()
    if typed_no.search(text):
        return DECLINED
    if typed_yes.search(text):
        return AGREED
    return None


def checked_answer(value: object) -> str | None:
    """The slot's value once validated: the notice version for a yes, DECLINED for a no."""
    if value == AGREED:
        return notice_version()
    if value == DECLINED or (isinstance(value, str) and is_given(value)):
        return str(value)
    return None


def received_note(slots_given: Iterable[str]) -> str:
    """What the notice says about facts already given: their kinds, never their values."""
    names = knowledge.privacy_notice()["fact_names"]
    given = [names[slot] for slot in names if slot in set(slots_given)]
    if not given:
        return ""
    return knowledge.privacy_notice()["received_note"].format(facts="、".join(given))


def consent_time(timestamp: float | None) -> str:
    """The ISO time (China Standard Time) of the message that gave consent (now, when the
    event carries no time)."""
    when = datetime.fromtimestamp(timestamp, CHINA) if timestamp else now()
    return when.isoformat(timespec="seconds")
