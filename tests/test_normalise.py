from datetime import date, datetime

import pytest

from bot.domain import clock
from bot.domain.masking import mask_secrets
from bot.domain.normalise import (
    EntityMatch,
    card_last4_from,
    find_entities,
    normalise_text,
    normalise_with_offsets,
    parse_amount,
    parse_card_type,
    parse_date,
)

TODAY = date(2026, 11, 25)  # a Wednesday


def found(text: str) -> list[tuple[str, str, object]]:
    return [(m.entity, m.text, m.value) for m in find_entities(text, TODAY)]


def typed(value: object) -> tuple[object, type]:
    return value, type(value)


# --- clock ------------------------------------------------------------------


def test_today_follows_pinned_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WUSHUA_TODAY", "2026-11-25")
    assert clock.today() == TODAY
    assert clock.now().date() == TODAY


def test_today_is_china_date_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WUSHUA_TODAY", raising=False)
    assert clock.today() == datetime.now(clock.CHINA).date()


def test_find_entities_defaults_to_clock_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WUSHUA_TODAY", "2026-11-25")
    assert find_entities("昨天") == [EntityMatch("date", 0, 2, "昨天", "2026-11-24")]


# --- normalise_text -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("ka卡", "卡"),
        ("刷ka卡", "刷卡"),
        ("信xi息", "信息"),
        ("信XI息", "信息"),
        ("身份zheng证", "身份证"),
        ("身份XI信息", "身份信息"),
        ("银行ka卡账户", "银行卡账户"),
        ("卡ka", "卡"),
        ("ｋａ卡", "卡"),
        ("ＡＢＣ１２３：，", "ABC123:,"),
        ("￥３０００", "¥3000"),
        ("", ""),
    ],
)
def test_normalise_text_cleans(raw: str, clean: str) -> None:
    assert normalise_text(raw) == clean


@pytest.mark.parametrize(
    "text",
    [
        "ICBC信用卡",
        "ABC农行",
        "CCB建行",
        "GF广发",
        "POS机",
        "用APP申请",
        "ok好的",
        "app下载",
        "pin码",
        "Visa卡",
        "hello world",
        "ka",
        "ka 卡",
        "mama码",
        "3000元",
        "WS-20261120-0003",
        "😭昨天<b>刷卡</b>",
    ],
)
def test_normalise_text_leaves_real_words_alone(text: str) -> None:
    assert normalise_text(text) == text


def test_normalise_with_offsets_points_back_into_input() -> None:
    assert normalise_with_offsets("刷ka卡３") == ("刷卡3", [0, 3, 4])


# --- amounts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "value"),
    [
        ("3000元", "3000元", 3000),
        ("3000块", "3000块", 3000),
        ("3000 元", "3000 元", 3000),
        ("刷了两千五", "两千五", 2500),
        ("一千二百块", "一千二百块", 1200),
        ("¥1,299.00", "¥1,299.00", 1299),
        ("￥88.5", "￥88.5", 88.5),
        ("五百块", "五百块", 500),
        ("多扣了1.2万", "1.2万", 12000),
        ("扣了3k", "3k", 3000),
        ("被刷了3K", "3K", 3000),
        ("三百块钱", "三百块钱", 300),
        ("RMB 200", "RMB 200", 200),
        ("200rmb", "200rmb", 200),
        ("扣了两百", "两百", 200),
        ("多扣了一万", "一万", 10000),
        ("扣款一万二", "一万二", 12000),
        ("金额：3000", "3000", 3000),
        ("金额是3000", "3000", 3000),
        ("扣了 3000", "3000", 3000),
        ("消费3000", "3000", 3000),
        ("付了88.5", "88.5", 88.5),
        ("多扣了3.5", "3.5", 3.5),
        ("是3000", "3000", 3000),
        ("两块五", "两块五", 2.5),
        ("11.20元", "11.20元", 11.2),
        ("人民币500", "人民币500", 500),
        ("3000元整", "3000元", 3000),
    ],
)
def test_amounts(text: str, span: str, value: int | float) -> None:
    matches = find_entities(text, TODAY)
    assert [(m.entity, m.text) for m in matches] == [("amount", span)]
    assert typed(matches[0].value) == typed(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3000", []),
        ("两千五", []),
        ("1234", []),
        ("尾号1234", [("card_last4", "1234", "1234")]),
        ("尾号是1234", [("card_last4", "1234", "1234")]),
        ("2026-11-20", [("date", "2026-11-20", "2026-11-20")]),
        ("消费了2026-11-20", [("date", "2026-11-20", "2026-11-20")]),
        ("WS-20261120-0003", [("case_id", "WS-20261120-0003", "WS-20261120-0003")]),
        ("电话13800138000", []),
        ("是13800138000", []),
        ("打95588", []),
        ("客服是95588", []),
        ("参考号是123456789012", []),
        ("凭证号是000123", []),
        ("刷了2次", []),
        ("扣了两笔", []),
        ("刷了一下", []),
        ("这是一笔误刷", []),
        ("刷了3000多", []),
        ("扣了3kg", []),
        ("刷了3:30", []),
        ("11.20%", []),
    ],
)
def test_numbers_that_are_not_amounts(text: str, expected: list[tuple[str, str, object]]) -> None:
    assert found(text) == expected


