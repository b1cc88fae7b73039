import doctest
import time

import pytest

import bot.domain.masking
from bot.domain.masking import (
    HIDDEN,
    MASKED_METADATA_KEY,
    SECRET_KINDS,
    SPLIT_TTL_SECONDS,
    InMemorySplitNumberGuard,
    MaskResult,
    SplitState,
    clean_metadata,
    mask_continuing,
    mask_secrets,
)

# Luhn-valid test numbers (Visa and Amex test cards, made-up 16- and 19-digit UnionPay).
VISA = "4111111111111111"
UNIONPAY_16 = "6222021234567894"
UNIONPAY_19 = "6222021234567890128"
AMEX = "378282246310005"
NOT_LUHN_16 = "1234567812345678"
UNIONPAY_NOT_LUHN = "6222021234567890"  # as people make one up: starts like a card, fails Luhn
LUHN_MERCHANT_ID = "898310048161234"  # 15 digits that happen to pass Luhn


def test_the_documented_examples_hold() -> None:
    assert doctest.testmod(bot.domain.masking).failed == 0


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
        "6222 0212 3456 7894 09/27 123",
        "密码是六个八，06/32到期",
    ],
)
def test_masking_is_idempotent(text: str) -> None:
    once = mask_secrets(text).text
    assert once != text
    assert mask_secrets(once) == MaskResult(once, ())


# How long the worst inputs take is measured by `make bench` (bench/text_rules.py), not here.
def test_a_long_message_is_masked_throughout() -> None:
    text = f"尾号1234多扣了3000元，验证码123456，卡{VISA}。" * 100
    result = mask_secrets(text)
    assert result.text == "尾号1234多扣了3000元，验证码[已隐藏]，卡[卡号已隐藏，尾号1111]。" * 100
    assert result.kinds == ("card_number", "sms_code")


@pytest.mark.parametrize("text", ["1" * 5000, "1 " * 2500, "验证码" * 1666, "ka卡" * 1250])
def test_repetitive_input_with_no_secret_is_left_alone(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


# --- the spellings people use ------------------------------------------------------------


def grouped(number: str, separator: str, size: int = 4) -> str:
    return separator.join(number[start : start + size] for start in range(0, len(number), size))


@pytest.mark.parametrize(
    "separator", [" ", "-", ".", ",", "，", "/", "_", "·", "、", "  ", " - ", "，，", "　", "－", "．", "／"]
)
@pytest.mark.parametrize(("number", "last4"), [(UNIONPAY_16, "7894"), (UNIONPAY_NOT_LUHN, "7890")])
def test_card_numbers_grouped_with_any_separator(separator: str, number: str, last4: str) -> None:
    masked = MaskResult(f"[卡号已隐藏，尾号{last4}]", ("card_number",))
    assert mask_secrets(grouped(number, separator)) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # The reviewer's spellings that reached storage in clear.
        ("6222，0212，3456，7890", "[卡号已隐藏，尾号7890]"),
        ("6222.0212.3456.7890", "[卡号已隐藏，尾号7890]"),
        ("6222/0212/3456/7890", "[卡号已隐藏，尾号7890]"),
        ("6222  021234567890", "[卡号已隐藏，尾号7890]"),
        # Split elsewhere, mixed, 19 digits, digit by digit, Chinese numerals.
        (f"{UNIONPAY_16[:6]} {UNIONPAY_16[6:]}", "[卡号已隐藏，尾号7894]"),
        (f"{UNIONPAY_16[:8]} {UNIONPAY_16[8:]}", "[卡号已隐藏，尾号7894]"),
        ("6222-0212 3456-7890", "[卡号已隐藏，尾号7890]"),
        ("6222，0212，3456，7890，128", "[卡号已隐藏，尾号0128]"),
        (" ".join(UNIONPAY_16), "[卡号已隐藏，尾号7894]"),
        (grouped(UNIONPAY_16, " ", 2), "[卡号已隐藏，尾号7894]"),
        ("六二二二 零二一二 三四五六 七八九零", "[卡号已隐藏，尾号7890]"),
        ("卡号六二二二零二幺二三四五六七八九零", "卡号[卡号已隐藏，尾号7890]"),
        # Named by a cue before or after, in a sentence.
        ("卡号 6222 0212，3456 7890", "卡号 [卡号已隐藏，尾号7890]"),
        ("工行卡：6222、0212、3456、7890", "工行卡：[卡号已隐藏，尾号7890]"),
        (f"卡号是多少？{UNIONPAY_16}", "卡号是多少？[卡号已隐藏，尾号7894]"),
        ("6222 0212 3456 7890是我的卡号", "[卡号已隐藏，尾号7890]是我的卡号"),
        ("帮我看下 1234 5678 9012 3456 这张卡", "帮我看下 [卡号已隐藏，尾号3456] 这张卡"),
        ("我的卡6222 0212 3456 7890 123被刷了", "我的卡[卡号已隐藏，尾号0123]被刷了"),
        # One digit short, still a card; at the message's end its last digits may follow, so only
        # its first six show.
        ("卡号是 6222 0212 3456 789，被扣了3000", "卡号是 [卡号已隐藏，尾号6789]，被扣了3000"),
        ("卡号是 6222 0212 3456 789", "卡号是 6222 02[已隐藏]"),
        ("卡号62220212345678901234", "卡号[卡号已隐藏，尾号1234]"),  # one digit too many
        (f"昨天 {grouped(UNIONPAY_16, ' ')} 被扣了3000元", "昨天 [卡号已隐藏，尾号7894] 被扣了3000元"),
        ("3000、6222 0212 3456 7890", "3000、[卡号已隐藏，尾号7890]"),
    ],
)
def test_card_number_spellings(text: str, masked: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, ("card_number",))


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        # The reviewer's spellings.
        ("验证码，654321", "验证码，[已隐藏]", "sms_code"),
        ("654321是验证码", "[已隐藏]是验证码", "sms_code"),
        ("OTP=123456", "OTP=[已隐藏]", "sms_code"),
        ("验证码六五四三二一", "验证码[已隐藏]", "sms_code"),
        ("我的密码，123456", "我的密码，[已隐藏]", "pin"),
        # What may stand between a cue and its number.
        ("验证码#654321", "验证码#[已隐藏]", "sms_code"),
        ("验证码为:629104", "验证码为:[已隐藏]", "sms_code"),
        ("验证码 = 654321", "验证码 = [已隐藏]", "sms_code"),
        ("验证码（654321）", "验证码（[已隐藏]）", "sms_code"),
        ("短信验证码【836201】", "短信验证码【[已隐藏]】", "sms_code"),
        ("验证码我刚收到是 593017", "验证码我刚收到是 [已隐藏]", "sms_code"),
        ("验证码是多少？123456", "验证码是多少？[已隐藏]", "sms_code"),
        ("对方让我报验证码，我把738261告诉他了", "对方让我报验证码，我把[已隐藏]告诉他了", "sms_code"),
        ("【工商银行】验证码为362514，5分钟内有效", "【工商银行】验证码为[已隐藏]，5分钟内有效", "sms_code"),
        # Grouped, spelled out, full-width.
        ("验证码: 6 5 4 3 2 1", "验证码: [已隐藏]", "sms_code"),
        ("验证码是 654 321", "验证码是 [已隐藏]", "sms_code"),
        ("otp 123-456", "otp [已隐藏]", "sms_code"),
        ("验证码 573，920", "验证码 [已隐藏]", "sms_code"),
        ("验证码是幺二三四五六", "验证码是[已隐藏]", "sms_code"),
        ("他让我念验证码，我念了：七七八八九九", "他让我念验证码，我念了：[已隐藏]", "sms_code"),
        ("验证码：８３６２０１", "验证码：[已隐藏]", "sms_code"),
        # Cues after the number.
        ("738261是我刚收到的验证码", "[已隐藏]是我刚收到的验证码", "sms_code"),
        ("654321，这是验证码", "[已隐藏]，这是验证码", "sms_code"),
        ("654321（短信验证码）", "[已隐藏]（短信验证码）", "sms_code"),
        ("六五四三二一是验证码", "[已隐藏]是验证码", "sms_code"),
        ("123456是我的密码", "[已隐藏]是我的密码", "pin"),
        ("123456这是我的支付密码", "[已隐藏]这是我的支付密码", "pin"),
        ("123是卡背面的三位数", "[已隐藏]是卡背面的三位数", "cvv"),
        ("12/28是有效期", "[已隐藏]是有效期", "expiry"),
        # Other cues.
        ("动态密码 551208", "动态密码 [已隐藏]", "sms_code"),
        ("收到的码是 123456", "收到的码是 [已隐藏]", "sms_code"),
        ("verification code: 492013", "verification code: [已隐藏]", "sms_code"),
        ("支付密码：246810", "支付密码：[已隐藏]", "pin"),
        ("密码#112233", "密码#[已隐藏]", "pin"),
        ("密码为 6 6 8 8 9 9", "密码为 [已隐藏]", "pin"),
        ("密码：幺三五七九二", "密码：[已隐藏]", "pin"),
        ("取款密码就是我生日 900101", "取款密码就是我生日 [已隐藏]", "pin"),
        ("登录密码是Abc12345", "登录密码是[已隐藏]", "pin"),
        ("password: hunter22", "password: [已隐藏]", "pin"),
        ("安全码，963", "安全码，[已隐藏]", "cvv"),
        ("卡背面三位数：四五六", "卡背面三位数：[已隐藏]", "cvv"),
        ("卡背后的三个数字 123", "卡背后的三个数字 [已隐藏]", "cvv"),
        ("CVV是多少？我看看，是 123", "CVV是多少？我看看，是 [已隐藏]", "cvv"),
        ("卡的有效期是 2028年12月", "卡的有效期是 [已隐藏]", "expiry"),
        ("有效期：0828", "有效期：[已隐藏]", "expiry"),
        ("有效期 11-29", "有效期 [已隐藏]", "expiry"),
        ("VALID THRU 12/28", "VALID THRU [已隐藏]", "expiry"),
        ("有效期到28年5月", "有效期到[已隐藏]", "expiry"),
        ("exp. 03/29", "exp. [已隐藏]", "expiry"),
        ("校验码 8 位：12345678", "校验码 8 位：[已隐藏]", "sms_code"),
        ("卡背面 3 位数 123", "卡背面 3 位数 [已隐藏]", "cvv"),
    ],
)
def test_secret_spellings(text: str, masked: str, kind: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, (kind,))


