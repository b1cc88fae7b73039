from __future__ import annotations

from typing import Any

import pytest
from case_store_fixtures import fresh_case_store  # noqa: F401  (autouse)
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.cases import (
    ActionCheckCaseStatus,
    ActionCreateCase,
    ActionMerchantAgreed,
    ActionMerchantRefused,
    ActionNextStep,
    ActionRefundNotYet,
    ActionRefundReceived,
    ActionShowChecklist,
    ActionUpdateCase,
)
from actions.feedback import ActionRecordComment, ActionRecordRating, ValidateFeedbackForm
from actions.follow_ups import ActionResumeFollowUps, ActionStopFollowUps
from actions.forms import ActionAskBank, ValidateCaseForm
from actions.handoff import ActionRequestHuman
from actions.questions import ActionAnswerQuestion, ActionFraudAlert
from actions.store import case_store
from bot.domain.cases import MAX_NEW_CASES_PER_DAY, Facts
from bot.domain.consent import notice_version
from bot.domain.feedback import MAX_COMMENT_CHARS
from bot.domain.links import case_for_link

SLOTS = {
    "kind": "misswipe",
    "bank": "中国工商银行",
    "amount": 3000.0,
    "date": "2026-11-20",
    "merchant": "华联超市",
    # The privacy notice was agreed to (tests/test_consent.py covers the notice itself).
    "consent": notice_version(),
}


def tracker(
    sender: str = "alice",
    slots: dict[str, Any] | None = None,
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    text: str = "",
) -> Tracker:
    return Tracker(
        sender_id=sender,
        slots=slots or {},
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": entities or [],
        },
        events=[{"event": "user", "input_channel": "rest"}],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


async def run(action, current: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, current, {})
    return events, dispatcher.messages


async def create_case(sender: str = "alice", slots: dict[str, Any] | None = None) -> str:
    events, _ = await run(ActionCreateCase(), tracker(sender, slots or SLOTS))
    return events[0]["value"]


async def test_create_case_confirms_the_number_and_shows_step_one() -> None:
    events, messages = await run(ActionCreateCase(), tracker(slots=SLOTS))
    case_id = events[0]["value"]
    assert events == [SlotSet("case_id", case_id)]
    assert messages[0]["response"] == "utter_case_created"
    assert messages[0]["case_id"] == case_id
    assert messages[0]["summary"] == "误刷（重复扣款或金额错误）：3000元｜11月20日｜华联超市"
    assert messages[1]["response"] == "utter_step"
    assert messages[1]["step_text"].startswith("第1步（共6步）：联系商户｜今天办理\n请尽快联系华联超市")
    case = case_store().get(case_id)
    assert (case.channel, case.kind, case.facts.bank) == ("rest", "misswipe", "中国工商银行")


async def test_creating_twice_in_one_conversation_keeps_one_case() -> None:
    assert await create_case() == await create_case()


async def test_next_step_ticks_and_shows_the_following_step() -> None:
    case_id = await create_case()
    _, messages = await run(ActionNextStep(), tracker())
    assert messages[0]["step_text"].startswith("第2步（共6步）：收集凭证")
    assert case_store().get(case_id).steps_done == ("contact_merchant",)


async def test_next_step_without_a_case_asks_what_happened() -> None:
    _, messages = await run(ActionNextStep(), tracker())
    assert [m["response"] for m in messages] == ["utter_how_can_help"]


async def test_correcting_the_amount_updates_slot_and_case() -> None:
    case_id = await create_case()
    events, messages = await run(ActionUpdateCase(), tracker(entities=[{"entity": "amount", "value": 2500}]))
    assert events == [SlotSet("amount", 2500.0)]
    assert messages[0] == {**messages[0], "response": "utter_case_updated", "changes": "金额改为2500元"}
    assert messages[1]["response"] == "utter_resume_case"
    assert case_store().get(case_id).facts.amount == 2500.0


async def test_an_impossible_correction_is_refused_with_a_reason() -> None:
    case_id = await create_case()
    events, messages = await run(
        ActionUpdateCase(), tracker(entities=[{"entity": "date", "value": "2026-12-30"}])
    )
    assert events == [SlotSet("date", None)]
    assert messages[0]["response"] == "utter_invalid_date_future"
    assert str(case_store().get(case_id).facts.txn_date) == "2026-11-20"