# --- dates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "iso"),
    [
        ("今天", "今天", "2026-11-25"),
        ("昨天", "昨天", "2026-11-24"),
        ("前天", "前天", "2026-11-23"),
        ("大前天", "大前天", "2026-11-22"),
        ("上周五", "上周五", "2026-11-20"),
        ("上个星期五", "上个星期五", "2026-11-20"),
        ("上礼拜五", "上礼拜五", "2026-11-20"),
        ("上周一", "上周一", "2026-11-16"),
        ("上周日", "上周日", "2026-11-22"),
        ("上上周一", "上上周一", "2026-11-09"),
        ("这周一", "这周一", "2026-11-23"),
        ("本周三", "本周三", "2026-11-25"),
        ("周三", "周三", "2026-11-25"),
        ("周四", "周四", "2026-11-19"),
        ("这周五", "这周五", "2026-11-20"),
        ("星期天", "星期天", "2026-11-22"),
        ("礼拜天", "礼拜天", "2026-11-22"),
        ("周3", "周3", "2026-11-25"),
        ("11月20号", "11月20号", "2026-11-20"),
        ("11月20日", "11月20日", "2026-11-20"),
        ("十一月二十号", "十一月二十号", "2026-11-20"),
        ("11.20", "11.20", "2026-11-20"),
        ("11/20", "11/20", "2026-11-20"),
        ("2026-11-20", "2026-11-20", "2026-11-20"),
        ("2026/11/20", "2026/11/20", "2026-11-20"),
        ("2026年11月20日", "2026年11月20日", "2026-11-20"),
        ("12月1号", "12月1号", "2025-12-01"),
        ("2025年12月1日", "2025年12月1日", "2025-12-01"),
        ("11月25号", "11月25号", "2026-11-25"),
        ("11月26号", "11月26号", "2025-11-26"),
        ("20号", "20号", "2026-11-20"),
        ("30号", "30号", "2026-10-30"),
        ("是11.20", "11.20", "2026-11-20"),
    ],
)
def test_dates(text: str, span: str, iso: str) -> None:
    assert found(text) == [("date", span, iso)]


@pytest.mark.parametrize(
    "text", ["每周一", "一周一次", "1号线", "2月30日", "2月29日", "13/40", "周末", "上周"]
)
def test_not_dates(text: str) -> None:
    assert found(text) == []


# --- banks, card tails, card types, case ids ----------------------------------


@pytest.mark.parametrize(
    ("text", "span", "bank"),
    [
        ("工行", "工行", "中国工商银行"),
        ("中国工商银行", "中国工商银行", "中国工商银行"),
        ("ICBC", "ICBC", "中国工商银行"),
        ("在icbc的卡", "icbc", "中国工商银行"),
        ("Bocom", "Bocom", "交通银行"),
        ("农行", "农行", "中国农业银行"),
        ("abc", "abc", "中国农业银行"),
        ("中国银行", "中国银行", "中国银行"),
        ("中行", "中行", "中国银行"),
        ("邮政储蓄银行", "邮政储蓄银行", "中国邮政储蓄银行"),
        ("上海浦东发展银行", "上海浦东发展银行", "浦发银行"),
    ],
)
def test_banks(text: str, span: str, bank: str) -> None:
    assert found(text) == [("bank", span, bank)]


@pytest.mark.parametrize("text", ["abcd", "ABCD", "xICBC", "abc1234", "ICBCs"])
def test_ascii_bank_codes_only_as_whole_words(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "last4"),
    [
        ("尾号1234", "1234"),
        ("尾号是 1234", "1234"),
        ("尾号为1234", "1234"),
        ("后四位：5678", "5678"),
        ("卡号后4位为9012", "9012"),
        ("末四位1111", "1111"),
        ("末尾 2222", "2222"),
        ("1234结尾的卡", "1234"),
        ("[卡号已隐藏，尾号1234]", "1234"),
    ],
)
def test_card_tails(text: str, last4: str) -> None:
    assert found(text) == [("card_last4", last4, last4)]