# --- what must survive exactly as typed --------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # Amounts
        "¥1,299.00",
        "1.2万",
        "两千五",
        "金额：5,000.00元",
        "退款 ¥12,345.67",
        "人民币 8888 元",
        "￥６０００",
        "扣款 12,000.00 元",
        "我的卡被扣了 6,000",
        "分别扣了3000、2000、1500、8000",
        "四笔分别是2000，3000，5000，1000",
        "300 400 500 600 700",
        "预授权 5000，完成 4,800.00",
        "两三千块",
        "一万二",
        # Dates and times
        "2026-11-20",
        "20261120",
        "2026/11/20",
        "2026.11.20",
        "11/20",
        "2026-11-20 14:30:05",
        "2026-11-20T14:30:00",
        "20261120143025",
        "二〇二六年十一月二十日",
        "下午2:15",
        "14：30",
        # Phone numbers and hotlines
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "0086 138 0013 8000",
        "幺三八零零幺三八零零零",
        "010-88886666",
        "0755-8888 6666",
        "400-820-8888",
        "4008208888",
        "客服电话 95588",
        "12315",
        # Case numbers, card tails, masked cards
        "案件号 WS-20261120-0003",
        "ws-20261125-0012",
        "后四位 5678",
        "卡号后四位是 9012",
        "末四位 3456",
        "1234结尾的卡",
        "卡尾号6789",
        "卡号前六位 622202",
        "卡号：6222 **** **** 7890",
        "POS 小票：卡号 622202******7890，参考号 512345678901，凭证号 000123，授权码 654321",
        # Transaction ids named by their cue
        "流水号 2026112012345678",
        "终端号 12345678",
        "批次号 000001",
        "授权码 123456",
        "订单号 4200001234202611201234567890",
        "订单号：1234 5678 9012 3456",
        "订单：4200 0012 3420 2611 2012 3456 78",
        "交易参考号 512345678901",
        "凭证号：001234 批次号：000012",
        "参考号和凭证号分别是 412345678901、000123",
        "商户号898310048161234，终端号12345678",
        "流水号：2026 1120 1234 5678",
        LUHN_MERCHANT_ID,
        "2026112012345678",
        "身份证 440301199003071234",
        "我的QQ 345678912",
        "auth code 123456",
        "error code 1234",
    ],
)
def test_numbers_that_are_no_secret_survive(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


@pytest.mark.parametrize(
    "text",
    [
        "密码错误",
        "验证码没收到",
        "密码输错了3次，卡被锁了",
        "输密码的时候扣了3000元",
        "没输密码就扣了2000",
        "我刷了3000，密码没输",
        "密码不对，扣了5000元",
        "验证码没收到，刷了3000",
        "转账3000验证码没收到",
        "3000块钱，这个验证码是干嘛的",
        "密码忘了，今天取了 2000",
        "密码忘了，卡里有 20000",
        "输密码时显示 3000",
        "输入密码后，小票上写着 1299.00",
        "3000 是密码错误导致的吗",
        "免密支付了300元",
        "小额免密 1000元以下",
        "验证码发到尾号8000的手机上",
        "验证码发到13800138000了",
        "验证码是95588发的",
        "95588发的短信是验证码吗",
        "验证码 5 分钟内有效",
        "密码 6 位数",
        "六位密码",
        "密码2026年改过",
        "验证码过期了，2026年11月20日",
        "验证码 11月20日 14:30 收到的",
        "验证码：没收到，订单号 123456789",
        "尾号1234验证码没收到",
        "有效期还有2年",
        "预授权有效期30天",
        "有效期到2026年12月31日",
        "有效期 2026-11-20",
        "安全码是什么",
        "CVV在卡背面",
        "等了一两天",
        "三四天了",
    ],
)
def test_secret_words_without_a_secret_change_nothing(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


# --- expiry dates: more cues, cues after, words between, pasted cards ------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # A form's label, English cues, 到期 / 期限 before the date.
        ("有效期（月/年）：09/27", "有效期（月/年）：[已隐藏]"),
        ("MM/YY：06/31", "MM/YY：[已隐藏]"),
        ("月/年 11/29", "月/年 [已隐藏]"),
        ("Exp: 11/30", "Exp: [已隐藏]"),
        ("valid thru 07/31", "valid thru [已隐藏]"),
        ("信用卡有效期至 08/29", "信用卡有效期至 [已隐藏]"),
        ("到期 09/27", "到期 [已隐藏]"),
        ("卡的到期日：28年9月", "卡的到期日：[已隐藏]"),
        ("期限：10/31", "期限：[已隐藏]"),
        # The cue after the date.
        ("06/32到期", "[已隐藏]到期"),
        ("我的卡09/28到期了吗", "我的卡[已隐藏]到期了吗"),
        ("这张卡 2028/09 到期", "这张卡 [已隐藏] 到期"),
        ("2029年7月到期的卡", "[已隐藏]到期的卡"),
        ("卡是2031年5月到期的", "卡是[已隐藏]到期的"),
        # A few words between the cue and the date.
        ("对方问我卡的有效期，我说了05/32", "对方问我卡的有效期，我说了[已隐藏]"),
        ("有效期呢？我看一下，03/33", "有效期呢？我看一下，[已隐藏]"),
        ("他问我到期时间，我说是 10/30", "他问我到期时间，我说是 [已隐藏]"),
    ],
)
def test_expiry_dates(text: str, masked: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, ("expiry",))


