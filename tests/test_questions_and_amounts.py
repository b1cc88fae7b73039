"""Reading a message: does it ask, which amount is which, and is 工商 a bank here."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.amounts import (
    DUPLICATE,
    WRONG_AMOUNT,
    AmountRoles,
    amount_roles,
    read_amount_answer,
    read_correct_amount_answer,
)
from bot.domain.normalise import amount_mentions, find_entities
from bot.rasa.nlu.questions import asks_question


@pytest.mark.parametrize(
    "text",
    [
        "怎么退给他",
        "钱怎么要回来",
        "重复扣款了怎么办",
        "POS机误刷了，钱能退回来吗",
        "我们店员把3000刷成了30000，怎么退给顾客",
        "交易失败为什么还扣款",
        "昨天给客户刷错了，今天还能撤销吗",
        "刷卡失败，钱是不是被冻结了？",
        "被扣了两次能退么",
        "POS误刷 想要回多扣的钱 怎么搞",
    ],
)
def test_questions(text: str) -> None:
    assert asks_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "我被重复扣款了",
        "我在华联超市刷卡被重复扣款了，多扣了3000元",
        "莫名其妙被扣了两千五，我什么都没买",
        "不知道谁在星巴克用我的卡刷了两杯咖啡钱",
        "我是商户，给顾客刷错金额了",
        "误刷！！！重复扣费了！！！",
        "我在超市没买什么",
    ],
)
def test_statements(text: str) -> None:
    assert not asks_question(text)


@pytest.mark.parametrize(
    ("text", "roles"),
    [
        ("本来300刷成了3000", AmountRoles(3000, 300, None, WRONG_AMOUNT)),
        ("少看了一个零，刷了8800，实际应该是880", AmountRoles(8800, 880, None, WRONG_AMOUNT)),
        ("应该是150，刷成了1500", AmountRoles(1500, 150, None, WRONG_AMOUNT)),
        ("我们店员把3000刷成了30000", AmountRoles(30000, 3000, None, WRONG_AMOUNT)),
        ("明明只消费了两千五，账单显示扣了两万五", AmountRoles(25000, 2500, None, WRONG_AMOUNT)),
        ("扣了3000，应该是300", AmountRoles(3000, 300, None, WRONG_AMOUNT)),
        ("金额不对，多扣了我500块", AmountRoles(None, None, 500, WRONG_AMOUNT)),
        ("我在华联超市刷卡被重复扣款了，多扣了3000元", AmountRoles(None, None, 3000, DUPLICATE)),
        ("建行信用卡重复扣款 2 笔，各 ¥459.00", AmountRoles(459, None, None, DUPLICATE)),
        ("多扣了一笔800", AmountRoles(800, None, None, DUPLICATE)),
        ("在永辉超市被扣了两次，每次88元", AmountRoles(88, None, None, DUPLICATE)),
        ("不是500是5000", AmountRoles(5000, None, None, None)),
        ("3000", AmountRoles(3000, None, None, None)),
        ("两千五", AmountRoles(2500, None, None, None)),
        ("应该是300", AmountRoles(None, 300, None, WRONG_AMOUNT)),
        ("尾号1234，11月20号", AmountRoles(None, None, None, None)),
        ("刷卡金额和小票上的不一样", AmountRoles(None, None, None, WRONG_AMOUNT)),
        ("刷了两次卡，两次都成功了", AmountRoles(None, None, None, DUPLICATE)),
    ],
)
def test_amount_roles(text: str, roles: AmountRoles) -> None:
    assert amount_roles(text) == roles


def test_a_bare_number_is_an_amount_only_where_amounts_are_expected() -> None:
    assert [m.value for m in amount_mentions("本来300刷成了3000")] == [300, 3000]
    assert [m.entity for m in find_entities("大概300吧")] == []
    assert [m.value for m in amount_mentions("大概300吧")] == [300]
    assert amount_mentions("尾号1234") == [] and amount_mentions("11月20号") == []


def test_an_overcharge_on_a_duplicate_is_the_extra_transaction() -> None:
    answer = read_amount_answer("重复扣款了，多扣了3000元")
    assert (answer.charged, answer.correct, answer.overcharge, answer.issue) == (3000, None, None, DUPLICATE)


def test_an_overcharge_on_a_wrong_amount_waits_for_the_charged_amount() -> None:
    first = read_amount_answer("金额不对，多扣了我500块")
    assert (first.charged, first.overcharge, first.issue) == (None, 500, WRONG_AMOUNT)
    second = read_amount_answer("3000", issue=first.issue, overcharge=first.overcharge)
    assert (second.charged, second.correct) == (3000, 2500)


def test_an_answer_without_amounts_names_none() -> None:
    assert not read_amount_answer("很多钱").names_an_amount


@pytest.mark.parametrize(
    ("text", "charged_so_far", "expected"),
    [
        ("300", 3000, (300, None)),
        ("应该是300元", 3000, (300, None)),
        ("扣了3500，应该是350", 3000, (350, 3500)),
        ("多扣了500", 3000, (2500, None)),
    ],
)
def test_the_correct_amount_answer(text: str, charged_so_far: float, expected: tuple) -> None:
    assert read_correct_amount_answer(text, charged_so_far) == expected


TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    "text", ["去工商投诉", "招商引资", "平安到家", "我在工商局办执照", "一路平安", "平安夜快乐"]
)
def test_an_alias_that_is_an_ordinary_word_is_no_bank_without_context(text: str) -> None:
    assert [m for m in find_entities(text, TODAY) if m.entity == "bank"] == []


@pytest.mark.parametrize(
    ("text", "bank"),
    [
        ("工商", "中国工商银行"),
        ("工商的", "中国工商银行"),
        ("是招商", "招商银行"),
        ("招商的卡", "招商银行"),
        ("平安信用卡被刷了两次", "平安银行"),
        ("光大的卡被刷了", "中国光大银行"),
        ("工商App上显示扣了两笔", "中国工商银行"),
        ("工商尾号1234", "中国工商银行"),
        ("去工行投诉", "中国工商银行"),
        ("招商银行", "招商银行"),
    ],
)
def test_an_alias_that_is_an_ordinary_word_is_a_bank_in_context(text: str, bank: str) -> None:
    assert [m.value for m in find_entities(text, TODAY) if m.entity == "bank"] == [bank]


@pytest.mark.parametrize(
    "text",
    ["商户不肯退款，我要去工商投诉", "平安保险扣了我两次保费", "他们在搞招商，刷卡的事回头再说"],
)
def test_an_ordinary_phrase_stays_ordinary_in_a_message_about_payments(text: str) -> None:
    assert [m for m in find_entities(text, TODAY) if m.entity == "bank"] == []


@pytest.mark.parametrize(
    ("text", "bank"),
    [
        ("平安扣了我两次", "平安银行"),
        ("用招商刷的，扣了两笔", "招商银行"),
        ("民生那边显示交易成功了", "中国民生银行"),
    ],
)
def test_an_alias_in_a_message_about_payments_is_a_bank(text: str, bank: str) -> None:
    assert [m.value for m in find_entities(text, TODAY) if m.entity == "bank"] == [bank]


# --- amounts without a unit, and "多扣了" as a wrong amount ------------------------


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("今天在面包店刷建行卡，46被扣了两次", 46),
        ("一笔327给刷了两遍", 327),
        ("1450重复扣了", 1450),
        ("被扣了两回钱，一次95", 95),
        ("每单63扣了两单", 63),
    ],
)
def test_a_bare_number_that_was_charged_is_an_amount(text: str, amount: int) -> None:
    assert [m.value for m in find_entities(text, TODAY) if m.entity == "amount"] == [amount]


@pytest.mark.parametrize("text", ["尾号6621被扣了两次", "5号被扣了两次", "刷了3次", "密码6位数"])
def test_a_number_that_counts_or_names_something_else_is_no_amount(text: str) -> None:
    assert [m for m in find_entities(text, TODAY) if m.entity == "amount"] == []


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        ("修车的时候刷卡被多扣了", WRONG_AMOUNT),
        ("收银员多收了我200", WRONG_AMOUNT),
        ("店里刷错了客人的卡，金额多了", WRONG_AMOUNT),
        ("收银员给我多刷了一单", DUPLICATE),
        ("多扣了两笔", DUPLICATE),
        ("重复扣款了，多扣了3000元", DUPLICATE),
    ],
)
def test_charged_more_is_a_wrong_amount_unless_the_charge_was_repeated(text: str, issue: str) -> None:
    assert amount_roles(text).issue == issue


def test_an_overcharge_alone_asks_for_the_charged_amount() -> None:
    answer = read_amount_answer("收银员多收了我200")
    assert (answer.charged, answer.overcharge, answer.issue) == (None, 200, WRONG_AMOUNT)
