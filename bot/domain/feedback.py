"""Satisfaction after a case is resolved: a rating (满意 / 一般 / 不满意) and an optional comment.

The buttons give scores 5, 3 and 1, so averages read on the familiar 1–5
scale; a typed rating ("满意", "差评", "4分") is read from its words. Each
score has one of three labels, which the dashboard counts.

    >>> rating_from_text("不太满意"), rating_from_text("打个4分吧"), rating_from_text("下一步")
    (Rating(score=1, label='dissatisfied'), Rating(score=4, label='satisfied'), None)
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from bot.domain.masking import mask_secrets

LABELS = ("satisfied", "neutral", "dissatisfied")
BUTTON_SCORES = {"satisfied": 5, "neutral": 3, "dissatisfied": 1}
# A comment is one line: longer text is cut (after masking, so no secret is cut in half and left showing).
MAX_COMMENT_CHARS = 200

# Order matters: "不满意" before "满意", "不太好" before "好评".
_WORDS = (
    (re.compile(r"不满意|不太满意|差评|很差|太差|不好|失望|没用|没啥帮助|没帮助"), "dissatisfied"),
    (re.compile(r"一般|还行|还可以|凑合|马马虎虎|中规中矩|过得去"), "neutral"),
    (re.compile(r"满意|好评|满分|点赞|很好|挺好|不错|很棒"), "satisfied"),
)
_SCORE = re.compile(r"([1-5一二三四五两])\s*(?:分|星)")
_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}


@dataclass(frozen=True)
class Rating:
    score: int
    label: str


@dataclass(frozen=True)
class Feedback:
    case_id: str
    score: int
    label: str
    comment: str | None
    channel: str
    created_at: datetime


def label_for(score: int) -> str:
    """4–5 satisfied, 3 neutral, 1–2 dissatisfied."""
    if score >= 4:
        return "satisfied"
    return "neutral" if score == 3 else "dissatisfied"


def rating(score: object) -> Rating | None:
    """A button's score (5, 3 or 1; any whole 1–5 is taken, 5.0 too); None for anything else."""
    try:
        value = float(str(score))
    except ValueError:
        return None
    return Rating(int(value), label_for(int(value))) if value.is_integer() and 1 <= value <= 5 else None


def rating_from_text(text: str) -> Rating | None:
    """A typed rating: a score ("4分", "五星") wins over words; words give 5, 3 or 1."""
    scored = _SCORE.search(text)
    if scored:
        digit = scored.group(1)
        return rating(_DIGITS.get(digit, digit))
    for words, label in _WORDS:
        if words.search(text):
            return Rating(BUTTON_SCORES[label], label)
    return None


def clean_comment(text: str) -> str | None:
    """The comment as stored: secrets masked, one line, at most ``MAX_COMMENT_CHARS``; None if empty.

    >>> clean_comment("到账挺快\\n验证码 123456 我没给任何人")
    '到账挺快 验证码 [已隐藏] 我没给任何人'
    """
    masked = mask_secrets(text).text
    line = " ".join("".join(" " if unicodedata.category(char)[0] == "C" else char for char in masked).split())
    return line[:MAX_COMMENT_CHARS] or None
