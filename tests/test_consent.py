"""The privacy notice and consent, asked once per conversation before any fact is kept (issue 23)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from case_store_fixtures import fresh_case_store  # noqa: F401  (autouse)
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.cases import FACT_SLOTS, ActionCreateCase
from actions.conversation import ActionOpenNewCase
from actions.forms import ActionAskConsent, ValidateCaseForm
from actions.store import case_store
from bot.domain import knowledge
from bot.domain.cases import Facts
from bot.domain.checklist import general_steps
from bot.domain.clock import CHINA
from bot.domain.consent import AGREED, DECLINED, notice_version, read_typed_answer
from bot.infra import staff_bridge
from bot.infra.staff_bridge import BridgeAnswer

FACTS = {"bank": "中国工商银行", "amount": 3000.0, "date": "2026-11-20", "merchant": "华联超市"}
# 2026-11-25 10:30:00 in China, when the user's 同意 arrived.
CONSENT_TIMESTAMP = datetime(2026, 11, 25, 10, 30, tzinfo=CHINA).timestamp()
DOMAIN_SLOTS = ["consent", "bank", "amount", "correct_amount", "date", "merchant"]


def tracker(
    slots: dict[str, Any] | None = None,
    text: str = "",
    intent: str = "inform",
    requested_slot: str | None = None,
    channel: str = "rest",
) -> Tracker:
    return Tracker(
        sender_id="alice",
        slots={"kind": "misswipe", **(slots or {}), "requested_slot": requested_slot},
        latest_message={"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []},
        events=[{"event": "user", "input_channel": channel, "timestamp": CONSENT_TIMESTAMP, "text": text}],
        paused=False,
        followup_action=None,
        active_loop={"name": "case_form"} if requested_slot else {},
        latest_action_name="action_listen",
    )


async def run(action: Any, current: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, current, {})
    return events, dispatcher.messages


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in events if event["event"] == "slot"}


async def required(slots: dict[str, Any]) -> list[str]:
    return await ValidateCaseForm().required_slots(DOMAIN_SLOTS, CollectingDispatcher(), tracker(slots), {})


# --- when the notice is asked ------------------------------------------------------


async def test_the_notice_comes_before_the_first_fact_question() -> None:
    assert await required({}) == ["consent", "bank", "amount", "date", "merchant"]


async def test_facts_given_in_the_first_message_still_wait_for_the_notice() -> None:
    asked = await required(FACTS)
    assert asked[0] == "consent"


async def test_once_agreed_the_notice_is_not_asked_again_in_the_conversation() -> None:
    # A second case in the same conversation: the slot carries the consent over.
    assert "consent" not in await required({"consent": notice_version()})


async def test_a_consent_to_an_earlier_wording_is_asked_again() -> None:
    assert (await required({"consent": "2020-01-1"}))[0] == "consent"


async def test_a_declined_notice_ends_the_form() -> None:
    assert await required({**FACTS, "consent": DECLINED}) == []


# --- what the notice says ------------------------------------------------------------


async def test_the_notice_says_what_is_kept_why_how_long_who_sees_it_and_how_to_delete() -> None:
    _, messages = await run(ActionAskConsent(), tracker())
    [message] = messages
    assert message["response"] == "utter_ask_consent"
    assert message["received_note"] == ""
    for words in ("发卡行", "卡号末四位", "建立案件", "180天", "客服人员", "删除我的信息", "导出我的信息"):
        assert words in message["notice"]
    assert [button["title"] for button in message["buttons"]] == ["同意", "不同意"]
    assert [button["payload"] for button in message["buttons"]] == ["/affirm", "/deny"]


async def test_facts_given_before_the_notice_are_named_as_received_never_repeated() -> None:
    _, messages = await run(ActionAskConsent(), tracker({"bank": "中国工商银行", "amount": 3000.0}))
    note = messages[0]["received_note"]
    assert "发卡行、金额已收到" in note and "同意之前只保存在本次对话中" in note
    assert "工商" not in note and "3000" not in note
    assert case_store().cases_for_owner("alice") == []


# --- reading the answer ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("同意", AGREED),
        ("好的同意", AGREED),
        ("我同意的", AGREED),
        ("不同意", DECLINED),
        ("不要保存", DECLINED),
        ("拒绝", DECLINED),
        # An answer to another question is not read as consent: 行 is in 工商银行.
        ("工商银行", None),
        ("3000元", None),
        # News about the merchant is neither: the whole reply must be the answer.
        ("商户同意退款了", None),
        ("商户拒绝了", None),
        ("我不同意。", DECLINED),
    ],
)
def test_typed_answers_are_read_from_the_knowledge_file(text: str, answer: str | None) -> None:
    assert read_typed_answer(text) == answer


async def test_a_typed_agreement_read_as_another_intent_fills_the_slot() -> None:
    current = tracker(text="同意", intent="merchant_agreed", requested_slot="consent")
    extracted = await ValidateCaseForm().extract_consent(CollectingDispatcher(), current, {})
    assert extracted == {"consent": AGREED}


async def test_a_typed_agreement_to_a_new_wording_replaces_the_old_consent() -> None:
    current = tracker(
        {"consent": "2020-01-1"}, text="我同意", intent="merchant_agreed", requested_slot="consent"
    )
    extracted = await ValidateCaseForm().extract_consent(CollectingDispatcher(), current, {})
    assert extracted == {"consent": AGREED}


@pytest.mark.parametrize(
    ("text", "requested_slot"), [("这些信息安全吗？", "consent"), ("同意", "bank"), ("华联超市", "consent")]
)
async def test_a_question_or_another_answer_is_not_read_as_consent(text: str, requested_slot: str) -> None:
    current = tracker(text=text, intent="ask_is_safe", requested_slot=requested_slot)
    assert await ValidateCaseForm().extract_consent(CollectingDispatcher(), current, {}) == {}


def test_agreeing_records_the_notice_version_and_the_time_of_the_message() -> None:
    current = tracker(text="同意", intent="affirm", requested_slot="consent")
    result = ValidateCaseForm().validate_consent(AGREED, CollectingDispatcher(), current, {})
    assert result == {"consent": notice_version(), "consent_at": "2026-11-25T10:30:00+08:00"}


def test_declining_is_kept_as_declined() -> None:
    current = tracker(text="不同意", intent="deny", requested_slot="consent")
    assert ValidateCaseForm().validate_consent(DECLINED, CollectingDispatcher(), current, {}) == {
        "consent": DECLINED
    }


# --- after the form ------------------------------------------------------------------


async def test_agreeing_opens_the_case_with_the_consent_on_it() -> None:
    consent = {"consent": notice_version(), "consent_at": "2026-11-25T10:30:00+08:00"}
    events, messages = await run(ActionCreateCase(), tracker({**FACTS, **consent}, channel="wechat"))
    case_id = slots_set(events)["case_id"]
    assert messages[0]["response"] == "utter_case_created"
    logged = [event for event in case_store().events(case_id) if event["event"] == "consent_given"]
    assert [event["detail"] for event in logged] == [
        {"version": notice_version(), "at": "2026-11-25T10:30:00+08:00", "channel": "wechat"}
    ]


async def test_declining_keeps_no_case_gives_the_general_steps_and_asks_for_the_erase(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    erasures: list[tuple[object, ...]] = []

    async def erase(url: str, conversation: str, by: str, *, reason: str, after_turn: bool) -> BridgeAnswer:
        erasures.append((conversation, by, reason, after_turn))
        return BridgeAnswer(True)

    monkeypatch.setattr(staff_bridge, "erase", erase)
    events, messages = await run(
        ActionCreateCase(), tracker({**FACTS, "card_last4": "6228", "consent": DECLINED})
    )
    assert erasures == [("alice", "user", "consent_declined", True)]  # once this turn is over
    assert case_store().cases_for_owner("alice") == []
    [message] = messages
    assert message["response"] == "utter_consent_declined"
    assert message["declined"] == knowledge.privacy_notice()["declined"]
    assert message["steps"] == general_steps("misswipe")
    for personal in ("工商", "3000", "华联", "6228", "11月20日"):
        assert personal not in message["steps"]
    slots = slots_set(events)
    assert all(slots[slot] is None for slot in FACT_SLOTS)
    assert slots["consent"] is None


async def test_a_second_case_in_the_conversation_carries_the_same_consent() -> None:
    case_store().open_case("alice", "rest", "misswipe", Facts(bank="中国工商银行"))
    consent = {"consent": notice_version(), "consent_at": "2026-11-25T10:30:00+08:00"}
    current = tracker({**FACTS, **consent, "kind": "failed_charge"}, intent="affirm")
    events, _ = await run(ActionOpenNewCase(), current)
    case_id = slots_set(events)["case_id"]
    [logged] = [event for event in case_store().events(case_id) if event["event"] == "consent_given"]
    assert logged["detail"]["version"] == notice_version()


@pytest.mark.parametrize("kind", ["misswipe", "failed_charge", "unauthorized", "merchant"])
def test_the_general_steps_give_no_date_counted_from_today(kind: str) -> None:
    """Nobody's case has no day it started: a date would read as a promise about theirs."""
    assert re.search(r"\d+月\d+日", general_steps(kind)) is None
