"""Which amount is which: what was charged, what it should have been, how much too much.

"本来300刷成了3000" names two amounts, "多扣了500" names a difference, and
"扣了两笔，每笔199" a duplicate. The form, the corrections and the case need
to know which is which (the case keeps ``amount`` as charged and
``correct_amount``), so each amount the entity rules find is given a role
from the words next to it, and the message as a whole tells a duplicate
charge from a wrong amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.normalise import amount_mentions

# A clause ends at punctuation: a cue in one clause says nothing about the next.
_CLAUSE_BREAK = re.compile(r"[，。,;；!！?？\n]")
# Up to a few characters between a cue and its amount ("应该只有300", "本来要付300").
_GAP = r"[^0-9]{0,3}"
_CORRECT_BEFORE = re.compile(
    r"(?:应该|应当|本应|应付|应收|应为|本来|原本|原来|其实|实际上?|实付|正确的?(?:金额)?|只(?:消费|花|买|付)了?)"
    rf"{_GAP}$"
)
# "3000刷成了30000": the first amount is what was meant.
_CORRECT_AFTER = re.compile(r"\s*(?:元|块钱?)?\s*(?:的东西|的消费)?\s*(?:被|给)?(?:刷|输|打|按|扣|写|收)成")
_OVERCHARGE_BEFORE = re.compile(
    r"多(?:扣|收|刷|付|算|划|出)?了?(?:我|我的|您|他|她|顾客|客人|客户)?\s*[:：]?\s*$"
)
_CHARGED_BEFORE = re.compile(
    r"(?:扣|刷|收|付|划|显示|账单|扣款|消费|变)(?:了|成了?|走了?|掉了?|的是)?(?:我)?\s*[:：]?\s*(?:是)?\s*$"
)
_DUPLICATE = re.compile(
    r"两次|两笔|两遍|两回|两单|两下|重复|刷重|扣重|又刷|再刷|双份|一模一样|一样的两|double"
    r"|多(?:扣|刷|收)了?一(?:笔|次|单|遍|下)",
    re.IGNORECASE,
)
_WRONG_AMOUNT = re.compile(
    r"金额.{0,8}(?:错|不对|不一样|有误)|(?:刷|输|打|按|扣|算)错(?:了)?(?:金额|钱)|(?:多|少)(?:输|打|按)"
    r"|小数点|多(?:扣|输|打|按|刷)?了?一?个[0零]|(?:刷|输|打|按|扣|写)成了?|金额.{0,4}(?:多|少|高|大)了"
)
# "被多扣了300", "多收了钱": more than the price, a wrong amount unless the message says
# the charge was repeated ("重复扣款了，多扣了3000"). "多扣了一笔" is a duplicate.
_OVERCHARGED = re.compile(
    r"多(?:扣|收|刷|算)(?!了?(?:我|我的|您|顾客|客人|客户)?[一两二三几]?(?:笔|次|单|遍|下|回))"
)

DUPLICATE = "duplicate"
WRONG_AMOUNT = "wrong_amount"


@dataclass(frozen=True)
class AmountRoles:
    charged: float | None = None
    correct: float | None = None
    overcharge: float | None = None
    issue: str | None = None  # DUPLICATE, WRONG_AMOUNT or unknown

    @property
    def any(self) -> bool:
        return any(value is not None for value in (self.charged, self.correct, self.overcharge))


def _clause_before(text: str, start: int) -> str:
    breaks = list(_CLAUSE_BREAK.finditer(text, 0, start))
    return text[breaks[-1].end() if breaks else 0 : start]


def _issue(text: str, names_a_correct_amount: bool) -> str | None:
    if names_a_correct_amount or _WRONG_AMOUNT.search(text):
        return WRONG_AMOUNT
    if _DUPLICATE.search(text):
        return DUPLICATE
    if _OVERCHARGED.search(text):
        return WRONG_AMOUNT
    return None


def _amounts_by_role(text: str) -> tuple[list[float], list[float], list[float]]:
    """The amounts in ``text`` as (charged, correct, overcharge) lists, in the order they appear.

    An amount with a charging verb before it ("扣了", "刷成") is preferred as the
    charged one over an amount with no cue at all.
    """
    charged_cued: list[float] = []
    plain: list[float] = []
    correct: list[float] = []
    overcharge: list[float] = []
    for match in amount_mentions(text):
        value = float(match.value)
        before = _clause_before(text, match.start)
        if _CORRECT_BEFORE.search(before) or _CORRECT_AFTER.match(text, match.end):
            correct.append(value)
        elif _OVERCHARGE_BEFORE.search(before):
            overcharge.append(value)
        elif _CHARGED_BEFORE.search(before):
            charged_cued.append(value)
        else:
            plain.append(value)
    return charged_cued or plain, correct, overcharge


def amount_issue(text: str) -> str | None:
    """DUPLICATE ("扣了两次"), WRONG_AMOUNT ("多输了一个0") or None when the text does not say."""
    return _issue(text, bool(_amounts_by_role(text)[1]))


def amount_roles(text: str) -> AmountRoles:
    """The charged, correct and overcharged amounts ``text`` names, and the kind of error.

    The last amount of a role wins: "不是500，是5000" corrects itself.

    >>> amount_roles("本来300刷成了3000")
    AmountRoles(charged=3000.0, correct=300.0, overcharge=None, issue='wrong_amount')
    """
    charged, correct, overcharge = _amounts_by_role(text)
    return AmountRoles(
        charged=charged[-1] if charged else None,
        correct=correct[-1] if correct else None,
        overcharge=overcharge[-1] if overcharge else None,
        issue=_issue(text, bool(correct)),
    )


@dataclass(frozen=True)
class AmountAnswer:
    """What an answer about amounts settles, given what the conversation already said."""

    names_an_amount: bool
    charged: float | None
    correct: float | None
    overcharge: float | None
    issue: str | None


def _difference(charged: float | None, overcharge: float | None) -> float | None:
    if charged is None or overcharge is None or overcharge >= charged:
        return None
    return round(charged - overcharge, 2)


def read_amount_answer(text: str, issue: str | None = None, overcharge: float | None = None) -> AmountAnswer:
    """Read the charged amount from ``text``; ``issue`` and ``overcharge`` are what earlier messages said.

    On a duplicate "多扣了3000" is the extra transaction itself; on a wrong
    amount (which "多扣了" alone says) it is the difference, and the correct
    amount follows once the charged one is known.
    """
    roles = amount_roles(text)
    issue = roles.issue or issue
    overcharge = roles.overcharge if roles.overcharge is not None else overcharge
    charged = roles.charged
    if charged is None and roles.overcharge is not None and issue != WRONG_AMOUNT:
        charged, overcharge = roles.overcharge, None
    correct = roles.correct if roles.correct is not None else _difference(charged, overcharge)
    return AmountAnswer(roles.any, charged, correct, overcharge, issue)


def read_correct_amount_answer(text: str, charged: float | None = None) -> tuple[float | None, float | None]:
    """(correct, charged) from the answer to "what should it have been"; a bare amount is the correct one."""
    roles = amount_roles(text)
    if roles.correct is not None:
        return roles.correct, roles.charged
    if roles.overcharge is not None:
        return _difference(roles.charged or charged, roles.overcharge), roles.charged
    return roles.charged, None