async def test_merchant_agreed_waits_for_the_refund() -> None:
    case_id = await create_case()
    _, messages = await run(ActionMerchantAgreed(), tracker())
    assert messages[0]["response"] == "utter_merchant_agreed"
    assert "第4步（共6步）：跟进到账" in messages[0]["step_text"]
    assert case_store().get(case_id).status == "waiting_merchant"


async def test_merchant_refused_sends_the_user_to_the_bank_with_its_hotline() -> None:
    case_id = await create_case()
    _, messages = await run(ActionMerchantRefused(), tracker())
    assert "第5步（共6步）：联系发卡行" in messages[0]["step_text"]
    assert "95588" in messages[0]["step_text"]
    case = case_store().get(case_id)
    assert (case.status, case.steps_done) == ("with_bank", ("contact_merchant",))


async def test_refund_received_resolves_the_case() -> None:
    case_id = await create_case()
    events, messages = await run(ActionRefundReceived(), tracker())
    assert messages[0] == {**messages[0], "response": "utter_refund_received", "case_id": case_id}
    assert messages[1]["response"] == "utter_ask_rating"
    assert events == [SlotSet("case_id", None), SlotSet("feedback_case", case_id)]
    assert case_store().get(case_id).status == "resolved"


async def resolved_case() -> str:
    case_id = await create_case()
    await run(ActionRefundReceived(), tracker())
    return case_id


def typed_rating(slots: dict[str, Any], text: str, asked_by: str = "action_refund_received") -> Tracker:
    """A rating typed as the answer to the question ``asked_by`` put."""
    current = tracker(slots=slots, intent="rate_service", text=text)
    current.events[:0] = [{"event": "action", "name": asked_by}, {"event": "action", "name": "action_listen"}]
    return current


async def test_a_typed_rating_counts_only_as_the_answer_to_the_question() -> None:
    case_id = await resolved_case()
    complaint = typed_rating(
        {"feedback_case": case_id}, "我对处理结果不满意", asked_by="action_answer_question"
    )
    _, messages = await run(ActionRecordRating(), complaint)
    assert [m["response"] for m in messages] == ["utter_ask_rating"]
    assert case_store().feedback(case_id) is None


async def test_a_rating_button_is_stored_and_a_comment_invited() -> None:
    case_id = await resolved_case()
    slots = {"feedback_case": case_id}
    events, messages = await run(
        ActionRecordRating(),
        tracker(slots=slots, intent="rate_service", entities=[{"entity": "score", "value": 1}]),
    )
    assert [m["response"] for m in messages] == ["utter_rating_sorry"]
    assert events == [
        SlotSet("feedback", "rated"),
        SlotSet("feedback_score", 1),
    ]
    stored = case_store().feedback(case_id)
    assert (stored.score, stored.label, stored.comment, stored.channel) == (1, "dissatisfied", None, "rest")


async def test_a_typed_rating_is_read_from_its_words_and_replaces_the_first() -> None:
    case_id = await resolved_case()
    slots = {"feedback_case": case_id}
    await run(ActionRecordRating(), typed_rating(slots, "满意"))
    _, messages = await run(ActionRecordRating(), typed_rating(slots, "还行吧"))
    assert [m["response"] for m in messages] == ["utter_rating_thanks"]
    assert (case_store().feedback(case_id).score, case_store().feedback(case_id).label) == (3, "neutral")


async def test_an_unreadable_rating_asks_again_and_stores_nothing() -> None:
    case_id = await resolved_case()
    events, messages = await run(ActionRecordRating(), typed_rating({"feedback_case": case_id}, "嗯……"))
    assert ([m["response"] for m in messages], events) == (["utter_ask_rating"], [SlotSet("feedback", None)])
    assert case_store().feedback(case_id) is None


async def test_a_rating_with_no_resolved_case_of_its_own_is_only_thanked() -> None:
    case_id = await resolved_case()
    open_case = await create_case("bob")
    for sender, slots in (
        ("alice", {}),
        ("mallory", {"feedback_case": case_id}),
        ("bob", {"feedback_case": open_case}),
    ):
        current = tracker(
            sender, slots=slots, intent="rate_service", entities=[{"entity": "score", "value": 5}]
        )
        events, messages = await run(ActionRecordRating(), current)
        assert ([m["response"] for m in messages], events) == (
            ["utter_nothing_to_rate"],
            [SlotSet("feedback", None)],
        )
    assert case_store().feedback(case_id) is None and case_store().feedback(open_case) is None


