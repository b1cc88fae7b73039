"""Actions around the case form: a report, a second problem, a change of kind, in-form questions."""

from __future__ import annotations

from typing import Any

import pytest
from case_store_fixtures import fresh_case_store  # noqa: F401  (autouse)
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.cases import ActionCheckCaseStatus, ActionCreateCase
from actions.conversation import (
    ActionAnswerInContext,
    ActionChangeKind,
    ActionKeepKind,
    ActionOpenNewCase,
    ActionSameProblem,
    ActionStartReport,
)
from actions.forms import ValidateCaseForm
from actions.questions import ActionAnswerQuestion
from actions.store import case_store
from bot.domain import knowledge
from bot.domain.cases import Facts
from bot.domain.consent import notice_version

CASE_SLOTS = {
    "kind": "misswipe",
    "bank": "中国工商银行",
    "amount": 3000.0,
    "date": "2026-11-20",
    "merchant": "华联超市",
    "consent": notice_version(),
}


def tracker(
    text: str = "",
    intent: str = "inform",
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    requested_slot: str | None = None,
    sender: str = "alice",
) -> Tracker:
    return Tracker(
        sender_id=sender,
        slots={**(slots or {}), "requested_slot": requested_slot},
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": entities or [],
        },
        events=[{"event": "user", "input_channel": "rest"}],
        paused=False,
        followup_action=None,
        active_loop={"name": "case_form"} if requested_slot else {},
        latest_action_name="action_listen",
    )


async def run(action, current: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, current, {})
    return events, dispatcher.messages


def responses(messages: list[dict[str, Any]]) -> list[str]:
    return [message["response"] for message in messages]


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in events if event["event"] == "slot"}


def open_case(kind: str = "misswipe", sender: str = "alice", **facts: Any) -> str:
    given = {"bank": "中国工商银行", "amount": 3000.0, "merchant": "华联超市", **facts}
    return case_store().open_case(sender, "rest", kind, Facts(**given)).case_id


# --- a report --------------------------------------------------------------------


async def test_a_first_report_starts_afresh_with_only_its_own_facts() -> None:
    stale = {**CASE_SLOTS, "unknown_facts": ["merchant"], "case_id": "WS-20261101-0001"}
    current = tracker(
        "我在永辉超市被扣了两次，每次88元",
        "report_misswipe",
        slots=stale,
        entities=[{"entity": "amount", "value": 88}, {"entity": "merchant", "value": "永辉超市"}],
    )
    events, messages = await run(ActionStartReport(), current)
    assert messages == []
    slots = slots_set(events)
    assert slots["confirming"] is None and slots["case_id"] is None
    assert (slots["amount"], slots["merchant"], slots["bank"], slots["date"]) == (
        88.0,
        "永辉超市",
        None,
        None,
    )
    assert slots["unknown_facts"] is None and slots["amount_issue"] == "duplicate"


@pytest.mark.parametrize(
    ("kind", "text", "answered"),
    [
        ("misswipe", "被多扣了钱，钱怎么要回来", True),
        ("merchant", "我是收银员，给顾客刷错了，怎么退给他", True),
        ("failed_charge", "显示交易失败但扣了钱，会退回来吗", True),
        ("misswipe", "我在华联超市被重复扣款了", False),
        ("unauthorized", "卡被盗刷了怎么办", False),
    ],
)
async def test_a_report_that_asks_how_gets_the_short_answer_first(
    kind: str, text: str, answered: bool
) -> None:
    _, messages = await run(ActionStartReport(), tracker(text, f"report_{kind}", slots={"kind": kind}))
    if answered:
        assert messages == [
            {
                **messages[0],
                "response": "utter_answer_first",
                "answer": knowledge.conversation()["answer_first"][kind],
            }
        ]
    else:
        assert messages == []


async def test_another_kind_of_problem_while_a_case_is_open_asks_first() -> None:
    case_id = open_case()
    current = tracker(
        "POS机显示交易失败，但是钱被扣了",
        "report_failed_charge",
        slots={**CASE_SLOTS, "kind": "failed_charge"},
    )
    events, messages = await run(ActionStartReport(), current)
    assert responses(messages) == ["utter_ask_new_case"]
    assert messages[0]["case_id"] == case_id and "华联超市" in messages[0]["case_summary"]
    slots = slots_set(events)
    assert slots["confirming"] == "new_case" and slots["merchant"] is None and slots["amount"] is None
    assert case_store().get(case_id).kind == "misswipe"


