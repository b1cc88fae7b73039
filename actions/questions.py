"""Answers to questions asked along the way, after which the user carries on."""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cases import record_cross_border, typed_region_answer
from actions.forms import merchant_named_in_form
from actions.store import current_case
from bot.domain.checklist import build_checklist, hotline_phrase, unionpay_hotline_phrase
from bot.domain.validation import bank_named_in, check_bank

# Intents answered by a fixed response of the same name.
STATIC_ANSWERS = {
    "ask_what_is_misswipe": "utter_ask_what_is_misswipe",
    "ask_refund_time": "utter_ask_refund_time",
    "ask_required_documents": "utter_ask_required_documents",
    "ask_prevention": "utter_ask_prevention",
    "ask_escalation": "utter_ask_escalation",
    "ask_credit_card_bill": "utter_ask_credit_card_bill",
    "ask_preauthorization": "utter_ask_preauthorization",
    "ask_cross_border": "utter_ask_cross_border",
    "ask_installment": "utter_ask_installment",
    "ask_statement_still_shows": "utter_ask_statement_still_shows",
    "ask_merchant_closed": "utter_ask_merchant_closed",
    "ask_qr_payment": "utter_ask_qr_payment",
    "ask_merchant_name_mismatch": "utter_ask_merchant_name_mismatch",
    "ask_contactless": "utter_ask_contactless",
    "ask_replaced_card": "utter_ask_replaced_card",
    "ask_refund_scam": "utter_ask_refund_scam",
    "bot_challenge": "utter_iamabot",
    "out_of_scope": "utter_out_of_scope",
}


_ASKS_FOR_UNIONPAY = re.compile(r"银联|unionpay", re.IGNORECASE)


def _bank_named(tracker: Tracker) -> str | None:
    return next(tracker.get_latest_entity_values("bank"), None) or tracker.get_slot("bank")


def _bank_for_hotline(tracker: Tracker) -> str | None:
    """The bank a hotline question is about: named in it (a bank we have no number for
    included, "长沙银行电话多少"), else the one being discussed, else the open case's."""
    named = _bank_named(tracker) or bank_named_in(tracker.latest_message.get("text") or "")
    if named:
        return named
    case = current_case(tracker)
    return case.facts.bank if case else None


class ActionAnswerQuestion(Action):
    def name(self) -> str:
        return "action_answer_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        merchant = merchant_named_in_form(tracker)
        if merchant is not None:
            # Not a question but the answer the form asked for: the form goes on with it.
            return [SlotSet("merchant", merchant)]
        typed_region = typed_region_answer(tracker)
        if typed_region is not None:
            # "国内刷的" answers the 境外/境内 question; it does not ask about cross-border payments.
            return record_cross_border(dispatcher, tracker, typed_region)
        intent = tracker.latest_message.get("intent", {}).get("name")
        if intent == "ask_bank_hotline" and _ASKS_FOR_UNIONPAY.search(
            tracker.latest_message.get("text") or ""
        ):
            # "银联的电话呢" asks for UnionPay's number, not the card's bank's.
            dispatcher.utter_message(
                response="utter_ask_bank_hotline_known", hotline_phrase=unionpay_hotline_phrase()
            )
        elif intent == "ask_bank_hotline":
            bank = _bank_for_hotline(tracker)
            # A bank we have no number for gets the number on the back of its card, not the question again.
            if bank is None or not check_bank(bank).ok:
                dispatcher.utter_message(response="utter_ask_bank_hotline_unknown")
            else:
                dispatcher.utter_message(
                    response="utter_ask_bank_hotline_known",
                    hotline_phrase=hotline_phrase(bank, tracker.get_slot("card_type")),
                )
        else:
            dispatcher.utter_message(response=STATIC_ANSWERS.get(intent, "utter_default"))
        # Inside the form the form re-asks its question itself; elsewhere remind
        # the user where their case stands so they can pick it up again.
        if tracker.active_loop.get("name"):
            return []
        case = current_case(tracker)
        upcoming = build_checklist(case).next_item if case else None
        if case and upcoming:
            dispatcher.utter_message(
                response="utter_resume_case",
                case_id=case.case_id,
                step_number=upcoming.number,
                step_title=upcoming.title,
            )
        return []


class ActionFraudAlert(Action):
    """Fraud comes first: tell the user to freeze the card before collecting anything."""

    def name(self) -> str:
        return "action_fraud_alert"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        dispatcher.utter_message(
            response="utter_fraud_urgent",
            hotline_phrase=hotline_phrase(_bank_named(tracker), tracker.get_slot("card_type")),
        )
        return []