@pytest.mark.parametrize("text", ["尾号12345", "尾号123", "卡号1234"])
def test_not_card_tails(text: str) -> None:
    assert [m for m in find_entities(text, TODAY) if m.entity == "card_last4"] == []


def test_card_tail_survives_masking() -> None:
    masked = mask_secrets("我的卡4111 1111 1111 1111昨天被刷了").text
    assert found(masked) == [("card_last4", "1111", "1111"), ("date", "昨天", "2026-11-24")]


@pytest.mark.parametrize(
    ("text", "span", "card_type"),
    [
        ("信用卡", "信用卡", "credit"),
        ("贷记卡", "贷记卡", "credit"),
        ("my credit card", "credit card", "credit"),
        ("信用ka卡", "信用ka卡", "credit"),
        ("储蓄卡", "储蓄卡", "debit"),
        ("借记卡", "借记卡", "debit"),
        ("Debit Card", "Debit Card", "debit"),
    ],
)
def test_card_types(text: str, span: str, card_type: str) -> None:
    assert found(text) == [("card_type", span, card_type)]


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("WS-20261120-0003", "WS-20261120-0003"),
        ("ws-20261120-0003", "ws-20261120-0003"),
        ("WS - 20261120 - 0003", "WS - 20261120 - 0003"),
        ("案件号WS-20261120-0003进度", "WS-20261120-0003"),
    ],
)
def test_case_ids(text: str, span: str) -> None:
    assert found(text) == [("case_id", span, "WS-20261120-0003")]


@pytest.mark.parametrize(
    "text", ["WS20261120-0003", "XWS-20261120-0003", "WS-2026112-0003", "WS-20261120-00031"]
)
def test_not_case_ids(text: str) -> None:
    assert [m for m in find_entities(text, TODAY) if m.entity == "case_id"] == []


# --- whole messages -----------------------------------------------------------


def test_offsets_index_the_original_text() -> None:
    assert find_entities("信用ka卡扣了￥３０００", TODAY) == [
        EntityMatch("card_type", 0, 5, "信用ka卡", "credit"),
        EntityMatch("amount", 7, 12, "￥３０００", 3000),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "昨天工行多扣了两千五",
            [("date", "昨天", "2026-11-24"), ("bank", "工行", "中国工商银行"), ("amount", "两千五", 2500)],
        ),
        (
            "Yesterday ICBC信用卡 charged me ¥3000 twice, 尾号 8888",
            [
                ("bank", "ICBC", "中国工商银行"),
                ("card_type", "信用卡", "credit"),
                ("amount", "¥3000", 3000),
                ("card_last4", "8888", "8888"),
            ],
        ),
        (
            "😭😭上周五在招行被刷了两次3000元💸",
            [("date", "上周五", "2026-11-20"), ("bank", "招行", "招商银行"), ("amount", "3000元", 3000)],
        ),
        (
            '<div class="msg">11月20号在<b>建行</b>被扣了<span>3000元</span></div>',
            [
                ("date", "11月20号", "2026-11-20"),
                ("bank", "建行", "中国建设银行"),
                ("amount", "3000元", 3000),
            ],
        ),
        (
            "尾号1234扣了3000，客服95588说等等，案件WS-20261120-0003",
            [
                ("card_last4", "1234", "1234"),
                ("amount", "3000", 3000),
                ("case_id", "WS-20261120-0003", "WS-20261120-0003"),
            ],
        ),
        ("", []),
    ],
)
def test_whole_messages(text: str, expected: list[tuple[str, str, object]]) -> None:
    assert found(text) == expected


# How long the worst inputs take is measured by `make bench` (bench/text_rules.py), not here.
def test_every_entity_of_a_long_message_is_found() -> None:
    text = "昨天在工行扣了3000元，尾号1234。" * 250
    matches = find_entities(text, TODAY)
    assert len(text) == 5000
    assert [m.entity for m in matches[:4]] == ["date", "bank", "amount", "card_last4"]
    assert len(matches) == 1000


@pytest.mark.parametrize(
    "text", ["1" * 5000, "一" * 5000, "ka" * 2500, "¥" * 5000, "尾号" * 2500, "周" * 5000]
)
def test_repetitive_input_finds_nothing(text: str) -> None:
    assert find_entities(text, TODAY) == []