async def test_the_same_kind_with_another_merchant_asks_too() -> None:
    open_case()
    current = tracker(
        "我在永辉超市也被扣了两次",
        "report_misswipe",
        slots=CASE_SLOTS,
        entities=[{"entity": "merchant", "value": "永辉超市"}],
    )
    events, messages = await run(ActionStartReport(), current)
    assert responses(messages) == ["utter_ask_new_case"] and slots_set(events)["confirming"] == "new_case"


async def test_the_same_problem_told_again_goes_on_with_the_case() -> None:
    open_case()
    current = tracker(
        "华联超市扣了我两次3000元",
        "report_misswipe",
        slots=CASE_SLOTS,
        entities=[{"entity": "amount", "value": 3000}],
    )
    events, messages = await run(ActionStartReport(), current)
    assert messages == [] and events == [SlotSet("confirming", None)]


async def test_yes_opens_a_second_case_and_points_the_conversation_at_it() -> None:
    first = open_case()
    current = tracker("是", "affirm", slots={"kind": "failed_charge", "amount": 200.0})
    events, messages = await run(ActionOpenNewCase(), current)
    second = slots_set(events)["case_id"]
    assert second != first and slots_set(events)["confirming"] is None
    assert messages[0] == {
        **messages[0],
        "response": "utter_new_case_opened",
        "case_id": second,
        "previous_case_id": first,
    }
    cases = case_store().cases_for_owner("alice")
    assert sorted((case.case_id, case.kind) for case in cases) == sorted(
        [(first, "misswipe"), (second, "failed_charge")]
    )
    assert case_store().get(second).facts.amount == 200.0


async def test_no_then_asks_before_changing_the_kind() -> None:
    case_id = open_case()
    current = tracker("不是", "deny", slots={"kind": "failed_charge", "merchant": None, "amount": None})
    events, messages = await run(ActionSameProblem(), current)
    assert responses(messages) == ["utter_ask_change_kind"]
    assert (messages[0]["old_kind"], messages[0]["new_kind"]) == (
        "误刷（重复扣款或金额错误）",
        "交易失败但已扣款",
    )
    slots = slots_set(events)
    assert slots["confirming"] == "change_kind" and slots["kind"] == "failed_charge"
    assert (slots["merchant"], slots["amount"]) == ("华联超市", 3000.0)
    assert case_store().get(case_id).kind == "misswipe"


async def test_no_for_the_same_kind_keeps_everything() -> None:
    case_id = open_case()
    events, messages = await run(ActionSameProblem(), tracker("不是", "deny", slots={"kind": "misswipe"}))
    assert responses(messages) == ["utter_same_case_kept", "utter_step"]
    assert slots_set(events)["confirming"] is None
    assert case_store().get(case_id).kind == "misswipe"


async def test_a_confirmed_change_of_kind_is_a_case_event() -> None:
    case_id = open_case()
    _, messages = await run(ActionChangeKind(), tracker("改", "affirm", slots={"kind": "failed_charge"}))
    assert responses(messages) == ["utter_kind_changed", "utter_step_failed_charge"]  # that path's buttons
    assert messages[1]["step_text"].startswith("第1步（共5步）：和商户核对交易")
    assert case_store().get(case_id).kind == "failed_charge"
    changes = [event for event in case_store().events(case_id) if event["event"] == "kind_changed"]
    assert [change["detail"] for change in changes] == [{"from": "misswipe", "to": "failed_charge"}]


async def test_a_declined_change_of_kind_changes_nothing() -> None:
    case_id = open_case()
    events, messages = await run(ActionKeepKind(), tracker("不改", "deny", slots={"kind": "failed_charge"}))
    assert responses(messages) == ["utter_kind_kept", "utter_step"]
    assert slots_set(events) == {"kind": "misswipe", "confirming": None}
    assert case_store().get(case_id).kind == "misswipe"
    assert [event["event"] for event in case_store().events(case_id)] == ["created", "follow_up_scheduled"]


# --- questions inside the form ---------------------------------------------------------


async def test_dont_know_records_the_fact_as_unknown_and_says_where_to_find_it() -> None:
    current = tracker(
        "不记得了",
        "dont_know",
        slots={"kind": "misswipe", "unknown_facts": ["date"]},
        requested_slot="amount",
    )
    events, messages = await run(ActionAnswerInContext(), current)
    assert events == [SlotSet("unknown_facts", ["date", "amount"])]
    assert responses(messages) == ["utter_contextual_answer"]
    assert "短信" in messages[0]["answer"] and "App" in messages[0]["answer"]


