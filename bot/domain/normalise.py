"""Find and normalise entities in raw user text.

The NLU entity component, the form validators and the evaluation all call
``find_entities`` or one of the ``parse_*`` helpers, so "两千五", "¥2,500.00"
and "2.5k" are the same amount everywhere.

Matching runs on ``normalise_text`` output (full-width folded, spam-style
pinyin removed) while offsets always point into the caller's original text, so
a Rasa entity span covers exactly what the user typed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

import cn2an

from bot.domain import clock, knowledge

EntityValue = str | float | int


@dataclass(frozen=True)
class EntityMatch:
    entity: str
    start: int
    end: int
    text: str
    value: EntityValue


# --- text normalisation ----------------------------------------------------

# SEO pages spell a character's pinyin next to it ("刷ka卡", "信xi息") to dodge
# keyword filters. Only these characters are undone: a closed list cannot turn
# an English word, "POS", "APP" or a bank code such as ICBC into nothing.
_PINYIN: dict[str, str] = {
    "ka": "卡",
    "xin": "信",
    "xi": "息",
    "shen": "身",
    "fen": "份",
    "zheng": "证",
    "shua": "刷",
    "kuan": "款",
    "qian": "钱",
    "yin": "银",
    "hang": "行",
    "xing": "行",
    "zhang": "账帐",
    "hu": "户",
    "hao": "号",
    "ma": "码",
    "mi": "密",
    "tui": "退",
    "kou": "扣",
    "dai": "贷",
    "tao": "套",
    "xian": "现",
    "wei": "微",
    "zhi": "支",
    "fu": "付",
    "jie": "借",
    "yong": "用",
    "jin": "金",
    "shang": "商",
    "jia": "家",
    "gua": "挂",
    "pian": "骗",
    "dao": "盗",
    "tou": "投",
    "su": "诉",
}
_LATIN_RUN = re.compile(r"[A-Za-z]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _spells_neighbour(text: str, start: int, end: int) -> bool:
    spelled = _PINYIN.get(text[start:end].lower())
    if spelled is None:
        return False
    before = text[start - 1] if start > 0 else ""
    after = text[end : end + 2]
    if before and before in spelled:
        return True
    if after[:1] and after[0] in spelled:
        return True
    # "身份XI信息": the spam puts the pinyin one character early.
    return len(after) == 2 and bool(_CJK.match(after[0])) and after[1] in spelled


def normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """``normalise_text(text)`` and, for each of its characters, the index it came from in ``text``."""
    chars: list[str] = []
    origin: list[int] = []
    # Character by character, so every output character can be traced back.
    for index, char in enumerate(text):
        for folded in unicodedata.normalize("NFKC", char):
            chars.append(folded)
            origin.append(index)
    folded_text = "".join(chars)
    keep = [True] * len(folded_text)
    for match in _LATIN_RUN.finditer(folded_text):
        if _spells_neighbour(folded_text, match.start(), match.end()):
            keep[match.start() : match.end()] = [False] * (match.end() - match.start())
    return (
        "".join(char for char, kept in zip(chars, keep, strict=True) if kept),
        [index for index, kept in zip(origin, keep, strict=True) if kept],
    )


def normalise_text(text: str) -> str:
    """Full-width to half-width (NFKC) and spam pinyin removed: "信用ka卡" -> "信用卡"."""
    return normalise_with_offsets(text)[0]


# --- numbers ----------------------------------------------------------------

_CN_DIGITS = "零〇一二两三四五六七八九"
_CN_NUMERAL = f"{_CN_DIGITS}十百千万亿"
_MULTIPLIERS = {"万": 10_000, "w": 10_000, "千": 1_000, "k": 1_000}


def _chinese_number(text: str) -> Decimal | None:
    try:
        return Decimal(str(cn2an.cn2an(text, "normal")))
    except ValueError:
        return None


def _small_number(text: str) -> int:
    """A numeral the patterns already restrict to a well-formed 1-31, Arabic or Chinese."""
    return int(text) if text.isascii() else int(cn2an.cn2an(text, "normal"))


def _as_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# --- amounts ----------------------------------------------------------------

_AMOUNT = re.compile(
    r"(?P<sign>(?:¥|(?<![a-z])rmb|(?<![a-z])cny|人民币)\s*)?"
    r"(?:(?P<arabic>(?<![0-9.])(?<![0-9],)(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,12})(?:\.[0-9]+)?)"
    r"(?P<mult>万|千|k(?![a-z])|w(?![a-z]))?"
    rf"|(?<![{_CN_NUMERAL}])(?P<chinese>[{_CN_DIGITS}十][{_CN_NUMERAL}]{{0,11}}"
    rf"(?:点[{_CN_DIGITS}]{{1,4}})?)(?![{_CN_NUMERAL}]))"
    # "两块五" is 2.5: a single digit after 块/元 counts the 角.
    rf"(?:\s?(?P<yuan>块|元)(?P<jiao>[1-9一二三四五六七八九])[毛角]?(?![0-9{_CN_NUMERAL}号日月年点.])"
    r"|\s?(?P<unit>块钱|块|元|圆|rmb(?![a-z])|cny(?![a-z])|人民币))?",
    re.IGNORECASE,
)
# Verbs and nouns after which a bare number is money: "多扣了3000", "金额：两千五",
# "每笔199", and the words around a wrong amount: "本来300", "刷成了3000", "应该是880".
_MONEY_WORDS = (
    r"金额|扣款|扣费|消费|支付|付款|退款|转账|合计|一共|总共|共计|扣|刷|付|花|收|转|退|每笔|每次|各"
    r"|(?:刷|输|打|按|扣|写)成"
)
# "本来300", "应该是880" name a right amount, but only once money is the subject: "密码…正确的
# 应该是 582036" is a PIN, so these words alone do not make a number money for masking.
_ROLE_WORDS = r"本来|原本|应该|应当|实际|其实"
# "扣了两次，一次80": one of the charges just counted, so the number is its amount.
_COUNT_WORDS = r"(?:一|每)(?:笔|次|单)"
_CUE_TAIL = r"(?:了|的)?(?:一笔|一次|一单)?(?:是|为)?[\s:]*$"
_STRONG_CUE = re.compile(rf"(?:{_MONEY_WORDS}|{_ROLE_WORDS}|{_COUNT_WORDS}){_CUE_TAIL}")
_MONEY_CUE = re.compile(rf"(?:{_MONEY_WORDS}){_CUE_TAIL}")
# "300刷成了3000": the number before a mistyped entry is money too.
_WRONG_ENTRY_AFTER = re.compile(r"\s*(?:元|块)?\s*(?:被|给)?(?:刷|输|打|按|扣|写)成")
# "88被扣了两次", "699刷了两遍": a number the charge happened to is money, cue or not.
_CHARGED_AFTER = re.compile(
    r"\s*(?:(?:被|给)(?:人|商户|商家|店家)?(?:重复|多)?(?:扣|刷|收|划)|(?:重复|多|又)?(?:扣|刷|划)了)"
)
# "是3000" is money, but "尾号是1234" or "电话是..." is not.
_WEAK_CUE = re.compile(r"(?:是|为)[\s:]*$")
_ID_WORDS = re.compile(r"号|码|电话|手机|编号|位|时间|日期|id", re.IGNORECASE)
# A bare number followed by one of these counts something other than money.
_NOT_MONEY_AFTER = re.compile(r"\s*[次笔天日号月年个张位条台家小分秒周岁人件期倍点多%]|[A-Za-z]|[.\-/:][0-9]")
_MAX_BARE_DIGITS = 8


@lru_cache(maxsize=1)
def _hotlines() -> frozenset[str]:
    return frozenset({*(bank.hotline for bank in knowledge.banks()), knowledge.unionpay()["hotline"]})


def _amount_value(match: re.Match[str]) -> Decimal | None:
    if match["arabic"]:
        value = Decimal(match["arabic"].replace(",", ""))
        if match["mult"]:
            value *= _MULTIPLIERS[match["mult"].lower()]
    else:
        parsed = _chinese_number(match["chinese"])
        if parsed is None:
            return None
        value = parsed
    if match["jiao"]:
        value += Decimal(_small_number(match["jiao"])) / 10
    return value


def _cue_strength(text: str, start: int) -> int:
    """2 after a money verb or 金额, 1 after a plain 是/为, 0 without any cue."""
    window = text[max(0, start - 12) : start]
    if _STRONG_CUE.search(window):
        return 2
    weak = _WEAK_CUE.search(window)
    if weak and not _ID_WORDS.search(window[max(0, weak.start() - 6) : weak.start()]):
        return 1
    return 0


def money_cued(text: str, start: int) -> bool:
    """Whether the number at ``start`` follows a money verb or 金额: "多扣了3000", "金额：3000"."""
    return bool(_MONEY_CUE.search(text[max(0, start - 12) : start]))


def _bare_number_is_money(text: str, match: re.Match[str]) -> bool:
    if _NOT_MONEY_AFTER.match(text, match.end()):
        return False
    if match["chinese"]:
        # Without a unit, a lone "一" is an article ("是一笔"), not one yuan.
        return any(char in match["chinese"] for char in "十百千万亿")
    integer = match["arabic"].split(".")[0].replace(",", "")
    return (
        len(integer) <= _MAX_BARE_DIGITS
        and not (len(integer) > 1 and integer.startswith("0"))
        and integer not in _hotlines()
    )


class _Candidate(NamedTuple):
    priority: int
    start: int
    end: int
    entity: str
    value: EntityValue


# Lower wins an overlap: an explicit id or card tail beats a number that merely
# looks like money, and "¥11.20" is money while a bare "11.20" is a date.
_PRIORITY = {
    "case_id": 0,
    "card_last4": 1,
    "amount": 2,
    "date": 3,
    "bank": 4,
    "card_type": 5,
    "weak_amount": 6,
}


def _amounts(text: str) -> Iterator[_Candidate]:
    for match in _AMOUNT.finditer(text):
        value = _amount_value(match)
        if value is None:
            continue
        if match["sign"] or match["unit"] or match["yuan"] or match["mult"]:
            priority = _PRIORITY["amount"]
        else:
            charged = _WRONG_ENTRY_AFTER.match(text, match.end()) or _CHARGED_AFTER.match(text, match.end())
            strength = 2 if charged else _cue_strength(text, match.start())
            if strength == 0 or not _bare_number_is_money(text, match):
                continue
            priority = _PRIORITY["amount"] if strength == 2 else _PRIORITY["weak_amount"]
        yield _Candidate(priority, match.start(), match.end(), "amount", _as_number(value))


# --- dates ------------------------------------------------------------------

_RELATIVE_DAYS = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "大前天": 3}
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAYS.update({str(day + 1): day for day in range(7)})

_RELATIVE = re.compile("|".join(sorted(_RELATIVE_DAYS, key=len, reverse=True)))
_WEEKDAY = re.compile(r"(?P<week>上上|上|这|本)?个?(?:周|星期|礼拜)(?P<day>[一二三四五六日天1-7])(?![0-9])")
_CN_MONTH = "十[一二]?|[一二三四五六七八九]"
_CN_DAY = "[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九]"
_MONTH_DAY = re.compile(
    r"(?<![0-9])(?:(?P<year>[0-9]{4})\s*年\s*)?"
    rf"(?P<month>[0-9]{{1,2}}|{_CN_MONTH})\s*月\s*"
    rf"(?P<day>[0-9]{{1,2}}(?![0-9])|{_CN_DAY})\s*(?:号|日)?"
)
_ISO = re.compile(r"(?<![0-9])(?P<year>[0-9]{4})[-/.](?P<month>[0-9]{1,2})[-/.](?P<day>[0-9]{1,2})(?![0-9])")
_SHORT = re.compile(
    r"(?<![0-9A-Za-z.\-/])(?P<month>[0-9]{1,2})[./](?P<day>[0-9]{1,2})(?![0-9]|[./-][0-9]|\s*[万千kKwW%])"
)
# "20号" alone; not "1号线" or "3号楼".
_DAY_ONLY = re.compile(r"(?<![0-9月])(?P<day>[0-9]{1,2})\s*(?:号|日)(?![线楼门床房院桌位])")
# "每周一" and "一周一次" repeat; they name no single day.
_NOT_A_WEEKDAY_BEFORE = "每一两几半"


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _recent_month_day(month: int, day: int, today: date) -> date | None:
    """The latest valid month/day on or before ``today``: a date still to come means last year."""
    for year in (today.year, today.year - 1):
        candidate = _safe_date(year, month, day)
        if candidate is not None and candidate <= today:
            return candidate
    return None


def _recent_day_of_month(day: int, today: date) -> date | None:
    year, month = today.year, today.month
    for _ in range(12):
        candidate = _safe_date(year, month, day)
        if candidate is not None and candidate <= today:
            return candidate
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return None


def _resolve_relative(match: re.Match[str], _: str, today: date) -> date | None:
    return today - timedelta(days=_RELATIVE_DAYS[match.group()])


def _resolve_weekday(match: re.Match[str], text: str, today: date) -> date | None:
    weekday = _WEEKDAYS[match["day"]]
    week = match["week"] or ""
    if week.startswith("上"):
        monday = today - timedelta(days=today.weekday() + 7 * len(week))
        return monday + timedelta(days=weekday)
    if not week and match.start() > 0 and text[match.start() - 1] in _NOT_A_WEEKDAY_BEFORE:
        return None
    return today - timedelta(days=(today.weekday() - weekday) % 7)


def _resolve_month_day(match: re.Match[str], _: str, today: date) -> date | None:
    month, day = _small_number(match["month"]), _small_number(match["day"])
    if match["year"]:
        return _safe_date(int(match["year"]), month, day)
    return _recent_month_day(month, day, today)


def _resolve_short(match: re.Match[str], _: str, today: date) -> date | None:
    return _recent_month_day(int(match["month"]), int(match["day"]), today)


def _resolve_day_only(match: re.Match[str], _: str, today: date) -> date | None:
    return _recent_day_of_month(int(match["day"]), today)


_DateResolver = Callable[[re.Match[str], str, date], date | None]
_DATE_RULES: tuple[tuple[re.Pattern[str], _DateResolver], ...] = (
    (_RELATIVE, _resolve_relative),
    (_WEEKDAY, _resolve_weekday),
    (_ISO, _resolve_month_day),
    (_MONTH_DAY, _resolve_month_day),
    (_SHORT, _resolve_short),
    (_DAY_ONLY, _resolve_day_only),
)


def _dates(text: str, today: date) -> Iterator[_Candidate]:
    for pattern, resolve in _DATE_RULES:
        for match in pattern.finditer(text):
            resolved = resolve(match, text, today)
            if resolved is not None:
                yield _Candidate(_PRIORITY["date"], match.start(), match.end(), "date", resolved.isoformat())


# --- banks, cards, case ids ---------------------------------------------------


@lru_cache(maxsize=1)
def _bank_pattern() -> re.Pattern[str]:
    # ASCII codes only as whole words: "abc" in "abcd" is no bank.
    alternatives = [
        rf"(?<![A-Za-z0-9]){re.escape(alias)}(?![A-Za-z0-9])" if alias.isascii() else re.escape(alias)
        for alias in knowledge.bank_aliases()
    ]
    return re.compile("|".join(alternatives), re.IGNORECASE)


# After an alias that is also an ordinary word, what makes it a bank: 招商的卡, 平安信用卡, 工商App.
_BANK_CONTEXT_AFTER = re.compile(
    r"\s*的?\s*(?:银行|卡|信用卡|储蓄卡|借记卡|贷记卡|app|客服|电话|热线|号码|人工|官方|网点|柜台|手机银行|网银"
    r"|账户|帐户|账单|尾号|短信|9[0-9]{4})",
    re.IGNORECASE,
)
# A short answer that names the bank and perhaps other facts: "工商的", "是招商，尾号1234".
_ANSWER_BEFORE_BANK = re.compile(
    r"[\s,，。、]*(?:我是|我用的是?|用的是?|就是|是|卡是|银行是|发卡行是|开户行是)?\s*"
)
_ANSWER_AFTER_BANK = re.compile(r"(?:[\s的吧呀啊呢,，。.!！、]|尾号|尾数|后四位|卡)*")
# A message about a card payment or about reaching a bank, where a bank is to be expected.
_BANK_TOPIC = re.compile(
    r"刷|扣|卡|付款|支付|消费|账单|交易|转账|到账|退款|客服|电话|热线|号码|人工|联系|网点|柜台|冻结|挂失"
)


def _inside_ordinary_phrase(text: str, match: re.Match[str], phrases: tuple[str, ...]) -> bool:
    for phrase in phrases:
        offset = phrase.find(match.group())
        start = match.start() - offset
        if offset >= 0 and start >= 0 and text.startswith(phrase, start):
            return True
    return False


def _bank_in_context(text: str, match: re.Match[str], facts_blanked: str) -> bool:
    """Whether an alias that is also an ordinary word (工商, 招商, 平安) names a bank here.

    ``facts_blanked`` is ``text`` with the other facts (amounts, dates, card
    tails) blanked out, so "招商，尾号1234" is still a short answer.
    """
    phrases = knowledge.ordinary_word_aliases().get(match.group().casefold())
    if phrases is None or _BANK_CONTEXT_AFTER.match(text, match.end()):
        return True
    if _ANSWER_BEFORE_BANK.fullmatch(facts_blanked, 0, match.start()) and _ANSWER_AFTER_BANK.fullmatch(
        facts_blanked, match.end()
    ):
        return True
    return bool(_BANK_TOPIC.search(text)) and not _inside_ordinary_phrase(text, match, phrases)


def _banks(text: str, other_facts: list[_Candidate]) -> Iterator[_Candidate]:
    blanked = list(text)
    for fact in other_facts:
        blanked[fact.start : fact.end] = " " * (fact.end - fact.start)
    facts_blanked = "".join(blanked)
    for match in _bank_pattern().finditer(text):
        bank = knowledge.resolve_bank(match.group())
        if bank is not None and _bank_in_context(text, match, facts_blanked):
            yield _Candidate(_PRIORITY["bank"], match.start(), match.end(), "bank", bank.name)


_TAIL_CUE = r"(?:尾号|尾数|(?:最后|末尾|后|末)(?:四|4)位|末尾)"
# The masked form "[卡号已隐藏，尾号1234]" from bot.domain.masking matches the first pattern.
_CARD_TAILS = (
    re.compile(rf"{_TAIL_CUE}[\s:]*(?:是|为)?[\s:]*(?P<digits>[0-9]{{4}})(?![0-9])"),
    re.compile(r"(?<![0-9])(?P<digits>[0-9]{4})\s*结尾"),
)


def _card_tails(text: str) -> Iterator[_Candidate]:
    for pattern in _CARD_TAILS:
        for match in pattern.finditer(text):
            start, end = match.span("digits")
            yield _Candidate(_PRIORITY["card_last4"], start, end, "card_last4", match["digits"])


_CARD_TYPES = (
    (re.compile(r"信用卡|贷记卡|(?<![A-Za-z])credit\s*card(?![A-Za-z])", re.IGNORECASE), "credit"),
    (re.compile(r"储蓄卡|借记卡|(?<![A-Za-z])debit\s*card(?![A-Za-z])", re.IGNORECASE), "debit"),
)


def _card_types(text: str) -> Iterator[_Candidate]:
    for pattern, card_type in _CARD_TYPES:
        for match in pattern.finditer(text):
            yield _Candidate(_PRIORITY["card_type"], match.start(), match.end(), "card_type", card_type)


_CASE_ID = re.compile(
    r"(?<![A-Za-z0-9])WS\s*-\s*(?P<day>[0-9]{8})\s*-\s*(?P<serial>[0-9]{4})(?![0-9])", re.IGNORECASE
)


def _case_ids(text: str) -> Iterator[_Candidate]:
    for match in _CASE_ID.finditer(text):
        value = f"WS-{match['day']}-{match['serial']}"
        yield _Candidate(_PRIORITY["case_id"], match.start(), match.end(), "case_id", value)


# --- public API -------------------------------------------------------------


def find_entities(text: str, today: date | None = None) -> list[EntityMatch]:
    """Non-overlapping entities sorted by start; offsets index into ``text`` as given.

    >>> [(m.entity, m.text, m.value) for m in find_entities("昨天工行多扣了两千五", date(2026, 11, 25))]
    [('date', '昨天', '2026-11-24'), ('bank', '工行', '中国工商银行'), ('amount', '两千五', 2500)]
    """
    reference = today or clock.today()
    cleaned, origin = normalise_with_offsets(text)
    facts = [
        *_case_ids(cleaned),
        *_card_tails(cleaned),
        *_amounts(cleaned),
        *_dates(cleaned, reference),
        *_card_types(cleaned),
    ]
    candidates = [*facts, *_banks(cleaned, facts)]
    taken = [False] * len(cleaned)
    matches: list[EntityMatch] = []
    for candidate in sorted(candidates, key=lambda c: (c.priority, c.start, c.start - c.end)):
        if any(taken[candidate.start : candidate.end]):
            continue
        taken[candidate.start : candidate.end] = [True] * (candidate.end - candidate.start)
        start, end = origin[candidate.start], origin[candidate.end - 1] + 1
        matches.append(EntityMatch(candidate.entity, start, end, text[start:end], candidate.value))
    return sorted(matches, key=lambda m: m.start)


def amount_mentions(text: str) -> list[EntityMatch]:
    """Every amount in ``text``, a bare number included where it could be money.

    ``find_entities`` takes a bare number for money only after a cue such as
    扣了; this is for text already known to be about amounts (the answer to
    the amount question, "本来300刷成了3000"), where the caller reads the
    roles. Dates, card tails and case ids are never amounts.
    """
    cleaned, origin = normalise_with_offsets(text)
    others = [m for m in find_entities(text) if m.entity not in ("amount", "bank", "card_type")]
    mentions = []
    for match in _AMOUNT.finditer(cleaned):
        value = _amount_value(match)
        has_unit = match["sign"] or match["unit"] or match["yuan"] or match["mult"]
        if value is None or not (has_unit or _bare_number_is_money(cleaned, match)):
            continue
        start, end = origin[match.start()], origin[match.end() - 1] + 1
        if any(other.start < end and start < other.end for other in others):
            continue
        mentions.append(EntityMatch("amount", start, end, text[start:end], _as_number(value)))
    return mentions


def _first_value(text: str, entity: str, today: date | None = None) -> EntityValue | None:
    return next((m.value for m in find_entities(text, today) if m.entity == entity), None)


def parse_amount(text: str) -> float | int | None:
    """The amount in a slot answer; a bare number counts here: '3000' -> 3000, '两千五' -> 2500."""
    whole = _AMOUNT.fullmatch(normalise_text(text).strip())
    if whole is not None:
        value = _amount_value(whole)
        return None if value is None else _as_number(value)
    amount = _first_value(text, "amount")
    return amount if isinstance(amount, int | float) else None


def parse_date(text: str, today: date | None = None) -> date | None:
    found = _first_value(text, "date", today)
    return date.fromisoformat(found) if isinstance(found, str) else None


_FULL_CARD_NUMBER = re.compile(r"[0-9](?:[ -]?[0-9]){12,18}")


def card_last4_from(text: str) -> str | None:
    """Last four digits from '1234', '尾号1234' or a whole card number; the rest is never kept."""
    cleaned = normalise_text(text).strip()
    if re.fullmatch(r"[0-9]{4}", cleaned):
        return cleaned
    if _FULL_CARD_NUMBER.fullmatch(cleaned):
        return re.sub(r"[ -]", "", cleaned)[-4:]
    tail = _first_value(text, "card_last4")
    return tail if isinstance(tail, str) else None


def parse_card_type(text: str) -> str | None:
    """'credit' or 'debit'; the canonical values themselves parse, so a stored slot re-validates."""
    cleaned = normalise_text(text).strip().lower()
    if cleaned in ("credit", "debit"):
        return cleaned
    card_type = _first_value(text, "card_type")
    return card_type if isinstance(card_type, str) else None