@pytest.mark.parametrize(
    ("intent", "text", "comment"),
    [
        ("report_misswipe", "下次别再重复扣款了", "下次别再重复扣款了"),  # a comment, not a new report
        ("ask_refund_time", "到账要是能再快点就好了", "到账要是能再快点就好了"),
        ("thank", "谢谢你们，客服很耐心，流程也清楚", "谢谢你们，客服很耐心，流程也清楚"),
        ("deny", "不用了", ""),
        ("thank", "谢谢", ""),
        ("goodbye", "再见", ""),
        ("request_checklist", "/request_checklist", ""),  # an old button clicked
        ("rate_service", None, None),  # the slot as reset when the form starts: the form asks
    ],
)
async def test_the_turn_after_the_comment_question_is_the_comment_unless_it_closes(
    intent: str, text: str | None, comment: str | None
) -> None:
    current = tracker(intent=intent, text=text or "", active_loop="feedback_form")
    assert ValidateFeedbackForm().validate_feedback_comment(text, CollectingDispatcher(), current, {}) == {
        "feedback_comment": comment
    }


async def test_a_comment_is_masked_cut_to_one_line_and_stored_with_the_rating() -> None:
    case_id = await resolved_case()
    slots = {"feedback_case": case_id}
    await run(ActionRecordRating(), typed_rating(slots, "一般"))
    typed = "卡号6222020200112233445\n" + "太慢了" * 100
    events, messages = await run(
        ActionRecordComment(), tracker(slots={**slots, "feedback_score": 3, "feedback_comment": typed})
    )
    assert [m["response"] for m in messages] == ["utter_comment_recorded"]
    assert events == [SlotSet("feedback", None), SlotSet("feedback_comment", None)]
    stored = case_store().feedback(case_id)
    assert (
        stored.comment.startswith("卡号[卡号已隐藏，尾号3445] 太慢了")
        and len(stored.comment) == MAX_COMMENT_CHARS
    )
    assert "6222020200" not in stored.comment and stored.score == 3
    # A new score keeps the words already given.
    await run(ActionRecordRating(), typed_rating(slots, "满意"))
    assert (case_store().feedback(case_id).score, case_store().feedback(case_id).comment) == (
        5,
        stored.comment,
    )


async def test_no_comment_keeps_the_rating_and_says_goodbye() -> None:
    case_id = await resolved_case()
    slots = {"feedback_case": case_id}
    await run(ActionRecordRating(), typed_rating(slots, "满意"))
    events, messages = await run(
        ActionRecordComment(), tracker(slots={**slots, "feedback_score": 5, "feedback_comment": ""})
    )
    assert [m["response"] for m in messages] == ["utter_feedback_done"]
    assert events == [SlotSet("feedback", None), SlotSet("feedback_comment", None)]
    assert (case_store().feedback(case_id).score, case_store().feedback(case_id).comment) == (5, None)


async def test_checklist_is_shown_again_on_request() -> None:
    case_id = await create_case()
    _, messages = await run(ActionShowChecklist(), tracker())
    assert messages[0]["checklist"].startswith(f"【处理清单】案件号 {case_id}")
    link = messages[0]["custom"]["data"]["checklist_url"]
    assert link.startswith("/webhooks/widget/checklist/")
    assert case_for_link(case_store(), link.rsplit("/", 1)[1]).case_id == case_id


async def test_case_lookup_shows_only_the_owners_case() -> None:
    case_id = await create_case("alice")
    _, own = await run(
        ActionCheckCaseStatus(), tracker("alice", entities=[{"entity": "case_id", "value": case_id}])
    )
    _, other = await run(
        ActionCheckCaseStatus(), tracker("mallory", entities=[{"entity": "case_id", "value": case_id}])
    )
    assert own[0]["response"] == "utter_case_status" and own[0]["status_label"] == "处理中"
    assert other == [{**other[0], "response": "utter_case_not_found"}]
    assert "华联超市" not in str(other)