@pytest.mark.parametrize(
    "text",
    [
        # A day, with what happened on it.
        "11/20在超市刷的",
        "11/20 在超市刷了1299",
        "11/20晚上刷的卡",
        "我11/20刷的卡，今天11/25了还没退",
        "有效期快到了，11/20去换卡",
        "过期了吗？11/20那笔",
        "尾号7890的卡11/20被扣了3000",
        "参考号 512345678901 11/20",
        # A bill's, loan's or coupon's due date.
        "2026年12月到期的账单",
        "到期还款日是12月20日",
        "账单12/20到期",
        "信用卡账单到期日 12/20",
        "还款期限 11/28",
        "贷款2030年到期",
        "理财产品2027年3月到期",
        "会员11/30到期",
        "优惠券有效期至12/31",
        "预授权有效期30天，11/30到期",
        # Full dates, periods, counts, a date written with a dot.
        "申请期限是2026年12月31日",
        "2026/11/20 到期",
        "退款期限是7到15个工作日",
        "退款期限3-25个工作日",
        "3.28到期",
        "卡下个月到期，会影响退款吗",
    ],
)
def test_dates_that_are_no_expiry_survive(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        (
            "6222 0212 3456 7894 09/27 123",
            "[卡号已隐藏，尾号7894] [已隐藏] [已隐藏]",
            ("card_number", "cvv", "expiry"),
        ),
        (
            f"{VISA} | 12/29 | 456",
            "[卡号已隐藏，尾号1111] | [已隐藏] | [已隐藏]",
            ("card_number", "cvv", "expiry"),
        ),
        (
            f"{UNIONPAY_16}，123，09/27",
            "[卡号已隐藏，尾号7894]，[已隐藏]，[已隐藏]",
            ("card_number", "cvv", "expiry"),
        ),
        # Named and Luhn-invalid: the card still ends where its sixteen digits do.
        (
            "卡号6225 2152 9441 5260 09/27 123",
            "卡号[卡号已隐藏，尾号5260] [已隐藏] [已隐藏]",
            ("card_number", "cvv", "expiry"),
        ),
        (f"{UNIONPAY_16} 12/29", "[卡号已隐藏，尾号7894] [已隐藏]", ("card_number", "expiry")),
        ("有效期 09/27 123", "有效期 [已隐藏] [已隐藏]", ("cvv", "expiry")),
        ("安全码 123 | 09/27", "安全码 [已隐藏] | [已隐藏]", ("cvv", "expiry")),
        ("有效期 09/27 300元", "有效期 [已隐藏] 300元", ("expiry",)),
        # The day it was charged is no expiry, and three digits without an expiry are no CVV.
        (f"{UNIONPAY_16} 11/20被扣了3000", "[卡号已隐藏，尾号7894] 11/20被扣了3000", ("card_number",)),
        (
            f"卡号{UNIONPAY_16}，11/20在超市刷的",
            "卡号[卡号已隐藏，尾号7894]，11/20在超市刷的",
            ("card_number",),
        ),
        (f"{UNIONPAY_16} 300", "[卡号已隐藏，尾号7894] 300", ("card_number",)),
    ],
)
def test_a_pasted_card_hides_its_expiry_and_cvv(text: str, masked: str, kinds: tuple[str, ...]) -> None:
    assert mask_secrets(text) == MaskResult(masked, kinds)


# --- CVVs, codes named by a demonstrative, counts -------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        # Attached to a CVV cue after it, even a round number.
        ("500是安全码", "[已隐藏]是安全码", "cvv"),
        ("500 是CVV", "[已隐藏] 是CVV", "cvv"),
        ("五零零是安全码", "[已隐藏]是安全码", "cvv"),
        ("900是安全码吗", "[已隐藏]是安全码吗", "cvv"),
        # Whatever the code on the back of the card is called.
        ("卡背面的验证码787", "卡背面的验证码[已隐藏]", "cvv"),
        ("卡背后的验证码是 909", "卡背后的验证码是 [已隐藏]", "cvv"),
        ("信用卡背面的校验码：066", "信用卡背面的校验码：[已隐藏]", "cvv"),
        ("卡背面的验证码是多少？787", "卡背面的验证码是多少？[已隐藏]", "cvv"),
        # Named after the number by 这个 / 这条 / 那个 …
        ("755268 这个验证码是谁发的", "[已隐藏] 这个验证码是谁发的", "sms_code"),
        ("755268，请问这个验证码是谁发的", "[已隐藏]，请问这个验证码是谁发的", "sms_code"),
        ("483920 这条验证码是什么意思", "[已隐藏] 这条验证码是什么意思", "sms_code"),
        ("938271那个验证码我没告诉别人", "[已隐藏]那个验证码我没告诉别人", "sms_code"),
        ("938271，那条短信验证码我没给别人", "[已隐藏]，那条短信验证码我没给别人", "sms_code"),
        ("246810 这个密码对吗", "[已隐藏] 这个密码对吗", "pin"),
        # Told as a count.
        ("密码是六个八", "密码是[已隐藏]", "pin"),
        ("密码就是6个6", "密码就是[已隐藏]", "pin"),
        ("我的支付密码就是六个6", "我的支付密码就是[已隐藏]", "pin"),
        ("密码是6个8吗", "密码是[已隐藏]吗", "pin"),
        ("密码是三个1和三个2", "密码是[已隐藏]", "pin"),
        ("验证码四个1", "验证码[已隐藏]", "sms_code"),
        ("验证码是 4个3", "验证码是 [已隐藏]", "sms_code"),
        ("六个8是我的密码", "[已隐藏]是我的密码", "pin"),
        ("两个1两个2两个3是密码", "[已隐藏]是密码", "pin"),
    ],
)
def test_cvvs_demonstratives_and_counts(text: str, masked: str, kind: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, (kind,))


@pytest.mark.parametrize(
    "text",
    [
        "500块是安全码那个页面显示的金额",
        "扣了500是安全码输错了吗",
        "输安全码那一步扣了500",
        "安全码是什么，300元的那笔要输吗",
        "3000，这个验证码是干嘛的",
        "13800138000这个号码发的验证码",
        "95588这个号码发的验证码是真的吗",
        "尾号1234这张卡的验证码",
        "123456789012 这个参考号查不到",
        "密码有六个数字",
        "密码输了三个小时",
        "验证码等了五个小时",
        "验证码三个人都收到了",
        "验证码两个一样的吗",
        "六个月前办的卡",
        "给了三个八百是密码错了吗",
    ],
)
def test_money_counts_and_other_numbers_near_those_cues_survive(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # 卡号 right before the number wins over what follows it, Luhn or not.
        ("卡号6225215294415260 商户说已经撤销了", "卡号[卡号已隐藏，尾号5260] 商户说已经撤销了"),
        (
            "我的卡号是6225215294415260，商户说撤销了但是没到账",
            "我的卡号是[卡号已隐藏，尾号5260]，商户说撤销了但是没到账",
        ),
        ("卡号6225215294415260，客服让我等", "卡号[卡号已隐藏，尾号5260]，客服让我等"),
        ("银行卡号 6225 2152 9441 5260 终端显示失败", "银行卡号 [卡号已隐藏，尾号5260] 终端显示失败"),
        ("账号6225215294415260商户那边说退了", "账号[卡号已隐藏，尾号5260]商户那边说退了"),
        # Without 卡号, a merchant acting after a card number names no merchant id either.
        (f"{UNIONPAY_NOT_LUHN} 商户说退了", "[卡号已隐藏，尾号7890] 商户说退了"),
    ],
)
def test_a_named_card_number_is_masked_whatever_follows(text: str, masked: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, ("card_number",))