@pytest.mark.parametrize(
    ("intent", "kind", "slot", "expected"),
    [
        ("ask_why_needed", "merchant", "date", "撤销"),
        ("ask_why_needed", "misswipe", "bank", "官方客服电话"),
        ("ask_if_late", "merchant", "amount", "退货"),
        ("ask_if_late", "failed_charge", "bank", "3天"),
        ("ask_what_now", "misswipe", "amount", "联系商户"),
        ("ask_is_safe", "misswipe", "bank", "验证码"),
        ("ask_do_later", "unauthorized", "amount", "冻结"),
    ],
)
async def test_a_question_in_the_form_is_answered_for_the_path_and_the_fact(
    intent: str, kind: str, slot: str, expected: str
) -> None:
    events, messages = await run(
        ActionAnswerInContext(), tracker("?", intent, slots={"kind": kind}, requested_slot=slot)
    )
    assert events == []
    assert responses(messages) == ["utter_contextual_answer"] and expected in messages[0]["answer"]


async def test_what_now_on_the_fraud_path_is_the_freeze_step_with_the_bank_hotline() -> None:
    current = tracker(
        "现在该怎么办",
        "ask_what_now",
        slots={"kind": "unauthorized", "bank": "招商银行"},
        requested_slot="amount",
    )
    _, messages = await run(ActionAnswerInContext(), current)
    assert "招商银行官方客服电话95555" in messages[0]["answer"] and "冻结" in messages[0]["answer"]


@pytest.mark.parametrize(
    ("text", "intent", "second", "answered"),
    [
        ("别问那么多了，你先告诉我怎么办", "ask_why_needed", "ask_is_safe", "联系商户"),
        ("过了好几天了怎么办", "ask_if_late", "ask_what_now", "联系商户"),  # ranked close
        ("过了好几天了怎么办", "ask_if_late", "ask_is_safe", "退货"),  # not: it asks what if late
        ("为什么要金额", "ask_why_needed", "ask_what_now", "金额用来"),  # asks no 怎么办
    ],
)
async def test_asking_what_to_do_in_words_is_what_now(
    text: str, intent: str, second: str, answered: str
) -> None:
    current = tracker(text, intent, slots={"kind": "misswipe"}, requested_slot="amount")
    current.latest_message["intent_ranking"] = [
        {"name": intent, "confidence": 0.6},
        {"name": second, "confidence": 0.3},
    ]
    _, messages = await run(ActionAnswerInContext(), current)
    assert answered in messages[0]["answer"]


async def test_what_now_outside_the_form_shows_the_current_step() -> None:
    open_case()
    _, messages = await run(ActionAnswerInContext(), tracker("现在该怎么办", "ask_what_now"))
    assert responses(messages) == ["utter_step"] and "联系商户" in messages[0]["step_text"]


async def test_a_question_outside_the_form_reminds_the_user_of_their_case() -> None:
    case_id = open_case()
    _, messages = await run(ActionAnswerInContext(), tracker("告诉你安全吗", "ask_is_safe"))
    assert responses(messages) == ["utter_contextual_answer", "utter_resume_case"]
    assert messages[1]["case_id"] == case_id


# --- the form ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slots", "required"),
    [
        ({"kind": "misswipe"}, ["bank", "amount", "date", "merchant"]),
        (
            {"kind": "misswipe", "amount_issue": "wrong_amount"},
            ["bank", "amount", "correct_amount", "date", "merchant"],
        ),
        ({"kind": "misswipe", "unknown_facts": ["amount", "merchant"]}, ["bank", "date"]),
        ({"kind": "merchant", "amount_issue": "duplicate"}, ["amount", "date"]),
        ({"kind": "merchant", "amount_issue": "wrong_amount"}, ["amount", "correct_amount", "date"]),
        ({"kind": "unauthorized", "amount_issue": "wrong_amount"}, ["bank", "amount", "date"]),
    ],
)
async def test_the_form_asks_the_correct_amount_only_for_a_wrong_amount_and_skips_unknown_facts(
    slots: dict[str, Any], required: list[str]
) -> None:
    domain_slots = ["bank", "amount", "correct_amount", "date", "merchant"]
    assert (
        await ValidateCaseForm().required_slots(
            domain_slots, CollectingDispatcher(), tracker(slots={**slots, "consent": notice_version()}), {}
        )
        == required
    )


