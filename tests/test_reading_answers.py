"""Reading short answers and reports: a shop's name, a bank we have no number for, 境内 or
境外, whether a reply moves a case on or only acknowledges it, the kind a report names,
and what an unsure classification plainly asks for."""

from __future__ import annotations

import pytest

from bot.domain.conversation import names_its_kind
from bot.domain.progress import moves_on, reports_step_done, shop_got_nothing
from bot.domain.validation import (
    bank_named_in,
    check_merchant,
    cross_border_answer,
    merchant_answer,
    shop_in_report,
)
from bot.rasa.nlu.rescue import rescued_intent


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("同仁堂大药房", "同仁堂大药房"),
        ("东门农贸菜市场", "东门农贸菜市场"),
        ("是小区门口的便利店", "小区门口的便利店"),
        ("就是喜家德吧", "喜家德"),
        ("Apple Store", "Apple Store"),
    ],
)
def test_a_short_reply_is_the_whole_name(text: str, name: str) -> None:
    assert merchant_answer(text) == name


@pytest.mark.parametrize(
    "text",
    [
        "你是机器人吗",
        "店名我想不起来了",
        "为什么要知道商户",
        "算了",
        "好的",
        "谢谢",
        "晚点再说",
        "昨天",
        "工行",
        "58",
    ],
)
def test_a_reply_that_is_no_name(text: str) -> None:
    assert merchant_answer(text) is None


@pytest.mark.parametrize("text", ["华夏银行", "宁波银行", "工行", "ICBC"])
def test_a_bank_is_not_a_shop(text: str) -> None:
    assert not check_merchant(text).ok


def test_a_shop_named_after_a_word_in_a_bank_alias_is_a_shop() -> None:
    assert check_merchant("平安大药房").value == "平安大药房"


@pytest.mark.parametrize(
    ("text", "bank"),
    [
        ("泰隆银行客服电话多少", "泰隆银行"),
        ("我的是台州银行的卡，打哪个电话", "台州银行"),
        ("问一下宁波银行的热线", "宁波银行"),
        ("打给建行", "中国建设银行"),
        ("请问银行电话是多少", None),
        ("那银行电话我该打哪个", None),
    ],
)
def test_the_bank_a_message_names(text: str, bank: str | None) -> None:
    assert bank_named_in(text) == bank


@pytest.mark.parametrize(
    ("text", "abroad"),
    [
        ("境内的", False),
        ("就在国内，付的人民币", False),
        ("不是境外交易", False),
        ("在日本刷的，日元", True),
        ("澳门", True),
        ("外币", True),
        ("嗯", None),
        ("国内网站付的美元", None),
    ],
)
def test_the_typed_answer_to_the_region_question(text: str, abroad: bool | None) -> None:
    assert cross_border_answer(text) is abroad


@pytest.mark.parametrize("text", ["ok", "好的", "嗯", "行，知道了", "收到"])
def test_a_plain_yes_does_not_leave_a_waiting_step(text: str) -> None:
    assert not moves_on(text)


@pytest.mark.parametrize("text", ["/affirm", "下一步", "等了好几天了还没到", "接下来呢", "已经办完了"])
def test_asking_for_the_next_step_leaves_it(text: str) -> None:
    assert moves_on(text)


@pytest.mark.parametrize(
    ("text", "done"),
    [
        ("商户我已经联系过了，接下来呢", True),
        ("小票我拍好了，下一步", True),
        ("现在该怎么办", False),
        ("下一步做什么", False),
        ("我已经联系过商户了", False),
    ],
)
def test_a_step_reported_done_with_the_next_one_asked(text: str, done: bool) -> None:
    assert reports_step_done(text) is done


@pytest.mark.parametrize(
    ("text", "nothing"), [("店家说没收到钱", True), ("商户说查不到这笔", True), ("商户不给退", False)]
)
def test_the_shop_saying_it_got_no_money(text: str, nothing: bool) -> None:
    assert shop_got_nothing(text) is nothing


@pytest.mark.parametrize(
    ("text", "shop"),
    [
        ("上周在万家福刷农行卡，扣了两次", "万家福"),
        ("前天在一家叫阿香米线的小店吃饭，被扣了两回", "阿香米线的小店"),
        ("我在超市买东西被扣了两次", None),
        ("卡在身上，短信说在外地消费了3000", None),
        ("在POS机上刷了两次", None),
        ("昨天在建行刷的卡", None),
        ("上个月在澳门刷的卡，被扣了两笔", None),
        ("在杭州市刷卡多扣了", None),
    ],
)
def test_the_shop_a_report_names_by_where_the_card_was_used(text: str, shop: str | None) -> None:
    assert shop_in_report(text) == shop


@pytest.mark.parametrize("text", ["钱", "卡"])
def test_one_character_is_no_shop(text: str) -> None:
    assert not check_merchant(text).ok


@pytest.mark.parametrize(
    ("kind", "text", "named"),
    [
        ("failed_charge", "超市又扣了我一次，96块", False),
        ("failed_charge", "其实机器上显示交易失败", True),
        ("unauthorized", "又多扣了一笔", False),
        ("unauthorized", "这笔根本不是我刷的", True),
        ("misswipe", "又扣了一次", True),
    ],
)
def test_another_kind_needs_its_own_words(kind: str, text: str, named: bool) -> None:
    assert names_its_kind(kind, text) is named


@pytest.mark.parametrize(
    ("text", "entities", "intent"),
    [
        ("我搞不懂，找个真人帮我", [], "request_human"),
        ("小票都拍好了，接下来呢", [], "affirm"),
        ("时间也记错了，是上周二", ["date"], "inform"),
        ("不对不对，是1288", ["amount"], "inform"),
        ("嗯……这个嘛", [], None),
        ("那家店叫什么来着", ["merchant"], None),
    ],
)
def test_a_fallback_with_a_plain_request_or_a_fact(
    text: str, entities: list[str], intent: str | None
) -> None:
    assert rescued_intent(text, entities) == intent