# --- traditional characters, cue words with a digit, loose names of codes -------------------


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        # Every kind of cue, before and after the number.
        ("驗證碼：482913", "驗證碼：[已隐藏]", "sms_code"),
        ("簡訊驗證碼 593018", "簡訊驗證碼 [已隐藏]", "sms_code"),
        ("短訊驗證碼【836201】", "短訊驗證碼【[已隐藏]】", "sms_code"),
        ("校驗碼為 8213", "校驗碼為 [已隐藏]", "sms_code"),
        ("動態密碼 778812", "動態密碼 [已隐藏]", "sms_code"),
        ("這個驗證碼是 593018", "這個驗證碼是 [已隐藏]", "sms_code"),
        ("驗證碼兩兩三三四四", "驗證碼[已隐藏]", "sms_code"),
        ("482913 這個驗證碼是誰發的", "[已隐藏] 這個驗證碼是誰發的", "sms_code"),
        ("收到簡訊 786302，說是驗證碼", "收到簡訊 [已隐藏]，說是驗證碼", "sms_code"),
        ("我的取款密碼是 135790", "我的取款密碼是 [已隐藏]", "pin"),
        ("135790 是我的支付密碼", "[已隐藏] 是我的支付密碼", "pin"),
        ("密碼是六個八", "密碼是[已隐藏]", "pin"),
        ("安全碼 321", "安全碼 [已隐藏]", "cvv"),
        ("卡背面的三位數：四五六", "卡背面的三位數：[已隐藏]", "cvv"),
        ("有效期限 11/29", "有效期限 [已隐藏]", "expiry"),
        ("信用卡到期日：09/28", "信用卡到期日：[已隐藏]", "expiry"),
        ("09/28 這個是卡的有效期", "[已隐藏] 這個是卡的有效期", "expiry"),
        ("卡號 6225 2152 9441 5260", "卡號 [卡号已隐藏，尾号5260]", "card_number"),
        ("我的銀行卡號是6225215294415260", "我的銀行卡號是[卡号已隐藏，尾号5260]", "card_number"),
        ("6225 2152 9441 5260 是我的卡號", "[卡号已隐藏，尾号5260] 是我的卡號", "card_number"),
        ("帳號 6225215294415260", "帳號 [卡号已隐藏，尾号5260]", "card_number"),
    ],
)
def test_cues_in_traditional_characters(text: str, masked: str, kind: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, (kind,))


@pytest.mark.parametrize(
    "text",
    [
        "卡號後四位 1234",
        "尾號1234",
        "參考號 512345678901",
        "訂單號 4111 1111 1111 1111",
        "客服電話 95588",
        "金額 3000",
        "扣了3000元，驗證碼沒收到",
        "驗證碼5分鐘內有效",
        "驗證碼發到了 15811223344",
        "賬單12/20到期",
        "有效期還有兩年",
        "兩千五",
    ],
)
def test_numbers_near_traditional_cues_survive(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("CVC2 802", "CVC2 [已隐藏]"),
        ("CVN2 幺四九", "CVN2 [已隐藏]"),
        ("cvv2:904", "cvv2:[已隐藏]"),
        ("CAV2：071", "CAV2：[已隐藏]"),
        ("卡背面的CVV2是 417", "卡背面的CVV2是 [已隐藏]"),
        ("338 是CVC2", "[已隐藏] 是CVC2"),
    ],
)
def test_a_cue_word_keeps_its_digit(text: str, masked: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, ("cvv",))


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        # The IME's slips and pinyin initials.
        ("验证吗 482913", "验证吗 [已隐藏]", "sms_code"),
        ("验证吗是592013", "验证吗是[已隐藏]", "sms_code"),
        ("验正码：663018", "验正码：[已隐藏]", "sms_code"),
        ("效验码 7731", "效验码 [已隐藏]", "sms_code"),
        ("yzm 482913", "yzm [已隐藏]", "sms_code"),
        ("yanzhengma 482913", "yanzhengma [已隐藏]", "sms_code"),
        ("验证妈 482913", "验证妈 [已隐藏]", "sms_code"),
        ("YZM：592018", "YZM：[已隐藏]", "sms_code"),
        ("482913是yzm", "[已隐藏]是yzm", "sms_code"),
        ("密马 135790", "密马 [已隐藏]", "pin"),
        ("秘码是 246802", "秘码是 [已隐藏]", "pin"),
        ("mima 135790", "mima [已隐藏]", "pin"),
        # A bare 码 someone sent or asked for.
        ("银行发的码 951720", "银行发的码 [已隐藏]", "sms_code"),
        ("他要的码 774421 我没给", "他要的码 [已隐藏] 我没给", "sms_code"),
        ("把158270这个码报给他", "把[已隐藏]这个码报给他", "sms_code"),
        ("那个码是 330271", "那个码是 [已隐藏]", "sms_code"),
        ("你的码 482913 发我", "你的码 [已隐藏] 发我", "sms_code"),
        ("码：482913", "码：[已隐藏]", "sms_code"),
        # What a scammer calls the code.
        ("退款码 593018", "退款码 [已隐藏]", "sms_code"),
        ("对方说取消码是 774421", "对方说取消码是 [已隐藏]", "sms_code"),
        ("解冻码 661204", "解冻码 [已隐藏]", "sms_code"),
    ],
)
def test_loose_names_of_codes(text: str, masked: str, kind: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, (kind,))


@pytest.mark.parametrize(
    "text",
    [
        "CVV2在卡背面",
        "CVV2是三位数",
        "cvc2 验证失败 3次",
        "这个码没收到",
        "退款码是什么",
        "验证吗？我刷了3000",
        "需要验证吗，尾号1234",
        "扫了商户的码，付了3000",
        "商家的码 1299",
        "二维码 12345678",
        "取件码 1234",
        "42码的鞋 300元",
    ],
)
def test_numbers_near_loose_names_survive(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


# --- a code named in the next clause ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        ("收到短信 786302，说是验证码", "收到短信 [已隐藏]，说是验证码", "sms_code"),
        (
            "刚才收到的是719352，短信说是验证码，5分钟有效",
            "刚才收到的是[已隐藏]，短信说是验证码，5分钟有效",
            "sms_code",
        ),
        ("846213 其实就是验证码", "[已隐藏] 其实就是验证码", "sms_code"),
        ("330917，银行说这是动态密码", "[已隐藏]，银行说这是动态密码", "sms_code"),
        ("602318 短信里写的是验证码", "[已隐藏] 短信里写的是验证码", "sms_code"),
        ("5567 就是我的取款密码", "[已隐藏] 就是我的取款密码", "pin"),
        ("11/29 这个是卡的有效期", "[已隐藏] 这个是卡的有效期", "expiry"),
        ("0928，这个是有效期", "[已隐藏]，这个是有效期", "expiry"),
    ],
)
def test_a_code_named_in_the_next_clause(text: str, masked: str, kind: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, (kind,))


