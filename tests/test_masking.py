import time

import pytest

from bot.masking import HIDDEN, SECRET_KINDS, MaskResult, mask_secrets

# Luhn-valid test numbers (Visa and Amex test cards, a made-up 19-digit UnionPay).
VISA = "4111111111111111"
UNIONPAY_19 = "6222021234567890128"
AMEX = "378282246310005"
NOT_LUHN_16 = "1234567812345678"
LUHN_MERCHANT_ID = "898310048161234"  # 15 digits that happen to pass Luhn


def test_secret_kinds() -> None:
    assert SECRET_KINDS == ("card_number", "cvv", "pin", "sms_code", "expiry")
    assert HIDDEN == "[已隐藏]"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (VISA, "[卡号已隐藏，尾号1111]"),
        ("4111 1111 1111 1111", "[卡号已隐藏，尾号1111]"),
        ("4111-1111-1111-1111", "[卡号已隐藏，尾号1111]"),
        (UNIONPAY_19, "[卡号已隐藏，尾号0128]"),
        ("6222 0212 3456 7890 128", "[卡号已隐藏，尾号0128]"),
        (AMEX, "[卡号已隐藏，尾号0005]"),
        ("3782 822463 10005", "[卡号已隐藏，尾号0005]"),
        ("４１１１１１１１１１１１１１１１", "[卡号已隐藏，尾号1111]"),
        (f"我的卡{VISA}被刷了3000元", "我的卡[卡号已隐藏，尾号1111]被刷了3000元"),
        (f"卡号{NOT_LUHN_16}", "卡号[卡号已隐藏，尾号5678]"),
        ("卡号：1234 5678 1234 5678", "卡号：[卡号已隐藏，尾号5678]"),
        (f"银行卡号是 {NOT_LUHN_16}", "银行卡号是 [卡号已隐藏，尾号5678]"),
        (f"card number: {NOT_LUHN_16}", "card number: [卡号已隐藏，尾号5678]"),
    ],
)
def test_card_numbers_keep_only_last4(text: str, masked: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, ("card_number",))


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        ("CVV 123", "CVV [已隐藏]", "cvv"),
        ("cvv2是123", "cvv2是[已隐藏]", "cvv"),
        ("CVN2:456", "CVN2:[已隐藏]", "cvv"),
        ("安全码1234", "安全码[已隐藏]", "cvv"),
        ("卡背面三位数是789", "卡背面三位数是[已隐藏]", "cvv"),
        ("密码123456", "密码[已隐藏]", "pin"),
        ("PIN 1234", "PIN [已隐藏]", "pin"),
        ("pin码:654321", "pin码:[已隐藏]", "pin"),
        ("取款密码是888888", "取款密码是[已隐藏]", "pin"),
        ("密码为 12345678", "密码为 [已隐藏]", "pin"),
        ("验证码：123456", "验证码：[已隐藏]", "sms_code"),
        ("验证码１２３４５６", "验证码[已隐藏]", "sms_code"),
        ("动态码 5678", "动态码 [已隐藏]", "sms_code"),
        ("校验码为1234", "校验码为[已隐藏]", "sms_code"),
        ("my code is 998877", "my code is [已隐藏]", "sms_code"),
        ("code: 1234", "code: [已隐藏]", "sms_code"),
        ("有效期 12/28", "有效期 [已隐藏]", "expiry"),
        ("有效期至12/2028", "有效期至[已隐藏]", "expiry"),
        ("有效期：09/27", "有效期：[已隐藏]", "expiry"),
    ],
)
def test_cued_secrets(text: str, masked: str, kind: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, (kind,))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "3000元",
        "¥1,299.00",
        "2026-11-20 刷了3000元",
        "11月20号",
        "电话13800138000",
        "95588",
        "40066-95566",
        "WS-20261120-0003",
        "参考号123456789012",
        "凭证号000123",
        f"商户号{LUHN_MERCHANT_ID}",
        f"参考号：{VISA}",
        NOT_LUHN_16,
        "尾号1234",
        "密码错误3次",
        "验证码没收到",
        "CVV在卡背面",
        "有效期快到了",
        "密码123",
        "安全码12",
        "有效期13/28",
        "pincode 1234",
        "13800138000 3000",
        "[卡号已隐藏，尾号1111] 验证码[已隐藏]",
        "😭<b>工行</b>多扣了两千五",
    ],
)
def test_non_secrets_unchanged(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


def test_several_secrets_in_one_message() -> None:
    text = f"卡号{VISA}，有效期12/28，CVV 123，验证码是 654321，取款密码888888，多扣了3000元"
    assert mask_secrets(text) == MaskResult(
        "卡号[卡号已隐藏，尾号1111]，有效期[已隐藏]，CVV [已隐藏]，"
        "验证码是 [已隐藏]，取款密码[已隐藏]，多扣了3000元",
        ("card_number", "cvv", "pin", "sms_code", "expiry"),
    )


def test_mixed_english_html_and_emoji() -> None:
    text = f"<p>Hi 😭 my card <b>{VISA}</b> was charged twice, OTP 4321</p>"
    assert mask_secrets(text) == MaskResult(
        "<p>Hi 😭 my card <b>[卡号已隐藏，尾号1111]</b> was charged twice, OTP [已隐藏]</p>",
        ("card_number", "sms_code"),
    )


@pytest.mark.parametrize(
    "text",
    [
        f"卡号{VISA}，CVV 123",
        f"{AMEX} 密码123456 有效期 09/27",
        "验证码１２３４５６",
    ],
)
def test_masking_is_idempotent(text: str) -> None:
    once = mask_secrets(text).text
    assert once != text
    assert mask_secrets(once) == MaskResult(once, ())


def test_long_message_is_fast() -> None:
    text = f"尾号1234多扣了3000元，验证码123456，卡{VISA}。" * 100
    started = time.perf_counter()
    result = mask_secrets(text)
    assert time.perf_counter() - started < 2
    assert result.text == "尾号1234多扣了3000元，验证码[已隐藏]，卡[卡号已隐藏，尾号1111]。" * 100
    assert result.kinds == ("card_number", "sms_code")


@pytest.mark.parametrize("text", ["1" * 5000, "1 " * 2500, "验证码" * 1666, "ka卡" * 1250])
def test_pathological_input_is_fast(text: str) -> None:
    started = time.perf_counter()
    assert mask_secrets(text) == MaskResult(text, ())
    assert time.perf_counter() - started < 2
