"""Hide card secrets before a message is stored, logged or echoed.

Banks never ask for a full card number, CVV, PIN, SMS code or expiry date, and
PCI DSS forbids keeping them, so the channel masks every incoming message
before Rasa sees it. A card number keeps its last four digits in the mask,
which ``bot.normalise.find_entities`` still reads as ``card_last4``.

Reference numbers, phone numbers, hotlines, amounts and dates are not secrets
and stay as typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from bot.normalise import normalise_with_offsets

SECRET_KINDS = ("card_number", "cvv", "pin", "sms_code", "expiry")
HIDDEN = "[已隐藏]"


@dataclass(frozen=True)
class MaskResult:
    text: str
    kinds: tuple[str, ...]


def _card_mask(last4: str) -> str:
    return f"[卡号已隐藏，尾号{last4}]"


# Unbroken, or in the groups printed on cards: 4-4-4-4(-3) and 4-6-5.
_CARD_NUMBER = re.compile(
    r"(?<![0-9])(?:[0-9]{13,19}"
    r"|[0-9]{4}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,4})?"
    r"|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5})(?![0-9])"
)
_SEPARATOR = r"[\s:]*(?:是|为|is(?![A-Za-z]))?[\s:]*"
# Merchant ids (15 digits) and reference numbers can pass the Luhn check by chance.
_TRANSACTION_ID_BEFORE = re.compile(
    rf"(?:参考号|凭证号|流水号|商户号|终端号|批次号|授权码|订单号|交易号|单号|编号|电话|手机){_SEPARATOR}$"
)
_CARD_NUMBER_BEFORE = re.compile(rf"(?:卡号|card\s*(?:number|no\.?)){_SEPARATOR}$", re.IGNORECASE)

_CUED_SECRETS = (
    (
        "cvv",
        re.compile(
            r"(?:(?<![A-Za-z])(?:cvv2|cvv|cvn2|cvn|cvc2|cvc)(?![A-Za-z])码?|安全码|卡?背面的?后?三位数?字?)"
            rf"{_SEPARATOR}(?P<secret>[0-9]{{3,4}})(?![0-9])",
            re.IGNORECASE,
        ),
    ),
    (
        "pin",
        re.compile(
            r"(?:密码|(?<![A-Za-z])pin(?![A-Za-z])码?)"
            rf"{_SEPARATOR}(?P<secret>[0-9]{{4,8}})(?![0-9])",
            re.IGNORECASE,
        ),
    ),
    (
        "sms_code",
        re.compile(
            r"(?:验证码|动态码|校验码|短信码|(?<![A-Za-z])(?:code|otp)(?![A-Za-z]))"
            rf"{_SEPARATOR}(?P<secret>[0-9]{{4,8}})(?![0-9])",
            re.IGNORECASE,
        ),
    ),
    (
        "expiry",
        re.compile(
            rf"有效期(?:至|到)?{_SEPARATOR}(?P<secret>(?:0?[1-9]|1[0-2])\s*[/-]\s*(?:[0-9]{{4}}|[0-9]{{2}}))(?![0-9])"
        ),
    ),
)


class _Secret(NamedTuple):
    start: int
    end: int
    kind: str
    replacement: str


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _card_numbers(text: str) -> Iterator[_Secret]:
    for match in _CARD_NUMBER.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if not 13 <= len(digits) <= 19:
            continue
        before = text[max(0, match.start() - 16) : match.start()]
        if _TRANSACTION_ID_BEFORE.search(before):
            continue
        if _luhn_valid(digits) or _CARD_NUMBER_BEFORE.search(before):
            yield _Secret(match.start(), match.end(), "card_number", _card_mask(digits[-4:]))


def _cued_secrets(text: str) -> Iterator[_Secret]:
    for kind, pattern in _CUED_SECRETS:
        for match in pattern.finditer(text):
            yield _Secret(match.start("secret"), match.end("secret"), kind, HIDDEN)


def mask_secrets(text: str) -> MaskResult:
    """Replace secrets in ``text``; everything else is returned exactly as typed.

    >>> mask_secrets("卡号 6222 0212 3456 7890 验证码是 123456")
    MaskResult(text='卡号 [卡号已隐藏，尾号7890] 验证码是 [已隐藏]', kinds=('card_number', 'sms_code'))
    """
    # Match on the normalised text so full-width digits and "：" are caught too.
    cleaned, origin = normalise_with_offsets(text)
    secrets: list[_Secret] = []
    for secret in sorted([*_card_numbers(cleaned), *_cued_secrets(cleaned)]):
        if secrets and secret.start < secrets[-1].end:
            continue
        secrets.append(secret)
    masked = text
    for secret in reversed(secrets):
        start, end = origin[secret.start], origin[secret.end - 1] + 1
        masked = masked[:start] + secret.replacement + masked[end:]
    found = {secret.kind for secret in secrets}
    return MaskResult(masked, tuple(kind for kind in SECRET_KINDS if kind in found))