async def test_human_request_is_recorded_on_the_case() -> None:
    case_id = await create_case()
    _, messages = await run(ActionRequestHuman(), tracker())
    assert case_store().get(case_id).handoff_requested
    assert messages[0]["response"] == "utter_handoff_recorded_for_case" and messages[0]["case_id"] == case_id


async def test_human_request_without_a_case_is_recorded_too() -> None:
    await run(ActionRequestHuman(), tracker("nobody"))
    assert case_store().db.execute("SELECT count(*) FROM handoffs").fetchone()[0] == 1


async def test_hotline_answer_uses_the_named_bank() -> None:
    current = tracker(intent="ask_bank_hotline", entities=[{"entity": "bank", "value": "中国建设银行"}])
    _, messages = await run(ActionAnswerQuestion(), current)
    assert messages == [
        {
            **messages[0],
            "response": "utter_ask_bank_hotline_known",
            "hotline_phrase": "中国建设银行官方客服电话95533（以卡背面号码为准）",
        }
    ]


async def test_hotline_answer_without_a_known_bank_asks_which() -> None:
    _, messages = await run(ActionAnswerQuestion(), tracker(intent="ask_bank_hotline"))
    assert [m["response"] for m in messages] == ["utter_ask_bank_hotline_unknown"]


@pytest.mark.parametrize(
    "intent",
    [
        "ask_credit_card_bill",
        "ask_preauthorization",
        "ask_cross_border",
        "ask_installment",
        "ask_statement_still_shows",
        "ask_merchant_closed",
        "ask_qr_payment",
        "ask_merchant_name_mismatch",
        "ask_contactless",
        "ask_replaced_card",
        "ask_refund_scam",
    ],
)
async def test_each_in_scope_question_has_its_own_answer(intent: str) -> None:
    _, messages = await run(ActionAnswerQuestion(), tracker(intent=intent, active_loop="case_form"))
    assert [m["response"] for m in messages] == [f"utter_{intent}"]


async def test_a_question_outside_the_form_reminds_the_user_of_their_case() -> None:
    case_id = await create_case()
    _, messages = await run(ActionAnswerQuestion(), tracker(intent="ask_refund_time"))
    assert [m["response"] for m in messages] == ["utter_ask_refund_time", "utter_resume_case"]
    assert messages[1]["case_id"] == case_id


async def test_a_question_inside_the_form_leaves_the_form_to_re_ask() -> None:
    _, messages = await run(ActionAnswerQuestion(), tracker(intent="ask_prevention", active_loop="case_form"))
    assert [m["response"] for m in messages] == ["utter_ask_prevention"]


async def test_fraud_alert_names_the_hotline_when_the_bank_is_known() -> None:
    current = tracker(intent="report_unauthorized", entities=[{"entity": "bank", "value": "招商银行"}])
    _, messages = await run(ActionFraudAlert(), current)
    assert messages[0]["hotline_phrase"] == "招商银行官方客服电话95555（以卡背面号码为准）"


async def test_fraud_alert_without_a_bank_points_to_the_back_of_the_card() -> None:
    _, messages = await run(ActionFraudAlert(), tracker(intent="report_unauthorized"))
    assert messages[0]["hotline_phrase"] == "卡背面印的官方客服电话"


@pytest.mark.parametrize(
    ("kind", "response"),
    [
        ("misswipe", "utter_step"),
        ("failed_charge", "utter_step_failed_charge"),
        ("unauthorized", "utter_step_unauthorized"),
        ("merchant", "utter_step_merchant"),
    ],
)
async def test_each_path_shows_its_steps_with_its_own_buttons(kind: str, response: str) -> None:
    _, messages = await run(ActionCreateCase(), tracker(slots={**SLOTS, "kind": kind}))
    assert messages[1]["response"] == response


def region_button(cross_border: bool) -> Tracker:
    """The 境外/境内 buttons send /inform{"cross_border": ...}, which also sets the slot."""
    return tracker(
        slots={"cross_border": cross_border}, entities=[{"entity": "cross_border", "value": cross_border}]
    )


async def test_the_bank_step_asks_whether_the_transaction_was_cross_border_once() -> None:
    case_id = await create_case()
    _, messages = await run(ActionMerchantRefused(), tracker())
    assert [m["response"] for m in messages] == ["utter_merchant_refused", "utter_which_region"]
    events, messages = await run(ActionUpdateCase(), region_button(True))
    assert events == []
    assert messages[0]["response"] == "utter_cross_border_recorded"
    assert "即2027年3月20日（周六）" in messages[0]["bank_deadline"]
    assert case_store().get(case_id).facts.cross_border is True
    _, messages = await run(ActionMerchantRefused(), tracker())
    assert [m["response"] for m in messages] == ["utter_merchant_refused"]
    assert "即2027年3月20日（周六）" in messages[0]["step_text"]