@pytest.mark.parametrize(
    "text",
    [
        "说是3000元",
        "说是 1299 元",
        "3000元，说是验证码错了",
        "我转了3000，说是验证码错了",
        "2680 不是验证码的问题",
        "11/20，说是验证码过期了",
        "14:30 收到的，说是验证码",
        "尾号1234，说是验证码",
        "13800138000，短信说是验证码",
        "参考号 512345678901，说是验证码",
        "11/29 说是到期了",
        "11/20 那天说是有效期过了",
        "12/20 这个是账单的到期日",
        "尾号1234 这个是卡的有效期吗",
        "给了三个八百是密码错了吗",
    ],
)
def test_money_dates_and_labelled_numbers_before_a_later_cue_survive(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


# --- cues typed partly in pinyin, arrows, English, numerals, short expiry cues -----------------


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        # The IME switched mid-word, and all-pinyin spellings, with or without spaces.
        ("yan证码 482913", "yan证码 [已隐藏]", "sms_code"),
        ("验zheng码：482913", "验zheng码：[已隐藏]", "sms_code"),
        ("yanzheng码 593018", "yanzheng码 [已隐藏]", "sms_code"),
        ("yan zheng ma 593018", "yan zheng ma [已隐藏]", "sms_code"),
        ("验 证 码 593018", "验 证 码 [已隐藏]", "sms_code"),
        ("校yan码 7731", "校yan码 [已隐藏]", "sms_code"),
        ("动态ma 663018", "动态ma [已隐藏]", "sms_code"),
        ("593018 ←yan证码", "[已隐藏] ←yan证码", "sms_code"),
        ("mi码 135790", "mi码 [已隐藏]", "pin"),
        ("密ma是 246810", "密ma是 [已隐藏]", "pin"),
        ("取款mi码 246810", "取款mi码 [已隐藏]", "pin"),
        ("an全码 381", "an全码 [已隐藏]", "cvv"),
        ("安quan码：381", "安quan码：[已隐藏]", "cvv"),
        ("有效qi 09/28", "有效qi [已隐藏]", "expiry"),
        ("ka号 6225 2152 9441 5260", "ka号 [卡号已隐藏，尾号5260]", "card_number"),
        # An arrow or a pointer between the number and its cue.
        ("4719 ←验证码", "[已隐藏] ←验证码", "sms_code"),
        ("验证码→4719", "验证码→[已隐藏]", "sms_code"),
        ("验证码 -> 593018", "验证码 -> [已隐藏]", "sms_code"),
        ("验证码 ➡ 593018", "验证码 ➡ [已隐藏]", "sms_code"),
        ("👉593018 是验证码", "👉[已隐藏] 是验证码", "sms_code"),
        ("密码 ==> 246810", "密码 ==> [已隐藏]", "pin"),
        ("246810 ← 这是密码", "[已隐藏] ← 这是密码", "pin"),
        ("CVV→381", "CVV→[已隐藏]", "cvv"),
        ("有效期 → 09/28", "有效期 → [已隐藏]", "expiry"),
    ],
)
def test_cues_typed_partly_in_pinyin_or_pointed_at(text: str, masked: str, kind: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, (kind,))


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        ("the 3 digits on the back are 906", "the 3 digits on the back are [已隐藏]", "cvv"),
        ("the three digits on the back are 906", "the three digits on the back are [已隐藏]", "cvv"),
        ("digits on the back of the card: 451", "digits on the back of the card: [已隐藏]", "cvv"),
        ("back of my card says 318", "back of my card says [已隐藏]", "cvv"),
        ("the 3-digit code on the back is 906", "the 3-digit code on the back is [已隐藏]", "cvv"),
        ("the CVV on my card is 381", "the CVV on my card is [已隐藏]", "cvv"),
        ("CVV code 906", "CVV code [已隐藏]", "cvv"),
        ("security code 123", "security code [已隐藏]", "cvv"),
        ("CVV is 123", "CVV is [已隐藏]", "cvv"),
        ("381 is the cvv", "[已隐藏] is the cvv", "cvv"),
        ("my PIN is 1234", "my PIN is [已隐藏]", "pin"),
        ("PIN code 1234", "PIN code [已隐藏]", "pin"),
        ("the code they sent is 123456", "the code they sent is [已隐藏]", "sms_code"),
        ("The OTP I received was 593018", "The OTP I received was [已隐藏]", "sms_code"),
        ("593018 is the code", "[已隐藏] is the code", "sms_code"),
        ("expiry 07/27", "expiry [已隐藏]", "expiry"),
        ("expires 07/27", "expires [已隐藏]", "expiry"),
        ("expiring 07/27", "expiring [已隐藏]", "expiry"),
        ("card expiry date: 07/27", "card expiry date: [已隐藏]", "expiry"),
        ("valid till 07/27", "valid till [已隐藏]", "expiry"),
        ("good through 07/27", "good through [已隐藏]", "expiry"),
    ],
)
def test_english_descriptions(text: str, masked: str, kind: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, (kind,))


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        # A CVV read digit by digit after its cue.
        ("cvv 码：三八一", "cvv 码：[已隐藏]", "cvv"),
        ("安全码幺二三", "安全码[已隐藏]", "cvv"),
        ("CVV：幺零八", "CVV：[已隐藏]", "cvv"),
        ("安全码是三 八 一", "安全码是[已隐藏]", "cvv"),
        # A year and month in numerals after an expiry cue.
        ("有效期是二八年九月", "有效期是[已隐藏]", "expiry"),
        ("有效期二七年三月", "有效期[已隐藏]", "expiry"),
        ("有效期：二零二九年十二月", "有效期：[已隐藏]", "expiry"),
        ("有效期二〇二八年九月", "有效期[已隐藏]", "expiry"),
        ("有效期：二八年 9 月", "有效期：[已隐藏]", "expiry"),
        # Shortened expiry cues.
        ("效期 07/27", "效期 [已隐藏]", "expiry"),
        ("效期：0727", "效期：[已隐藏]", "expiry"),
        ("卡片效期是 09/28", "卡片效期是 [已隐藏]", "expiry"),
        ("有效至 07/27", "有效至 [已隐藏]", "expiry"),
        ("有效至2028年7月", "有效至[已隐藏]", "expiry"),
        ("有效截至 07/27", "有效截至 [已隐藏]", "expiry"),
        ("到期年月 07/27", "到期年月 [已隐藏]", "expiry"),
        ("到期年月：2027/09", "到期年月：[已隐藏]", "expiry"),
        ("有效年月 11/29", "有效年月 [已隐藏]", "expiry"),
    ],
)
def test_numerals_and_short_cues_for_cvvs_and_expiry(text: str, masked: str, kind: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, (kind,))


@pytest.mark.parametrize(
    "text",
    [
        # Pinyin that spells no cue, arrows between money and words.
        "xiaomi码 3000",
        "ka 3000",
        "卡hao 后四位 1234",
        "mima 忘了，卡里有 20000",
        "验证码 yan 了 3 次",
        "3000 ← 扣款",
        "验证码 → 没收到 → 3000元",
        "尾号1234 → 验证码没收到",
        "11/20 → 被扣了3000",
        # English money, ids and phone numbers near a cue.
        "my code is wrong, they charged 1299",
        "the code expired, order 123456",
        "the code was sent to 13800138000",
        "the code expired after 5 minutes",
        "I was charged 3000 twice, the code never came",
        "call the number on the back of the card 95588",
        "PIN code wrong 3 times",
        # Dates and periods in numerals near expiry cues.
        "有效期到二零二六年十二月三十一日",
        "二〇二六年十一月二十日刷的",
        "二八年九月办的卡",
        "有效期还有三年两个月",
        "二〇二六年十一月到期的账单",
        "有效期二六年",
        "效期还有两年",
        "有效年月是什么意思",
    ],
)
def test_numbers_near_spelled_cues_arrows_and_numerals_survive(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


# --- a later number brought in as another of the same secret ------------------------------


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        (
            "验证码过期了，让我再报一个，第二个是 284615",
            "验证码过期了，让我再报一个，第二个是 [已隐藏]",
            "sms_code",
        ),
        ("验证码第一个没用，第二个是 593018", "验证码第一个没用，第二个是 [已隐藏]", "sms_code"),
        ("验证码失效了，重发的是 449102", "验证码失效了，重发的是 [已隐藏]", "sms_code"),
        ("短信验证码收到两条，后一条是 771203", "短信验证码收到两条，后一条是 [已隐藏]", "sms_code"),
        ("验证码 593018，不对，是 593081", "验证码 [已隐藏]，不对，是 [已隐藏]", "sms_code"),
        ("密码输错两次了，正确的应该是 582036", "密码输错两次了，正确的应该是 [已隐藏]", "pin"),
        ("密码输错3次了，正确的是 582036", "密码输错3次了，正确的是 [已隐藏]", "pin"),
        (
            "老爸说他的密码是 258037，但他总记错成 258073",
            "老爸说他的密码是 [已隐藏]，但他总记错成 [已隐藏]",
            "pin",
        ),
        ("取款密码好像不对，另一个是 802416", "取款密码好像不对，另一个是 [已隐藏]", "pin"),
        ("密码我打错了，对的是 135790", "密码我打错了，对的是 [已隐藏]", "pin"),
        ("密码是 258037 还是 258073", "密码是 [已隐藏] 还是 [已隐藏]", "pin"),
        ("CVV 看错了，正确的是 562", "CVV 看错了，正确的是 [已隐藏]", "cvv"),
        ("有效期我记错了，正确的应该是 09/28", "有效期我记错了，正确的应该是 [已隐藏]", "expiry"),
    ],
)
def test_a_number_brought_in_as_another_of_an_earlier_secret(text: str, masked: str, kind: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, (kind,))