def validate(slot: str, value: Any, current: Tracker) -> tuple[dict[str, Any], list[str]]:
    dispatcher = CollectingDispatcher()
    result = getattr(ValidateCaseForm(), f"validate_{slot}")(value, dispatcher, current, {})
    return result, responses(dispatcher.messages)


def test_the_amounts_are_read_with_their_roles() -> None:
    result, said = validate(
        "amount", 300, tracker("收银员把金额刷错了，本来300刷成了3000", "report_misswipe")
    )
    assert said == []
    assert result == {
        "amount": 3000.0,
        "correct_amount": 300.0,
        "amount_issue": "wrong_amount",
        "overcharge": None,
    }


def test_a_difference_waits_for_the_charged_amount_then_gives_the_correct_one() -> None:
    first, said = validate("amount", 500, tracker("金额不对，多扣了我500块", "report_misswipe"))
    assert said == [] and first == {"amount": None, "amount_issue": "wrong_amount", "overcharge": 500.0}
    then, _ = validate("amount", "3000", tracker("3000", slots=first, requested_slot="amount"))
    assert (then["amount"], then["correct_amount"]) == (3000.0, 2500.0)


def test_a_duplicate_charge_is_the_amount_of_the_extra_transaction() -> None:
    result, _ = validate(
        "amount", 3000, tracker("我在华联超市刷卡被重复扣款了，多扣了3000元", "report_misswipe")
    )
    assert (result["amount"], result["amount_issue"]) == (3000.0, "duplicate")


def test_an_answer_with_no_amount_is_refused_as_before() -> None:
    result, said = validate("amount", "很多钱", tracker("很多钱", requested_slot="amount"))
    assert result == {"amount": None} and said == ["utter_invalid_amount"]


def test_the_correct_amount_answer() -> None:
    current = tracker("应该是300", slots={"amount": 3000.0}, requested_slot="correct_amount")
    assert validate("correct_amount", "应该是300", current) == ({"correct_amount": 300.0}, [])


async def test_the_case_keeps_the_correct_amount_and_what_the_user_did_not_know() -> None:
    slots = {**CASE_SLOTS, "correct_amount": 300.0, "date": None, "unknown_facts": ["date"]}
    events, _ = await run(ActionCreateCase(), tracker(slots=slots))
    facts = case_store().get(slots_set(events)["case_id"]).facts
    assert (facts.amount, facts.correct_amount, facts.overcharge) == (3000.0, 300.0, 2700.0)
    assert facts.unknown == frozenset({"txn_date"})


# --- progress ------------------------------------------------------------------


async def test_progress_lists_every_case_of_the_conversation() -> None:
    first = open_case()
    second = open_case("failed_charge", amount=200.0, merchant="永辉超市")
    open_case(sender="bob")
    _, messages = await run(ActionCheckCaseStatus(), tracker("查询进度", "check_case_status"))
    assert responses(messages) == ["utter_case_list"] and messages[0]["count"] == 2
    lines = messages[0]["cases"].split("\n")
    assert [line.split("｜")[0] for line in lines] == [f"1. {second}", f"2. {first}"]
    assert "交易失败但已扣款" in lines[0] and "永辉超市" in lines[0] and "处理中" in lines[0]


async def test_a_case_number_makes_that_case_the_current_one() -> None:
    first = open_case()
    open_case("failed_charge")
    current = tracker(f"查一下{first}", "check_case_status", entities=[{"entity": "case_id", "value": first}])
    events, messages = await run(ActionCheckCaseStatus(), current)
    assert responses(messages) == ["utter_case_status"]
    assert events == [SlotSet("case_id", first), SlotSet("kind", "misswipe")]


def test_another_fact_given_instead_is_not_a_failed_answer() -> None:
    current = tracker("昨天", entities=[{"entity": "date", "value": "2026-11-24"}], requested_slot="amount")
    assert validate("amount", "昨天", current) == ({"amount": None}, [])
    given = tracker(
        "0元，昨天", entities=[{"entity": "amount", "value": 0}, {"entity": "date", "value": "2026-11-24"}]
    )
    result, said = validate("amount", 0, given)
    assert result["amount"] is None and said == ["utter_invalid_amount_not_positive"]


