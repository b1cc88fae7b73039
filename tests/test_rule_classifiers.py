"""The rule classifiers after DIET: a merchant who says so at the start of a report
(bot.domain.conversation.speaks_as_merchant) and the commands: no more follow-ups, delete or
export my data, and the typed answers to the erase confirmation.

The sentences here were written for this test from how merchants and
cardholders talk; none is in the training data.
"""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.domain.conversation import speaks_as_merchant
from bot.rasa.nlu.rasa_components import CommandClassifier, MerchantSpeaker


@pytest.mark.parametrize(
    "text",
    [
        "我是商户，本来88结果刷成了880",
        "您好，我是收银员，刚才给客人刷重了",
        "商家这边，上午有笔刷卡金额按错了",
        "店家这边，收银员把39.9输成了399",
        "这边是商户的，想问一笔误刷怎么退",
        "我们店昨天给一位顾客刷错了",
        "本店收银失误，多收了顾客两百",
    ],
)
def test_a_merchant_speaking_of_their_own_shop(text: str) -> None:
    assert speaks_as_merchant(text)


@pytest.mark.parametrize(
    "text",
    [
        "商户这边说给我退款了但没到账",  # what the merchant told a cardholder
        "我刷卡的时候商家把68输成了680",
        "商家说已经撤销了",
        "店里说没收到钱",
        "我是在商户那里刷的卡",
        "商户不给退怎么办",
        "商户的POS机显示失败",
        "老板多收了我的钱",
    ],
)
def test_a_cardholder_speaking_of_the_merchant(text: str) -> None:
    assert not speaks_as_merchant(text)


def message(text: str, intent: str, confidence: float) -> Message:
    parsed = Message(data={"text": text})
    parsed.set("intent", {"name": intent, "confidence": confidence})
    ranking = [
        {"name": intent, "confidence": confidence},
        {"name": "merchant_report_misswipe", "confidence": 0.01},
    ]
    parsed.set("intent_ranking", ranking)
    return parsed


def test_a_report_that_opens_as_the_merchant_is_the_merchants() -> None:
    (result,) = MerchantSpeaker().process([message("我是商户，本来88结果刷成了880", "report_misswipe", 0.99)])
    assert result.get("intent") == {"name": "merchant_report_misswipe", "confidence": 0.99}
    assert [guess["name"] for guess in result.get("intent_ranking")] == [
        "merchant_report_misswipe",
        "report_misswipe",
    ]


@pytest.mark.parametrize(
    "text, intent",
    [
        ("商户这边说给我退款了但没到账", "report_misswipe"),
        ("我是商户，刷卡机显示交易失败", "report_failed_charge"),
    ],
)
def test_other_messages_keep_their_intent(text: str, intent: str) -> None:
    (result,) = MerchantSpeaker().process([message(text, intent, 0.9)])
    assert result.get("intent") == {"name": intent, "confidence": 0.9}


@pytest.mark.parametrize(
    "text", ["不用提醒我了", "别再跟进了，我自己处理", "关掉提醒吧", "取消推送", "提醒就不用了"]
)
def test_asking_for_no_more_follow_ups(text: str) -> None:
    (result,) = CommandClassifier().process([message(text, "deny", 0.8)])
    assert result.get("intent") == {"name": "stop_follow_ups", "confidence": 1.0}


@pytest.mark.parametrize(
    "text",
    [
        "不用了",
        "提醒我一下案件号",
        "别着急，商户说明天退",
        "要不要通知商户",
        "别忘了提醒我",
        "不要忘记跟进",
        "要不要打开推送",
    ],
)
def test_other_refusals_and_mentions_are_not_an_opt_out(text: str) -> None:
    (result,) = CommandClassifier().process([message(text, "deny", 0.8)])
    assert result.get("intent") == {"name": "deny", "confidence": 0.8}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("删除我的信息", "delete_my_data"),
        ("请把我的个人信息删掉", "delete_my_data"),
        ("我要注销，清除所有记录", "delete_my_data"),
        ("我的资料都删除吧", "delete_my_data"),
        ("导出我的信息", "export_my_data"),
        ("能下载一份我的聊天记录吗", "export_my_data"),
        ("我想获取我的数据", "export_my_data"),
        ("确认删除", "confirm_erase"),
        ("确定要删除", "confirm_erase"),
        ("先不删了", "cancel_erase"),
    ],
)
def test_the_users_rights_over_their_data_are_commands(text: str, intent: str) -> None:
    (result,) = CommandClassifier().process([message(text, "ask_what_now", 0.7)])
    assert result.get("intent") == {"name": intent, "confidence": 1.0}


@pytest.mark.parametrize(
    "text",
    [
        "商户说交易记录删不掉",
        "银行让我提供交易记录",
        "需要准备哪些资料",
        "删除了App还能查到吗",
        "信息已经填好了",
    ],
)
def test_talk_of_records_and_data_is_not_a_command(text: str) -> None:
    (result,) = CommandClassifier().process([message(text, "ask_what_now", 0.7)])
    assert result.get("intent") == {"name": "ask_what_now", "confidence": 0.7}


@pytest.mark.parametrize("text", ["恢复提醒", "还是提醒我吧", "重新开启跟进", "再提醒我"])
def test_asking_for_follow_ups_again(text: str) -> None:
    (result,) = CommandClassifier().process([message(text, "affirm", 0.8)])
    assert result.get("intent") == {"name": "resume_follow_ups", "confidence": 1.0}


@pytest.mark.parametrize("text", ["不用提醒我了", "提醒就不用了", "别再提醒"])
def test_turning_follow_ups_off_is_not_read_as_on(text: str) -> None:
    (result,) = CommandClassifier().process([message(text, "deny", 0.8)])
    assert result.get("intent") == {"name": "stop_follow_ups", "confidence": 1.0}