@pytest.mark.parametrize(
    "text",
    [
        # Money, a date, a count, a phone number or another number's label between or after.
        "验证码没收到，第二笔扣了3000",
        "密码错了两次，正确的金额应该是 3000",
        "密码改了，新的是 2026年11月20日改的",
        "验证码发到尾号8000的手机上，第二个是 13800138000",
        "验证码收到了，第二个是 95588 发的",
        "验证码收到两条，第二条是 11:30 收到的",
        "密码输错了，正确的应该是 6 位",
        "验证码过期了，第二个是 10 分钟后收到的",
        "验证码没用，订单号是123456，新的是654321",
        "密码输错，正确的是 1000",
        "密码锁了，第二天 1200 去柜台解锁",
        "验证码输错了，改成 1234 元的那笔",
        "验证码收到了，第2次是 3月5日",
        "验证码错了，对的是 11/20 那笔",
        "验证码没收到，下一个是 12月20日还款",
        "验证码不对，正确的参考号是 512345678901",
        "密码被锁，刚才的是 95588 打来的",
        "验证码错了三次，改成人工，工号 12345",
        "密码错了，扣了 2680",
        "密码还是不对，转了 5000",
        "验证码还是没收到，尾号 1234 的卡",
        "密码不对，错了 3 次",
        "验证码没收到，第二笔2680",
        "密码锁了，另一笔2680",
    ],
)
def test_numbers_after_a_secrets_cue_that_are_not_another_of_it_survive(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


# --- forms pasted with their labels first, approval codes -------------------------------------


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        (
            "卡号/有效期/CVV：5240 7036 2943 1311 / 07/27 / 483",
            "卡号/有效期/CVV：[卡号已隐藏，尾号1311] / [已隐藏] / [已隐藏]",
            ("card_number", "cvv", "expiry"),
        ),
        (
            "卡号、有效期、安全码：6222 0212 3456 7894，09/28，562",
            "卡号、有效期、安全码：[卡号已隐藏，尾号7894]，[已隐藏]，[已隐藏]",
            ("card_number", "cvv", "expiry"),
        ),
        (
            "卡号|有效期|CVV 6222021234567894 | 0928 | 562",
            "卡号|有效期|CVV [卡号已隐藏，尾号7894] | [已隐藏] | [已隐藏]",
            ("card_number", "cvv", "expiry"),
        ),
        # Values apart by spaces alone: the card ends where the expiry can follow it.
        (
            "卡号 有效期 CVV：6222 0212 3456 7894 07/27 483",
            "卡号 有效期 CVV：[卡号已隐藏，尾号7894] [已隐藏] [已隐藏]",
            ("card_number", "cvv", "expiry"),
        ),
        (
            "卡号/有效期：3782 822463 10005 07/27",
            "卡号/有效期：[卡号已隐藏，尾号0005] [已隐藏]",
            ("card_number", "expiry"),
        ),
        ("有效期/CVV：07/27 / 483", "有效期/CVV：[已隐藏] / [已隐藏]", ("cvv", "expiry")),
        ("cvv/有效期：483/07/27", "cvv/有效期：[已隐藏]/[已隐藏]", ("cvv", "expiry")),
        (
            "卡号/密码：6222 0212 3456 7894 / 135790",
            "卡号/密码：[卡号已隐藏，尾号7894] / [已隐藏]",
            ("card_number", "pin"),
        ),
        (
            "卡号和有效期：6222 0212 3456 7894，07/27",
            "卡号和有效期：[卡号已隐藏，尾号7894]，[已隐藏]",
            ("card_number", "expiry"),
        ),
        (
            "Card/Exp/CVV: 4111 1111 1111 1111 / 07/27 / 483",
            "Card/Exp/CVV: [卡号已隐藏，尾号1111] / [已隐藏] / [已隐藏]",
            ("card_number", "cvv", "expiry"),
        ),
    ],
)
def test_a_form_pasted_with_its_labels_first(text: str, masked: str, kinds: tuple[str, ...]) -> None:
    assert mask_secrets(text) == MaskResult(masked, kinds)


@pytest.mark.parametrize(
    "text",
    [
        # Labels without their values, or with other numbers after them.
        "卡号/密码都没给别人，扣了3000",
        "卡号、有效期、CVV 这些银行会问吗",
        "卡号/手机号：尾号1234 / 13800138000",
        "验证码、密码 6 位",
        "有效期/CVV 在卡背面",
        "银行卡、信用卡 3000",
        "卡号和有效期都没给，扣了 3000",
        "卡号 有效期 CVV 都没泄露，扣了 2680",
        "参考号/凭证号：512345678901 / 000123",
        "金额/日期：3000 / 11/20",
        # A slip's approval code is a transaction id.
        "APPR CODE 772031",
        "AUTH CODE 772031",
        "APPROVAL CODE 772031",
        "APPROVAL CODE: 772031 AMOUNT 1299.00",
        "APPROVAL CODE printed at the top: 772031",
        "POS 小票：APPR CODE 772031，REF NO 512345678901",
        "Auth Code:772031",
        "AUTHCODE 772031",
        "授权码 772031",
        "授权号：772031",
        "批准号 772031",
        "授权码是 772031，不是验证码吧",
        # Other codes named in English.
        "order code 123456",
        "transaction code 123456",
        "voucher code 8888",
        "REF NO 512345678901 APPR CODE 772031",
    ],
)
def test_label_lists_without_secrets_and_approval_codes_survive(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


# --- card numbers after a phone's cue, mixed separators ----------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("@客服 6226 2228 0699 1092 这张卡昨天扣两次", "@客服 [卡号已隐藏，尾号1092] 这张卡昨天扣两次"),
        ("客服 4111 1111 1111 1111", "客服 [卡号已隐藏，尾号1111]"),
        ("打电话给客服说 6222 0212 3456 7894 扣了两次", "打电话给客服说 [卡号已隐藏，尾号7894] 扣了两次"),
        ("拨打 6222021234567894", "拨打 [卡号已隐藏，尾号7894]"),
        ("微信号 6226222806991092", "微信号 [卡号已隐藏，尾号1092]"),
        ("尾号 6222 0212 3456 7894", "尾号 [卡号已隐藏，尾号7894]"),
        ("热线 6222 0212 3456 7890 128", "热线 [卡号已隐藏，尾号0128]"),
        # Any mix of separators.
        ("卡号 3528 6437-5116-7770", "卡号 [卡号已隐藏，尾号7770]"),
        ("3528 6437−5116−7770", "[卡号已隐藏，尾号7770]"),  # minus signs
        ("4111~1111~1111~1111", "[卡号已隐藏，尾号1111]"),
        ("6222\u200b0212\u200b3456\u200b7894", "[卡号已隐藏，尾号7894]"),  # zero-width spaces
        ("6222 021234-567894", "[卡号已隐藏，尾号7894]"),
        ("3782 822463-10005", "[卡号已隐藏，尾号0005]"),
        ("卡号 6222·0212 3456-7890", "卡号 [卡号已隐藏，尾号7890]"),
    ],
)
def test_card_numbers_after_phone_cues_and_with_mixed_separators(text: str, masked: str) -> None:
    assert mask_secrets(text) == MaskResult(masked, ("card_number",))


@pytest.mark.parametrize(
    "text",
    [
        "客服 6222 0212 3456 7890",  # fails Luhn: a phone's cue before it keeps it as typed
        "参考号 6222 0212 3456 7894",
        "订单号 4111 1111 1111 1111",
        "流水号 6222021234567894",
        "客服电话 95588",
        "拨打 4008208888",
        "电话 010-88886666",
        "会员卡号 88001234",
        "6222 021234-567890",  # mixed separators, uneven groups, fails Luhn
        "3000~5000",
        "退款3~5个工作日",
    ],
)
def test_labelled_ids_phone_numbers_and_uneven_mixed_groups_survive(text: str) -> None:
    assert mask_secrets(text) == MaskResult(text, ())


