"""Does a message ask something, or only tell?

"重复扣款了怎么办" and "钱能退回来吗" ask; "我被重复扣款了" tells. An opener
that asks gets the short answer for its path before the form collects the
facts. Chinese marks questions with a closed set of words (question words,
sentence-final particles, A-not-A forms), so the test is grammatical, not a
list of topics.
"""

from __future__ import annotations

import re

from bot.domain.normalise import normalise_text

_QUESTION_WORDS = re.compile(
    r"怎么|怎样|怎么样|如何|咋|为什么|为啥|凭什么|哪里|哪儿|哪家|哪个|去哪|找谁|谁能|什么时候|多久|多长时间|几天"
    r"|能不能|能否|可不可以|可以不|是不是|会不会|要不要|该不该|有没有办法|有办法吗|是否|还能.{0,8}[吗么]"
    r"|\bhow\b|\bwhat\b|\bwhy\b|\bcan i\b|\bshould i\b",
    re.IGNORECASE,
)
# Question words used as indefinites in statements: "我什么都没买", "不知道谁刷的".
_NOT_ASKING = re.compile(r"什么都|什么也|谁都|谁也|不知道(?:谁|为什么|为啥|怎么|哪)|莫名其妙|不管怎么")
# A question mark anywhere, or a final 吗/么 ("能退么"; not the 么 of 什么, 怎么, 那么).
_QUESTION_ENDING = re.compile(r"[?？]|(?:吗|(?<![什怎那这多])么)$")
_TRAILING = re.compile(r"[\s!！。.~～\U0001F300-\U0001FAFF]+$")


def asks_question(text: str) -> bool:
    """True when the message asks something ("怎么退给他", "钱能要回来吗").

    >>> asks_question("重复扣款了怎么办"), asks_question("我被重复扣款了")
    (True, False)
    """
    cleaned = _TRAILING.sub("", normalise_text(text))
    if _QUESTION_ENDING.search(cleaned):
        return True
    without_indefinites = _NOT_ASKING.sub("", cleaned)
    return bool(_QUESTION_WORDS.search(without_indefinites))
