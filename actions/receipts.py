"""Receipt pictures: show what was read, and put it into the case only once the user confirms.

The channel has already read, cleaned and stored the picture (``bot/infra/receipt_intake.py``)
and sent ``/send_receipt``; the picture waiting for an answer is the conversation's latest
unconfirmed one in the store, so nobody can name another conversation's picture.

While the case form runs, reading a picture pauses it (the form's question would bury the
"is this right?"); the answer, confirmed or not, resumes it with whatever facts the picture gave.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cases import utter_current_step
from actions.store import case_store, current_case
from bot.domain.cases import Facts
from bot.domain.receipt_facts import case_facts, describe, duplicated_by, kind_name, records_a_refund
from bot.domain.receipts import ReceiptReading

FORM = "case_form"
# What a slip of money going back says: a void never took it, a refund goes through clearing.
SLIP_MONEY_BACK = {"撤销": "utter_receipt_void_slip", "退货": "utter_receipt_refund_slip"}


def _form_was_running(tracker: Tracker) -> bool:
    """A report is being taken (its kind known, no case yet): the form goes on after the answer."""
    return tracker.get_slot("kind") is not None and current_case(tracker) is None


class ActionReadReceipt(Action):
    def name(self) -> str:
        return "action_read_receipt"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        pause_form = [ActiveLoop(None), SlotSet("requested_slot", None)] if tracker.active_loop_name else []
        receipt = case_store().receipts.waiting(tracker.sender_id)
        if receipt is None:
            dispatcher.utter_message(response="utter_receipt_missing")
            return pause_form + _resume_form(tracker)
        if not case_facts(receipt.reading) and not receipt.reading.ref_no:
            case_store().receipts.answer(receipt, "rejected")
            picture = kind_name(receipt.reading)
            dispatcher.utter_message(response="utter_receipt_nothing_read", picture=picture)
            return pause_form + _resume_form(tracker)
        picture, fields = kind_name(receipt.reading), describe(receipt.reading)
        dispatcher.utter_message(response="utter_receipt_read", picture=picture, fields=fields)
        return pause_form


class ActionConfirmReceipt(Action):
    def name(self) -> str:
        return "action_confirm_receipt"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        store = case_store().receipts
        receipt = store.waiting(tracker.sender_id)
        if receipt is None:
            dispatcher.utter_message(response="utter_receipt_nothing_waiting")
            return []
        sent = store.of_conversation(tracker.sender_id)
        earlier = [other.reading for other in sent if other.status == "confirmed"]
        store.answer(receipt, "confirmed")
        reading = receipt.reading
        if records_a_refund(reading):
            dispatcher.utter_message(response=SLIP_MONEY_BACK[reading.transaction_type])
        facts = case_facts(reading)
        events: list[dict[str, Any]] = []
        repeated = duplicated_by(reading, earlier)
        if repeated is not None:
            dispatcher.utter_message(response="utter_receipt_duplicate", fields=_moment_of(reading))
            if tracker.get_slot("kind") in (None, "misswipe"):
                events += [SlotSet("kind", "misswipe"), SlotSet("amount_issue", "duplicate")]
        case = current_case(tracker)
        if case is not None:
            if facts:
                case = case_store().update_facts(case.case_id, _as_case_facts(facts))
                dispatcher.utter_message(response="utter_receipt_recorded", case_id=case.case_id)
            utter_current_step(dispatcher, case)
            return events
        dispatcher.utter_message(response="utter_receipt_kept")
        events += [SlotSet(slot, value) for slot, value in facts.items()]
        events.append(SlotSet("receipt_facts", {**(tracker.get_slot("receipt_facts") or {}), **facts}))
        if _form_was_running(tracker) or repeated is not None:
            return [*events, FollowupAction(FORM)]
        dispatcher.utter_message(response="utter_receipt_ask_problem")
        return events


class ActionCorrectReceipt(Action):
    def name(self) -> str:
        return "action_correct_receipt"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        receipt = case_store().receipts.waiting(tracker.sender_id)
        if receipt is None:
            dispatcher.utter_message(response="utter_receipt_nothing_waiting")
            return []
        case_store().receipts.answer(receipt, "rejected")
        dispatcher.utter_message(response="utter_receipt_corrected")
        return _resume_form(tracker)


def _resume_form(tracker: Tracker) -> list[dict[str, Any]]:
    return [FollowupAction(FORM)] if _form_was_running(tracker) else []


def _moment_of(reading: ReceiptReading) -> str:
    when = ReceiptReading(amount=reading.amount, date=reading.date, time=reading.time)
    return describe(when).replace("\n", "，")


def _as_case_facts(slots: dict[str, Any]) -> Facts:
    day = date.fromisoformat(slots["date"]) if "date" in slots else None
    return Facts(
        amount=slots.get("amount"),
        txn_date=day,
        merchant=slots.get("merchant"),
        card_last4=slots.get("card_last4"),
        card_type=slots.get("card_type"),
    )
