"""Input that is not a message to the assistant: markup, code, a bare URL, random characters.

The intent classifier gives every text some intent, sometimes with high
confidence: a line of pasted HTML was once read as ``report_failed_charge``
at 0.82. Such input is recognised here by its form rather than its words, and
the NLU component ``UnclearInputClassifier`` (``bot.rasa.nlu.rasa_components``)
gives it the intent ``unclear_input`` whatever the classifier said. The case
form ignores that intent, so such input cannot start, fill or change a case;
a merely uncertain answer (``nlu_fallback``, "建行" at 0.40) still fills the
form as before.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

from bot.domain.normalise import find_entities, normalise_text

UNCLEAR_INPUT_INTENT = "unclear_input"

# An opening, closing or self-closing tag, a comment, a doctype, an entity reference.
_MARKUP = re.compile(
    r"<\s*/?\s*[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?\s*>|<!--|<!\w|&(?:lt|gt|amp|quot|#\d+);", re.I
)
_URL = r"(?:https?://|ftp://|www\.)\S+"
_URLS_ONLY = re.compile(rf"{_URL}(?:\s+{_URL})*", re.I)
# Constructs that prose in any language does not contain.
_CODE = re.compile(
    r"['\"`]\s*;|;\s*--|\bdrop\s+table\b|\bunion\s+(?:all\s+)?select\b|\bselect\s+\*|\binsert\s+into\s+\w+"
    r"|'\s*or\s+'?1'?\s*=\s*'?1|\b(?:alert|eval|prompt|console\.log)\s*\(|\bdocument\.cookie\b|javascript\s*:"
    r"|\$\{[^}]*\}|\{\{[^}]*\}\}|<\?php|\brm\s+-rf\b|\bfunction\s*\w*\s*\(|\b(?:var|let|const)\s+\w+\s*="
    r"|\bdef\s+\w+\s*\(|#include\s*<",
    re.I,
)
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[A-Za-z]+")
_VOWELS = frozenset("aeiouy")
# Letters typed by running along a keyboard row rather than spelling a word.
_KEYBOARD_RUNS = ("qwer", "asdf", "sdfg", "dfgh", "fghj", "ghjk", "hjkl", "zxcv", "xcvb", "cvbn", "vbnm")
_MIN_NOISE_LENGTH = 5
_LONGEST_CONSONANT_RUN = 4
# "x7#kq2p" switches between letters, digits and symbols at every turn; "iPhone15" once.
_MAX_CLASS_SWITCHES = 3


def _looks_like_a_word(word: str) -> bool:
    lower = word.lower()
    if any(run in lower for run in _KEYBOARD_RUNS):
        return False
    if len(lower) < _MIN_NOISE_LENGTH:
        return True
    if not _VOWELS & set(lower):
        return False
    consonants = longest = 0
    for char in lower:
        consonants = 0 if char in _VOWELS else consonants + 1
        longest = max(longest, consonants)
    return longest <= _LONGEST_CONSONANT_RUN


def _class_switches(token: str) -> int:
    classes = ["a" if char.isalpha() else "9" if char.isdigit() else "." for char in token]
    return sum(1 for before, after in itertools.pairwise(classes) if before != after)


def _is_noise(text: str) -> bool:
    """Random characters: no Chinese, no fact we can read, and nothing that reads as a word."""
    compact = "".join(text.split())
    if len(compact) < _MIN_NOISE_LENGTH or _CJK.search(text) or find_entities(text):
        return False
    words = _WORD.findall(compact)
    if not words:
        # "!@#$%^&*" is noise; "1,299.00" is a number.
        return sum(1 for char in compact if not char.isalnum()) * 2 > len(compact)
    if any(_class_switches(token) > _MAX_CLASS_SWITCHES for token in text.split() if _WORD.search(token)):
        return True
    return not any(_looks_like_a_word(word) for word in words)


def _is_emoji_only(text: str) -> bool:
    """ "😭😭😭", "👍": pictures with no words, which carry no fact and no request we can act on.

    Symbols (So), their modifiers (Sk), variation selectors and joiners (Mn, Cf) only.
    """
    compact = "".join(text.split())
    return (
        bool(compact)
        and all(unicodedata.category(char) in ("So", "Sk", "Mn", "Cf") for char in compact)
        and any(unicodedata.category(char) == "So" for char in compact)
    )


def unclear_reason(text: str) -> str | None:
    """``markup``, ``code``, ``url`` or ``noise`` when ``text`` is not a message to us; else None.

    >>> unclear_reason("<img src=x onerror=alert(1)>"), unclear_reason("我被扣了两次")
    ('markup', None)
    """
    cleaned = normalise_text(text).strip()
    if not cleaned:
        return None
    if _MARKUP.search(cleaned):
        return "markup"
    if _URLS_ONLY.fullmatch(cleaned):
        return "url"
    if _CODE.search(cleaned) and not _CJK.search(cleaned):
        return "code"
    if _is_noise(cleaned):
        return "noise"
    if _is_emoji_only(cleaned):
        return "emoji"
    return None
