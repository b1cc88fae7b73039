"""Checks on the facts a user gives, each returning a value or a reason code.

Reason codes name the response the bot uses to ask again
(``utter_invalid_<reason>`` in domain.yml).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, Generic, TypeVar

from bot.domain.clock import today
from bot.domain.knowledge import bank_aliases, resolve_bank
from bot.domain.normalise import card_last4_from, find_entities, parse_amount, parse_date

T = TypeVar("T")

MAX_PLAUSIBLE_AMOUNT = 5_000_000
OLDEST_TRANSACTION = timedelta(days=3 * 365)
MIN_MERCHANT_LENGTH = 2
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


# "长沙银行", "泰隆银行": a bank name the list may not hold, read from a longer message.
# Function words and verbs ("请问", "我的是", "打给") are no part of a bank's name.
_BANK_NAME = re.compile(
    r"[^\s\W\dA-Za-z请问打拨找给我你他她的是那这哪个家张用在和跟与到了吗呢么该些啥什一下]{2,8}银行"
)


def bank_named_in(text: str) -> str | None:
    """The first bank named in ``text``: a listed bank's full name, or any plausible "…银行"."""
    bank = resolve_bank(text)
    if bank is not None:
        return bank.name
    match = _BANK_NAME.search(text)
    return match.group() if match else None


# A sentence rather than a name: a person, a question, not knowing, a request.
_NOT_A_NAME = re.compile(
    r"[我你您咱吗呢么啥谁?？]|怎么|什么|为什么|为啥|不是|没有|不知道|不记得|记不|想不|忘了|可以|能不能|告诉|问一下"
    r"|帮忙|干嘛|有用|安全|人工|真人|客服|银行|电话|多少|几"
    # Replies that are part of the talk, not a shop: "算了", "好的", "谢谢".
    r"|算了|不用|谢谢|多谢|没事|再见|拜拜|稍等|等一下|再说|晚点|回头|以后|^(?:好的?|行|嗯+|哦+|对|ok|okay|是的?)$",
    re.IGNORECASE,
)
_NAME_EDGES = re.compile(r"^(?:就是|是在|是|在|叫|叫做|那家|这家|一家叫)+|(?:吧|啊|呀|呢|哦|啦|嘛|。|！|!)+$")
MAX_NAME_ANSWER_LENGTH = 20


def merchant_answer(text: str) -> str | None:
    """The whole answer as a shop's name, when it is one: "老百姓大药房", "楼下的全家便利店".

    A name may end in a common word (大药房, 菜市场) or sound like a question to the
    intent classifier, so the answer to "哪个商户" is read as a name whenever it is
    short and says nothing else: no question, no other fact, no 我/你.
    """
    name = _NAME_EDGES.sub("", text.strip()).strip()
    if not name or len(name) > MAX_NAME_ANSWER_LENGTH or _NOT_A_NAME.search(name):
        return None
    if any(match.entity != "merchant" for match in find_entities(name)):
        return None
    checked = check_merchant(name)
    return checked.value if checked.ok else None


def check_merchant(raw: Any) -> Checked[str]:
    text = _MERCHANT_FILLER.sub("", str(raw or "").strip()).strip(" ，。,.!！?？")
    # One character is a word the entity model caught ("钱", "卡"), not a shop's name.
    if len(text) < MIN_MERCHANT_LENGTH or len(text) > MAX_MERCHANT_LENGTH or not _HAS_NAME.search(text):
        return Checked(error="merchant")
    # A bank is the card's issuer, not the shop: "华夏银行" answers the bank question.
    if text.endswith("银行") or text.casefold() in _bank_alias_set():
        return Checked(error="merchant")
    return Checked(value=text)


@lru_cache(maxsize=1)
def _bank_alias_set() -> frozenset[str]:
    return frozenset(alias.casefold() for alias in bank_aliases())


def check_card_last4(raw: Any) -> Checked[str]:
    last4 = card_last4_from(str(raw or ""))
    return Checked(value=last4) if last4 else Checked(error="card_last4")


# "在银泰刷的卡", "在一家叫小飞象的童装店刷工行卡": the shop is the place where the card was used.
_SHOP_IN_REPORT = re.compile(
    r"在(?:一家叫|一家|家叫|叫)?(?P<name>[^，。,.!！?？\s在]{2,14}?)"
    r"(?:刷|买|消费|吃|结账|买单|付款|付钱|加油|购物|用卡|拿卡|支付)"
)
# Places that are not a shop's name: where the user was, the terminal, or only a kind of
# shop ("在超市买东西"), which the form then asks about.
_NOT_A_SHOP = re.compile(
    r"^(?:外地|家里?|网上|国外|境外|本地|当地|那里|这里|那边|这边|店里|POS机?上?|机器上|终端上|手机上"
    r"|超市|商场|商店|店|小店|饭店|餐厅|饭馆|药店|药房|便利店|酒店|医院|市场|菜市场|加油站)$",
    re.IGNORECASE,
)


# Where the user was rather than the shop: "在香港刷招行卡", "在上海出差时刷的".
_REGION = re.compile(
    r"^(?:北京|上海|天津|重庆|香港|澳门|台湾|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北"
    r"|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|内蒙古?|广西|西藏|宁夏|新疆|日本|韩国|泰国|新加坡|马来西亚"
    r"|越南|美国|英国|法国|德国|意大利|澳大利亚|欧洲|国外|境外|海外).{0,3}$|(?:市|省|县|区|镇|国|出差|旅游)$"
)


def shop_in_report(text: str) -> str | None:
    """The shop a report names by where the card was used, when it names one."""
    for match in _SHOP_IN_REPORT.finditer(text):
        name = match["name"]
        if _NOT_A_SHOP.match(name) or _REGION.search(name) or bank_named_in(name) or find_entities(name):
            continue
        checked = check_merchant(name)
        if checked.ok:
            return checked.value
    return None


# The typed answer to "境外或外币交易，还是境内的人民币交易？".
_ABROAD = re.compile(r"境外|国外|海外|外国|出国|外币|美元|美金|港币|港元|日元|欧元|英镑|香港|澳门|台湾|跨境")
_AT_HOME = re.compile(r"境内|国内|大陆|本地|人民币")
_NEGATED = re.compile(r"(?:不是|没在|没有在|没去|不在)(?:在)?$")


def _says(pattern: re.Pattern[str], text: str) -> bool:
    """Whether ``text`` names this side, and not as "不是境外"."""
    return any(not _NEGATED.search(text[: match.start()]) for match in pattern.finditer(text))


def cross_border_answer(text: str) -> bool | None:
    """True for 境外/外币, False for 境内/人民币, None when the text says neither or both.

    >>> cross_border_answer("国内刷的，人民币"), cross_border_answer("在香港刷的，港币")
    (False, True)
    """
    abroad, at_home = _says(_ABROAD, text), _says(_AT_HOME, text)
    if abroad == at_home:
        negated_abroad = bool(_ABROAD.search(text)) and not abroad
        return False if negated_abroad and not at_home else None
    return abroad