async def test_a_domestic_transaction_is_not_dated_by_the_120_day_rule() -> None:
    case_id = await create_case()
    _, messages = await run(ActionUpdateCase(), region_button(False))
    assert messages[0]["bank_deadline"] == "境内交易通常应在账单到期还款日前提出，具体以发卡行为准。"
    assert case_store().get(case_id).facts.cross_border is False


async def test_cross_border_said_before_the_case_exists_goes_into_the_case() -> None:
    _, messages = await run(ActionUpdateCase(), region_button(True))
    assert [m["response"] for m in messages] == ["utter_cross_border_noted"]
    case_id = await create_case(slots={**SLOTS, "cross_border": True})
    assert case_store().get(case_id).facts.cross_border is True


async def test_bank_buttons_come_from_the_knowledge_file() -> None:
    _, messages = await run(ActionAskBank(), tracker())
    assert messages[0]["buttons"][0] == {"title": "工商银行", "payload": '/inform{"bank": "中国工商银行"}'}


@pytest.mark.parametrize(
    ("slot", "value", "expected", "response"),
    [
        ("amount", "两千五", 2500.0, None),
        ("amount", 0, None, "utter_invalid_amount_not_positive"),
        ("amount", "很多钱", None, "utter_invalid_amount"),
        ("amount", 99_000_000, None, "utter_invalid_amount_implausible"),
        ("date", "昨天", "2026-11-24", None),
        ("date", "2026-12-01", None, "utter_invalid_date_future"),
        ("bank", "工行", "中国工商银行", None),
        ("bank", "宁波银行", "宁波银行", None),
        ("bank", "随便", None, "utter_invalid_bank"),
        ("merchant", "在华联超市刷的", "华联超市", None),
        ("merchant", "？？？", None, "utter_invalid_merchant"),
    ],
)
async def test_form_validation(slot: str, value: Any, expected: Any, response: str | None) -> None:
    dispatcher = CollectingDispatcher()
    validator = getattr(ValidateCaseForm(), f"validate_{slot}")
    assert validator(value, dispatcher, tracker(), {}) == {slot: expected}
    assert [m["response"] for m in dispatcher.messages] == ([response] if response else [])


@pytest.mark.parametrize(
    ("kind", "slots"),
    [
        ("misswipe", ["bank", "amount", "date", "merchant"]),
        ("unauthorized", ["bank", "amount", "date"]),
        ("merchant", ["amount", "date"]),
    ],
)
async def test_each_kind_asks_only_what_it_needs(kind: str, slots: list[str]) -> None:
    required = await ValidateCaseForm().required_slots(
        ["bank", "amount", "date", "merchant"],
        CollectingDispatcher(),
        tracker(slots={"kind": kind, "consent": notice_version()}),
        {},
    )
    assert required == slots


async def test_a_direct_call_cannot_store_unchecked_facts() -> None:
    forged = {
        "kind": "misswipe",
        "bank": "<script>x</script>",
        "amount": -5,
        "date": "2099-01-01",
        "merchant": "",
        "card_last4": "123456",
        "card_type": "platinum",
        "consent": notice_version(),
    }
    case = case_store().get(await create_case("mallory", forged))
    assert case.facts == Facts()
    _, messages = await run(ActionCreateCase(), tracker("mallory", {**SLOTS, "kind": "lottery"}))
    assert [message["response"] for message in messages] == ["utter_how_can_help"]


async def test_the_form_running_again_updates_the_case_without_changing_its_kind() -> None:
    case_id = await create_case()
    again = {**SLOTS, "kind": "failed_charge", "amount": 2500.0, "case_id": case_id}
    assert await create_case("alice", again) == case_id
    case = case_store().get(case_id)
    assert (case.kind, case.facts.amount) == ("misswipe", 2500.0)