def test_only_the_secret_is_replaced_among_numbers_that_stay() -> None:
    text = "".join(
        [
            "工行尾号1234，11月20日刷了¥1,299.00，",
            "参考号512345678901，验证码654321，客服95588，WS-20261120-0003",
        ]
    )
    assert mask_secrets(text) == MaskResult(text.replace("654321", HIDDEN), ("sms_code",))


# --- a card number over two messages -------------------------------------------------------


def conversation(*messages: str, previous: SplitState | None = None) -> list[str]:
    stored = []
    for message in messages:
        result, previous = mask_continuing(message, previous)
        stored.append(result.text)
    return stored


@pytest.mark.parametrize(
    ("messages", "stored"),
    [
        (("卡号6222 0212", "3456 7890"), ["卡号6222 02[已隐藏]", "[卡号已隐藏，尾号7890]"]),
        (("6222 0212 3456", "7894"), ["6222 02[已隐藏]", "[卡号已隐藏，尾号7894]"]),
        (("622202123456", "7894"), ["622202[已隐藏]", "[卡号已隐藏，尾号7894]"]),
        (("我的卡号是 622202", "1234567894"), ["我的卡号是 622202", "[卡号已隐藏，尾号7894]"]),
        (("6222", "0212 3456 7894"), ["6222", "[卡号已隐藏，尾号7894]"]),  # Luhn-valid together
        (("6222", "0212 3456 7890"), ["6222", "[卡号已隐藏，尾号7890]"]),  # 16 digits grouped as on a card
        (("卡号6222 0212 3456", "后面是 7890"), ["卡号6222 02[已隐藏]", "后面是 [卡号已隐藏，尾号7890]"]),
        # A few words before the rest.
        (("卡号6222 0212", "接上条 3456 7890"), ["卡号6222 02[已隐藏]", "接上条 [卡号已隐藏，尾号7890]"]),
        (
            ("卡号6222 0212 3456", "刚才没发完：7890"),
            ["卡号6222 02[已隐藏]", "刚才没发完：[卡号已隐藏，尾号7890]"],
        ),
        (("6222 0212 3456", "还有 7894"), ["6222 02[已隐藏]", "还有 [卡号已隐藏，尾号7894]"]),
        # Eleven digits starting with 1, grouped in fours as the card's are, or unbroken to 19.
        (("卡号是6222 0212", "1345 6789 012"), ["卡号是6222 02[已隐藏]", "[卡号已隐藏，尾号9012]"]),
        (
            ("卡号是6222 0212", "剩下的 1345-6789-012"),
            ["卡号是6222 02[已隐藏]", "剩下的 [卡号已隐藏，尾号9012]"],
        ),
        (("卡号是6222 0212", "13456789012"), ["卡号是6222 02[已隐藏]", "[卡号已隐藏，尾号9012]"]),
        (
            ("卡号6222 0212 3456", "7890 扣了3000元"),
            ["卡号6222 02[已隐藏]", "[卡号已隐藏，尾号7890] 扣了3000元"],
        ),
        (("卡号6222 0212", "3000元"), ["卡号6222 02[已隐藏]", "3000元"]),
        (
            ("卡号是6222", "0212", "3456", "7890"),
            ["卡号是6222", HIDDEN, HIDDEN, "[卡号已隐藏，尾号7890]"],
        ),
        ((UNIONPAY_16[:16], "128"), ["[卡号已隐藏，尾号7894]", HIDDEN]),  # 19 digits typed 16 + 3
        # A cut prefix not at the end still shows only six digits; the next message is free.
        (("6222 0212 3456 后面的等下发", "7890"), ["6222 02[已隐藏] 后面的等下发", "7890"]),
    ],
)
def test_no_two_messages_show_more_than_six_and_four_digits(messages: tuple[str], stored: list[str]) -> None:
    assert conversation(*messages) == stored


@pytest.mark.parametrize(
    "messages",
    [
        ("1234", "3000"),  # a last-4, then an amount
        ("尾号1234", "3000"),
        ("3000", "1234"),
        ("参考号123456789012", "3456"),
        ("我的手机 13800138000", "1234"),
        ("账号 13800138000", "1234"),
        ("终端号 12345678", "批次号 000001"),
        ("2026-11-20", "1234 5678"),
        (UNIONPAY_16, "3000元"),
        ("订单号 4200001234202611201234567890", "3000"),
        ("1234", "接上条 3000"),
        ("尾号1234", "还有 5678"),
    ],
)
def test_numbers_in_a_row_that_make_no_card_stay(messages: tuple[str, ...]) -> None:
    assert conversation(*messages) == [mask_secrets(message).text for message in messages]


@pytest.mark.parametrize(
    "second",
    [
        "138 0013 8000",
        "我的电话是 1345 6789 012",
        "手机 13456789012",
        "接上条 3000元",
        "接上条，扣了3000",
        "参考号 123456789012",
        "好的 11/20 刷的",
        "对 2026-11-20",
        "打95588",
        "案件号 WS-20261125-0001",
        "我眼花打得慢，后面是3000元",
        "他后来又扣了，还有 3000",
        "退了一笔，还有 3456",
        "刚才那个号码不对，后面是 138 0013 8000",
    ],
)
def test_after_a_cut_prefix_other_numbers_stay(second: str) -> None:
    assert conversation("卡号6222 0212", second) == ["卡号6222 02[已隐藏]", second]


@pytest.mark.parametrize(
    ("messages", "stored"),
    [
        # Five or six digits named by 银行卡 start a card.
        (("银行卡4367 42", "99 1345 2298"), ["银行卡4367 42", "[卡号已隐藏，尾号2298]"]),
        (("信用卡：622202", "1234567894"), ["信用卡：622202", "[卡号已隐藏，尾号7894]"]),
        (("我的卡 6222 02", "后面是 12 3456 7894"), ["我的卡 6222 02", "后面是 [卡号已隐藏，尾号7894]"]),
        (("銀行卡4367 42", "99 1345 2298"), ["銀行卡4367 42", "[卡号已隐藏，尾号2298]"]),
        # Four named by 银行卡 may be a last-4: continued only into a Luhn-valid card.
        (("工行卡 6222", "0212 3456 7894"), ["工行卡 6222", "[卡号已隐藏，尾号7894]"]),
        # The card's first six, named as such: the rest follows.
        (("卡号前六位 622202", "后面是 1234567894"), ["卡号前六位 622202", "后面是 [卡号已隐藏，尾号7894]"]),
        (("卡号开头 6222", "0212 3456 7894"), ["卡号开头 6222", "[卡号已隐藏，尾号7894]"]),
        (("卡号前六位 622202", "后四位 7894"), ["卡号前六位 622202", "后四位 7894"]),
        # A longer lead-in, with a word that carries on right before the digits.
        (
            ("卡号6222 0212", "我眼花打得慢，后面是3456 7890"),
            ["卡号6222 02[已隐藏]", "我眼花打得慢，后面是[卡号已隐藏，尾号7890]"],
        ),
        (
            ("卡号6222 0212", "不好意思刚才手滑了，剩下的 3456 7890"),
            ["卡号6222 02[已隐藏]", "不好意思刚才手滑了，剩下的 [卡号已隐藏，尾号7890]"],
        ),
        (
            ("卡号 6222 0212", "不好意思，卡号没打完，是 3456 7890"),
            ["卡号 6222 02[已隐藏]", "不好意思，卡号没打完，是 [卡号已隐藏，尾号7890]"],
        ),
        (("卡号 6222 0212", "漏了 3456 7890"), ["卡号 6222 02[已隐藏]", "漏了 [卡号已隐藏，尾号7890]"]),
        (("卡号 6222 0212", "补充：3456 7890"), ["卡号 6222 02[已隐藏]", "补充：[卡号已隐藏，尾号7890]"]),
        (
            ("6222 0212 3456", "不好意思我眼神不好，后几位是 7894"),
            ["6222 02[已隐藏]", "不好意思我眼神不好，后几位是 [卡号已隐藏，尾号7894]"],
        ),
        (
            ("卡號6222 0212", "手機沒電了，接著 3456 7890"),
            ["卡號6222 02[已隐藏]", "手機沒電了，接著 [卡号已隐藏，尾号7890]"],
        ),
    ],
)
def test_short_named_prefixes_and_longer_lead_ins_continue_a_card(
    messages: tuple[str, ...], stored: list[str]
) -> None:
    assert conversation(*messages) == stored