# --- answers the form did not expect -------------------------------------------


def ranked(current: Tracker, *intents: str) -> Tracker:
    current.latest_message["intent_ranking"] = [
        {"name": name, "confidence": 0.5 / (rank + 1)} for rank, name in enumerate(intents)
    ]
    return current


def test_a_question_given_instead_of_the_amount_is_answered_not_refused() -> None:
    current = ranked(
        tracker("你别问了，先说我该怎么办", slots={"kind": "misswipe"}, requested_slot="amount"),
        "inform",
        "ask_what_now",
    )
    dispatcher = CollectingDispatcher()
    result = ValidateCaseForm().validate_amount("你别问了，先说我该怎么办", dispatcher, current, {})
    assert result == {"amount": None}
    assert responses(dispatcher.messages) == ["utter_contextual_answer"]
    assert "联系商户" in dispatcher.messages[0]["answer"]


def test_a_question_the_bot_cannot_place_is_not_called_an_unreadable_amount() -> None:
    current = ranked(tracker("到底能不能帮我", requested_slot="amount"), "inform", "greet")
    assert validate("amount", "到底能不能帮我", current) == ({"amount": None}, [])


def test_the_whole_shop_name_is_kept_when_the_entity_is_only_its_tail() -> None:
    current = tracker("同仁堂大药房", requested_slot="merchant")
    assert validate("merchant", "大药房", current) == ({"merchant": "同仁堂大药房"}, [])


def test_a_bank_picked_up_as_the_shop_while_the_bank_is_asked_is_dropped_silently() -> None:
    current = tracker("华夏银行", entities=[{"entity": "bank", "value": "华夏银行"}], requested_slot="bank")
    assert validate("merchant", "华夏银行", current) == ({"merchant": None}, [])


async def test_a_shop_name_taken_for_a_question_fills_the_merchant() -> None:
    current = tracker("湘味小厨", "bot_challenge", requested_slot="merchant")
    events, messages = await run(ActionAnswerQuestion(), current)
    assert events == [SlotSet("merchant", "湘味小厨")] and messages == []


async def test_a_real_question_while_the_merchant_is_asked_is_answered() -> None:
    current = tracker("你是机器人吗", "bot_challenge", requested_slot="merchant")
    events, messages = await run(ActionAnswerQuestion(), current)
    assert events == [] and responses(messages) == ["utter_iamabot"]


async def test_a_step_reported_done_moves_the_case_on() -> None:
    case_id = open_case()
    _, messages = await run(ActionAnswerInContext(), tracker("店家那边我已经找过了，接下来呢", "ask_if_late"))
    assert responses(messages) == ["utter_step"] and "收集凭证" in messages[0]["step_text"]
    assert "contact_merchant" in case_store().get(case_id).steps_done


async def test_a_report_names_its_shop_by_where_the_card_was_used() -> None:
    events, _ = await run(ActionStartReport(), tracker("上周在万家福刷农行卡，扣了两次", "report_misswipe"))
    assert slots_set(events)["merchant"] == "万家福"


async def test_another_kind_without_its_words_is_the_open_case_kind() -> None:
    case_id = open_case()
    current = tracker(
        "华联超市又扣了我一次，96块",
        "report_failed_charge",
        slots={**CASE_SLOTS, "kind": "failed_charge"},
        entities=[{"entity": "amount", "value": 96}],
    )
    events, messages = await run(ActionStartReport(), current)
    # Another amount: asked whether it is another transaction, but no change of kind is on offer.
    assert responses(messages) == ["utter_ask_new_case"]
    assert slots_set(events)["kind"] == "misswipe"
    _, same_messages = await run(
        ActionSameProblem(), tracker("不是，就是那笔", "deny", slots={**CASE_SLOTS, "kind": "misswipe"})
    )
    assert responses(same_messages)[0] == "utter_same_case_kept"
    assert case_store().get(case_id).kind == "misswipe"


def test_what_to_do_asked_among_close_guesses_gets_the_first_move() -> None:
    current = ranked(
        tracker("你别问了，先说我怎么办", slots={"kind": "misswipe"}, requested_slot="amount"),
        "nlu_fallback",
        "ask_why_needed",
        "ask_what_now",
    )
    dispatcher = CollectingDispatcher()
    ValidateCaseForm().validate_amount("你别问了，先说我怎么办", dispatcher, current, {})
    assert "联系商户" in dispatcher.messages[0]["answer"]