async def test_asking_for_a_human_twice_queues_the_conversation_once() -> None:
    _, first = await run(ActionRequestHuman(), tracker())
    _, again = await run(ActionRequestHuman(), tracker())
    assert first[0]["response"] == "utter_handoff_recorded"  # no case in this conversation
    assert again[0]["response"] == "utter_handoff_already_waiting"


async def test_a_conversation_past_the_days_case_limit_is_told_so() -> None:
    for _ in range(MAX_NEW_CASES_PER_DAY):
        case_store().open_case("alice", "rest", "misswipe", Facts())
        case_store().set_status(case_store().current_case("alice").case_id, "resolved")
    events, messages = await run(ActionCreateCase(), tracker(slots=SLOTS))
    assert events == [] and messages[0]["response"] == "utter_too_many_cases"


# --- replies while a case waits -------------------------------------------------


def saying(text: str, current: Tracker) -> Tracker:
    current.latest_message["text"] = text
    return current


async def test_a_plain_yes_while_the_refund_is_on_its_way_keeps_the_case_waiting() -> None:
    case_id = await create_case()
    await run(ActionMerchantAgreed(), tracker())
    _, messages = await run(ActionNextStep(), saying("好的", tracker(intent="affirm")))
    assert [m["response"] for m in messages] == ["utter_still_waiting"]
    assert "跟进到账" in messages[0]["step_text"]
    case = case_store().get(case_id)
    assert case.status == "waiting_merchant" and "follow_up" not in case.steps_done


async def test_the_next_step_button_still_moves_past_the_wait() -> None:
    case_id = await create_case()
    await run(ActionMerchantAgreed(), tracker())
    await run(ActionNextStep(), saying("/affirm", tracker(intent="affirm")))
    assert "follow_up" in case_store().get(case_id).steps_done


async def test_a_shop_with_no_money_on_a_failed_charge_means_waiting_for_the_reversal() -> None:
    case_id = await create_case(slots={**SLOTS, "kind": "failed_charge"})
    _, messages = await run(ActionMerchantRefused(), saying("店里说没收到这笔钱", tracker()))
    assert [m["response"] for m in messages] == ["utter_step_failed_charge"]
    assert "等待自动冲正" in messages[0]["step_text"]
    case = case_store().get(case_id)
    assert (case.status, case.steps_done) != ("with_bank", ("contact_merchant",))


async def test_a_typed_answer_to_the_region_question_is_recorded() -> None:
    case_id = await create_case()
    await run(ActionMerchantRefused(), tracker())
    _, messages = await run(ActionUpdateCase(), saying("境内刷的", tracker()))
    assert [m["response"] for m in messages] == ["utter_cross_border_recorded"]
    assert case_store().get(case_id).facts.cross_border is False


async def test_region_words_are_no_answer_before_the_question_is_asked() -> None:
    case_id = await create_case()
    _, messages = await run(ActionUpdateCase(), saying("境内刷的", tracker()))
    assert "utter_cross_border_recorded" not in [m["response"] for m in messages]
    assert case_store().get(case_id).facts.cross_border is None


async def test_the_hotline_of_a_bank_without_a_known_number_is_on_the_back_of_the_card() -> None:
    await create_case(slots={**SLOTS, "bank": "长沙银行"})
    _, messages = await run(
        ActionAnswerQuestion(), saying("银行电话打哪个", tracker(intent="ask_bank_hotline"))
    )
    assert messages[0]["response"] == "utter_ask_bank_hotline_known"
    assert messages[0]["hotline_phrase"] == "卡背面印的长沙银行官方客服电话"


async def test_a_bank_named_in_the_hotline_question_is_answered_even_without_a_number() -> None:
    current = saying("泰隆银行的客服电话是多少", tracker(intent="ask_bank_hotline"))
    _, messages = await run(ActionAnswerQuestion(), current)
    assert messages[0]["hotline_phrase"] == "卡背面印的泰隆银行官方客服电话"


async def test_unionpay_asked_for_with_a_case_open_gets_unionpay_not_the_bank() -> None:
    await create_case()
    current = saying("那银联的呢", tracker(intent="ask_bank_hotline", slots={"bank": "中国工商银行"}))
    _, messages = await run(ActionAnswerQuestion(), current)
    assert "95516" in messages[0]["hotline_phrase"] and "95588" not in messages[0]["hotline_phrase"]


# Answers to a follow-up, and turning them off