@pytest.mark.parametrize(
    "messages",
    [
        ("工行卡 1234", "5678"),
        ("我的卡 1234", "3000"),
        ("银行卡 12345", "3000元"),
        ("信用卡 50000", "3000"),  # a round number after 信用卡 is its limit
        ("6222开头的卡", "3000"),
        ("尾号1234", "不好意思，后面是 5678"),
    ],
)
def test_named_last4_and_amounts_continue_nothing(messages: tuple[str, ...]) -> None:
    assert conversation(*messages) == [mask_secrets(message).text for message in messages]


@pytest.mark.parametrize(
    ("messages", "stored"),
    [
        # The rest with a note after it.
        (
            ("卡号 6222 0212 3456", "507 147（漏了几位，补上）"),
            ["卡号 6222 02[已隐藏]", "[卡号已隐藏，尾号7147]（漏了几位，补上）"],
        ),
        (
            ("卡号 6222 0212 34", "56 7894（刚才没打全）"),
            ["卡号 6222 02[已隐藏]", "[卡号已隐藏，尾号7894]（刚才没打全）"],
        ),
        (("6222 0212 3456 7894", "128（刚才没打完）"), ["[卡号已隐藏，尾号7894]", "[已隐藏]（刚才没打完）"]),
        # Five digits after 卡号; the rest completes their group of four, though it reads like a phone.
        (("卡号 6225 2", "还有 190 8349 2969"), ["卡号 6225 2", "还有 [卡号已隐藏，尾号2969]"]),
        # A named card number of 13-15 digits ending the message is not yet a whole card.
        (("卡号62284829873643", "31799"), ["卡号622848[已隐藏]", "[卡号已隐藏，尾号1799]"]),
        (("卡号 6228 4829 8736 43", "317 99"), ["卡号 6228 48[已隐藏]", "[卡号已隐藏，尾号1799]"]),
        (("卡号 6222 0212 3456 7", "894（漏了）"), ["卡号 6222 02[已隐藏]", "[已隐藏]（漏了）"]),
    ],
)
def test_rests_with_notes_short_prefixes_and_unfinished_cards(
    messages: tuple[str, ...], stored: list[str]
) -> None:
    assert conversation(*messages) == stored


@pytest.mark.parametrize(
    "messages",
    [
        # After a whole card: counts, a time, a short number with money after it.
        (UNIONPAY_16, "3 笔都是这张卡"),
        (UNIONPAY_16, "2 次"),
        (UNIONPAY_16, "1 还没退"),
        (UNIONPAY_16, "12点刷的"),
        (UNIONPAY_16, "128 还有 3000 元"),
        # A full 15-digit card; a card number of 14 digits with words after it.
        (AMEX, "1234"),
        ("卡号62284829873643 扣了3000", "31799"),
    ],
)
def test_what_follows_a_whole_card_or_a_phone_stays(messages: tuple[str, ...]) -> None:
    assert conversation(*messages) == [mask_secrets(message).text for message in messages]


def test_a_card_the_rest_channel_cut_stays_cut_and_its_rest_hidden() -> None:
    premasked = mask_secrets("卡号62284829873643").text
    assert premasked == "卡号622848[已隐藏]"
    assert conversation(premasked, "31799") == [premasked, HIDDEN]  # six digits shown, then a middle piece


def test_the_rest_channels_premasked_text_gives_the_same_result() -> None:
    for messages in [("卡号6222 0212", "3456 7890"), ("6222", "0212 3456 7894"), (UNIONPAY_16, "128")]:
        premasked = [mask_secrets(message).text for message in messages]
        assert conversation(*premasked) == conversation(*messages)


def test_the_state_holds_no_digits_and_survives_json() -> None:
    _, state = mask_continuing("卡号6222 0212 3456", None)
    assert state == SplitState("prefix", 12)
    _, maybe = mask_continuing("6222", None)
    assert maybe is not None and maybe.kind == "maybe" and "6222" not in maybe.to_json()
    assert SplitState.from_json(maybe.to_json()) == maybe
    assert SplitState.from_json("not json") is None
    assert SplitState.from_json('{"kind": "prefix"}') is None


async def test_the_in_memory_guard_keeps_conversations_apart() -> None:
    guard = InMemorySplitNumberGuard()
    assert (await guard.mask("alice", "卡号6222 0212")).text == "卡号6222 02[已隐藏]"
    assert (await guard.mask("bob", "3456 7890")).text == "3456 78[已隐藏]"  # Bob's own number, cut
    assert await guard.mask("alice", "3456 7890") == MaskResult("[卡号已隐藏，尾号7890]", ("card_number",))


async def test_the_in_memory_guard_forgets_after_its_ttl_and_stays_bounded() -> None:
    assert SPLIT_TTL_SECONDS >= 60
    guard = InMemorySplitNumberGuard(ttl_seconds=0.05, max_conversations=2)
    await guard.mask("alice", "卡号6222 0212")
    time.sleep(0.06)
    assert (await guard.mask("alice", "3456")).text == "3456"
    for sender in ("a", "b", "c"):
        await guard.mask(sender, "卡号6222 0212")
    assert (await guard.mask("a", "3456 7890")).text == "3456 78[已隐藏]"  # evicted: a fresh start
    assert (await guard.mask("c", "3456 7890")).text == "[卡号已隐藏，尾号7890]"


# --- metadata -------------------------------------------------------------------------------


def test_metadata_keeps_only_the_servers_keys() -> None:
    assert clean_metadata(
        {
            "card": "6222021234567894",
            "nested": {"pin": "123456"},
            MASKED_METADATA_KEY: ["sms_code", "card_number", "<script>", 7],
            "wechat_msg_type": "text",
        }
    ) == {MASKED_METADATA_KEY: ["card_number", "sms_code"], "wechat_msg_type": "text"}


@pytest.mark.parametrize("metadata", [None, [], "x", {}, {"a": 1}, {MASKED_METADATA_KEY: "pin"}])
def test_unusable_metadata_becomes_empty(metadata: object) -> None:
    assert clean_metadata(metadata) == {}


def test_kept_metadata_strings_are_masked_and_bounded() -> None:
    cleaned = clean_metadata({"wechat_msg_type": "验证码654321" + "x" * 500})
    assert cleaned["wechat_msg_type"].startswith("验证码[已隐藏]")
    assert len(cleaned["wechat_msg_type"]) <= 64


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # A card number, then a clause that starts with digits: the clause is not part of the number.
        ("账号6222029644625570987，11月25号在餐厅刷的", "账号[卡号已隐藏，尾号0987]，11月25号在餐厅刷的"),
        ("卡号6222029644625570987，3000元", "卡号[卡号已隐藏，尾号0987]，3000元"),
        ("卡号：6227002728531593561，2025年11月24日", "卡号：[卡号已隐藏，尾号3561]，2025年11月24日"),
        ("【建设银行】640392（动态口令），切勿泄露", "【建设银行】[已隐藏]（动态口令），切勿泄露"),
        ("709215——验证码", "[已隐藏]——验证码"),
        ("密吗是463019", "密吗是[已隐藏]"),
    ],
)
def test_a_card_number_ends_at_a_clause_and_more_code_spellings(text: str, masked: str) -> None:
    assert mask_secrets(text).text == masked


@pytest.mark.parametrize(
    "text", ["要保密吗？我卡号后四位1234", "2026—11—20刷的", "卡号后四位1234 — 扣了两次"]
)
def test_dashes_and_near_cues_that_are_not_secrets(text: str) -> None:
    assert mask_secrets(text).text == text