def test_long_obfuscated_text_is_cleaned() -> None:
    assert normalise_text("ka卡" * 1250) == "卡" * 1250


# --- single-value parsers -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("两千五", 2500),
        ("3000", 3000),
        (" 3000 ", 3000),
        ("一万二", 12000),
        ("3000元", 3000),
        ("¥1,299.00", 1299),
        ("￥88.5", 88.5),
        ("1.2万", 12000),
        ("3k", 3000),
        ("三百块钱", 300),
        ("RMB 200", 200),
        ("200rmb", 200),
        ("两百", 200),
        ("一万", 10000),
        ("两块五", 2.5),
        ("五十八点五", 58.5),
        ("１２００", 1200),
        ("大概扣了3000", 3000),
    ],
)
def test_parse_amount(text: str, value: int | float) -> None:
    assert typed(parse_amount(text)) == typed(value)


@pytest.mark.parametrize("text", ["abc", "", "尾号1234", "昨天", "几百块"])
def test_parse_amount_rejects(text: str) -> None:
    assert parse_amount(text) is None


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("昨天", date(2026, 11, 24)),
        ("就是昨天下午", date(2026, 11, 24)),
        ("2026-11-20", date(2026, 11, 20)),
        ("11月20号", date(2026, 11, 20)),
        ("上周五", date(2026, 11, 20)),
    ],
)
def test_parse_date(text: str, day: date) -> None:
    assert parse_date(text, TODAY) == day


@pytest.mark.parametrize("text", ["abc", "", "2月30日", "3000元"])
def test_parse_date_rejects(text: str) -> None:
    assert parse_date(text, TODAY) is None


@pytest.mark.parametrize(
    ("text", "last4"),
    [
        ("1234", "1234"),
        ("尾号1234", "1234"),
        ("4111 1111 1111 1111", "1111"),
        ("4111-1111-1111-1111", "1111"),
        ("6222021234567890128", "0128"),
        ("[卡号已隐藏，尾号1111]", "1111"),
        ("１２３４", "1234"),
    ],
)
def test_card_last4_from(text: str, last4: str) -> None:
    assert card_last4_from(text) == last4


@pytest.mark.parametrize("text", ["12345", "123", "abcd", "", "尾号12345", "13800138000"])
def test_card_last4_from_rejects(text: str) -> None:
    assert card_last4_from(text) is None


@pytest.mark.parametrize(
    ("text", "card_type"),
    [
        ("信用卡", "credit"),
        ("借记卡", "debit"),
        ("我用的是储蓄卡", "debit"),
        ("credit", "credit"),
        ("DEBIT", "debit"),
        ("credit card", "credit"),
        ("信用ka卡", "credit"),
    ],
)
def test_parse_card_type(text: str, card_type: str) -> None:
    assert parse_card_type(text) == card_type


@pytest.mark.parametrize("text", ["abc", "", "卡", "信用"])
def test_parse_card_type_rejects(text: str) -> None:
    assert parse_card_type(text) is None


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("重复扣款了，1299.5元扣了两遍", 1299.5),  # full-width comma before the number
        ("日期10月31日，5k", 5000),  # a multiplier marks money on its own
        ("一共1.2万", 12000),
    ],
)
def test_amount_after_punctuation_or_with_a_multiplier(text: str, amount: float) -> None:
    found = [match.value for match in find_entities(text, TODAY) if match.entity == "amount"]
    assert found == [amount]


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("58刷成了580", [58, 580]),
        ("本来300刷成了3000", [300, 3000]),
        ("刷了8800，实际应该是880", [8800, 880]),
        ("应该是150，刷成了1500", [150, 1500]),
        ("我本来有3张卡", []),
    ],
)
def test_both_amounts_of_a_wrong_entry_are_money(text: str, amounts: list[int]) -> None:
    assert [value for entity, _, value in found(text) if entity == "amount"] == amounts


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("扣了两笔，每笔199", [199]),
        ("被扣了两次，每次300", [300]),
        ("重复扣款 2 笔，各 459", [459]),
        ("每次3笔", []),
    ],
)
def test_an_amount_per_charge_is_money(text: str, amounts: list[int]) -> None:
    assert [value for entity, _, value in found(text) if entity == "amount"] == amounts


def test_an_amount_after_one_more_charge_is_money() -> None:
    assert [value for entity, _, value in found("又给我多刷了一笔500") if entity == "amount"] == [500]
