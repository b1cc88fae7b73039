"""The receipt actions: what was read is shown, and only a confirmation puts it into the case."""

from __future__ import annotations

from decimal import Decimal

from case_store_fixtures import fresh_case_store  # noqa: F401  (autouse)
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from test_actions import SLOTS, create_case, run, tracker

from actions.receipts import ActionConfirmReceipt, ActionCorrectReceipt, ActionReadReceipt
from actions.store import case_store
from bot.domain.receipts import ReceiptReading

SLIP = ReceiptReading(
    kind="slip",
    amount=Decimal("88.00"),
    date="2026-11-24",
    time="19:42:10",
    merchant_name="永辉超市",
    card_last4="4321",
    ref_no="332415678901",
    voucher_no="000123",
    transaction_type="消费",
)
SECOND_SWIPE = ReceiptReading(
    **{**SLIP.__dict__, "time": "19:42:55", "ref_no": "332415678902", "voucher_no": "000124"}
)


def sent(reading: ReceiptReading, sender: str = "alice") -> str:
    return case_store().receipts.add(sender, "rest", reading, b"jpeg", numbers_covered=0).receipt_id


def responses(messages: list[dict]) -> list[str]:
    return [message["response"] for message in messages]


async def test_what_was_read_is_shown_and_nothing_is_filed_yet() -> None:
    sent(SLIP)
    events, messages = await run(ActionReadReceipt(), tracker(intent="send_receipt"))
    assert events == []
    [shown] = messages
    assert shown["response"] == "utter_receipt_read" and shown["picture"] == "签购单"
    assert shown["fields"].splitlines() == [
        "交易类型：消费",
        "金额：88元",
        "日期：11月24日",
        "时间：19:42:10",
        "商户：永辉超市",
        "卡号尾号：4321",
        "参考号：332415678901",
        "凭证号：000123",
    ]
    assert case_store().receipts.waiting("alice").status == "read"


async def test_a_picture_in_the_middle_of_the_form_pauses_it_and_the_confirmation_resumes_it() -> None:
    sent(SLIP)
    asking = {
        "kind": "misswipe",
        "bank": "中国建设银行",
        "consent": SLOTS["consent"],
        "requested_slot": "amount",
    }
    events, _ = await run(
        ActionReadReceipt(), tracker(slots=asking, intent="send_receipt", active_loop="case_form")
    )
    assert events == [ActiveLoop(None), SlotSet("requested_slot", None)]

    events, messages = await run(ActionConfirmReceipt(), tracker(slots=asking, intent="affirm"))
    assert responses(messages) == ["utter_receipt_kept"]
    assert {"event": "slot", "timestamp": None, "name": "amount", "value": 88.0} in events
    assert SlotSet("date", "2026-11-24") in events and SlotSet("card_last4", "4321") in events
    assert events[-1] == FollowupAction("case_form")
    assert case_store().receipts.of_conversation("alice")[0].status == "confirmed"


async def test_a_confirmed_picture_updates_the_open_case() -> None:
    case_id = await create_case(slots={**SLOTS, "amount": 80.0})
    sent(SLIP)
    _, messages = await run(ActionConfirmReceipt(), tracker(slots={**SLOTS, "case_id": case_id}))
    assert "utter_receipt_recorded" in responses(messages)
    case = case_store().get(case_id)
    assert (case.facts.amount, case.facts.card_last4) == (88.0, "4321")


async def test_two_slips_of_one_charge_are_a_duplicate_charge() -> None:
    sent(SLIP)
    await run(ActionConfirmReceipt(), tracker())
    sent(SECOND_SWIPE)
    events, messages = await run(ActionConfirmReceipt(), tracker())
    assert "utter_receipt_duplicate" in responses(messages)
    assert SlotSet("amount_issue", "duplicate") in events and events[-1] == FollowupAction("case_form")


async def test_the_same_slip_sent_twice_is_no_duplicate() -> None:
    sent(SLIP)
    await run(ActionConfirmReceipt(), tracker())
    sent(SLIP)
    _, messages = await run(ActionConfirmReceipt(), tracker())
    assert "utter_receipt_duplicate" not in responses(messages)


async def test_a_refund_slip_says_so_and_its_amount_is_not_the_charge() -> None:
    sent(ReceiptReading(**{**SLIP.__dict__, "transaction_type": "退货"}))
    events, messages = await run(ActionConfirmReceipt(), tracker())
    assert responses(messages)[0] == "utter_receipt_refund_slip"
    assert not any(event.get("name") == "amount" for event in events)


async def test_a_void_slip_says_the_money_never_left() -> None:
    sent(ReceiptReading(**{**SLIP.__dict__, "transaction_type": "撤销"}))
    events, messages = await run(ActionConfirmReceipt(), tracker())
    assert responses(messages)[0] == "utter_receipt_void_slip"
    assert not any(event.get("name") == "amount" for event in events)


async def test_not_right_files_nothing_and_the_form_goes_on() -> None:
    sent(SLIP)
    events, messages = await run(ActionCorrectReceipt(), tracker(slots={"kind": "misswipe"}))
    assert responses(messages) == ["utter_receipt_corrected"] and events == [FollowupAction("case_form")]
    assert case_store().receipts.of_conversation("alice")[0].status == "rejected"
    _, messages = await run(ActionConfirmReceipt(), tracker())
    assert responses(messages) == ["utter_receipt_nothing_waiting"]


async def test_another_conversations_picture_is_never_shown() -> None:
    sent(SLIP, sender="mallory-target")
    _, messages = await run(ActionReadReceipt(), tracker(sender="alice", intent="send_receipt"))
    assert responses(messages) == ["utter_receipt_missing"]
    _, messages = await run(ActionConfirmReceipt(), tracker(sender="alice"))
    assert responses(messages) == ["utter_receipt_nothing_waiting"]
    assert case_store().receipts.waiting("mallory-target").status == "read"


async def test_a_picture_with_nothing_readable_is_kept_but_asks_for_the_facts_in_words() -> None:
    sent(ReceiptReading(kind="unknown"))
    _, messages = await run(ActionReadReceipt(), tracker(intent="send_receipt"))
    assert responses(messages) == ["utter_receipt_nothing_read"]
    assert case_store().receipts.of_conversation("alice")[0].status == "rejected"