def send_follow_up(case_id: str) -> None:
    """The scheduler's part: the case's follow-up claimed and delivered on its day (12-02 10:00)."""
    follow_ups = case_store().follow_ups
    [follow_up] = follow_ups.for_case(case_id)
    [claimed] = follow_ups.claim_due(follow_up.due_at, "test", 300, 10)
    assert follow_ups.mark_sent(claimed)


async def test_refund_not_yet_after_the_date_sends_the_case_to_the_bank(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case_id = await create_case()
    send_follow_up(case_id)
    monkeypatch.setenv("WUSHUA_TODAY", "2026-12-02")
    events, messages = await run(ActionRefundNotYet(), tracker(intent="refund_not_yet"))
    assert events == []
    assert messages[0]["response"] == "utter_refund_not_yet"
    assert "联系发卡行" in messages[0]["step_text"] and "95588" in messages[0]["step_text"]
    case = case_store().get(case_id)
    assert case.status == "with_bank" and "follow_up" in case.steps_done
    [follow_up] = case_store().follow_ups.for_case(case_id)
    assert (follow_up.status, follow_up.reason) == ("answered", "refund_not_yet")


async def test_refund_not_yet_before_the_date_keeps_waiting() -> None:
    case_id = await create_case()
    _, messages = await run(ActionRefundNotYet(), tracker(intent="refund_not_yet"))
    assert messages[0]["response"] == "utter_still_waiting"
    assert "12月2日（周三）前应到账" in messages[0]["step_text"]
    case = case_store().get(case_id)
    assert case.status == "open" and case.steps_done == ()
    assert [f.status for f in case_store().follow_ups.for_case(case_id)] == ["pending"]


async def test_refund_not_yet_once_the_bank_has_the_case_shows_the_current_step() -> None:
    case_id = await create_case()
    await run(ActionMerchantRefused(), tracker(intent="merchant_refused"))
    _, messages = await run(ActionRefundNotYet(), tracker(intent="refund_not_yet"))
    assert messages[0]["response"] == "utter_refund_not_yet_current_step"
    assert case_store().get(case_id).status == "with_bank"


async def test_refund_not_yet_without_a_case() -> None:
    _, messages = await run(ActionRefundNotYet(), tracker(intent="refund_not_yet"))
    assert [message["response"] for message in messages] == ["utter_no_case"]


async def test_refund_received_answers_the_follow_up() -> None:
    case_id = await create_case()
    send_follow_up(case_id)
    await run(ActionRefundReceived(), tracker(intent="refund_received"))
    [follow_up] = case_store().follow_ups.for_case(case_id)
    assert (follow_up.status, follow_up.reason) == ("answered", "refund_received")


async def test_merchant_refused_answers_the_follow_up() -> None:
    case_id = await create_case()
    send_follow_up(case_id)
    await run(ActionMerchantRefused(), tracker(intent="merchant_refused"))
    [follow_up] = case_store().follow_ups.for_case(case_id)
    assert (follow_up.status, follow_up.reason) == ("answered", "merchant_refused")


async def test_stop_follow_ups_cancels_them_for_this_conversation_only() -> None:
    mine = await create_case("alice")
    theirs = await create_case("bob")
    events, messages = await run(ActionStopFollowUps(), tracker("alice", intent="stop_follow_ups"))
    assert events == []
    assert [message["response"] for message in messages] == ["utter_follow_ups_stopped"]
    [cancelled] = case_store().follow_ups.for_case(mine)
    assert (cancelled.status, cancelled.reason) == ("cancelled", "opted_out")
    assert [f.status for f in case_store().follow_ups.for_case(theirs)] == ["pending"]


async def test_resume_follow_ups_plans_the_open_cases_again() -> None:
    mine = await create_case("alice")
    await run(ActionStopFollowUps(), tracker("alice", intent="stop_follow_ups"))
    events, messages = await run(ActionResumeFollowUps(), tracker("alice", intent="resume_follow_ups"))
    assert events == [] and [message["response"] for message in messages] == ["utter_follow_ups_resumed"]
    assert "pending" in [f.status for f in case_store().follow_ups.for_case(mine)]
    _, nothing = await run(ActionResumeFollowUps(), tracker("carol", intent="resume_follow_ups"))
    assert [message["response"] for message in nothing] == ["utter_follow_ups_none_due"]
