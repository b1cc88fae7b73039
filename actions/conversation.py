"""The conversation around the case form: starting a report, a second problem, a change
of kind, and questions asked while the facts are collected."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cases import (
    CHECKERS,
    FACT_SLOTS,
    PROBLEM_SLOTS,
    facts_from_slots,
    record_consent,
    utter_current_step,
)
from actions.forms import has_a_correct_amount, what_to_do_asked
from actions.store import case_store, current_case
from bot.domain import knowledge
from bot.domain.amounts import amount_issue, amount_roles
from bot.domain.cases import KINDS, Case, Facts
from bot.domain.checklist import build_checklist, hotline_phrase
from bot.domain.conversation import FACT_FOR_SLOT, answer_first, contextual_answer, names_its_kind
from bot.domain.progress import advance, reports_step_done
from bot.domain.validation import shop_in_report
from bot.rasa.nlu.questions import asks_question


def _text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def facts_in_message(tracker: Tracker) -> dict[str, Any]:
    """The checked facts the latest message names, by slot."""
    named = {entity["entity"]: entity["value"] for entity in tracker.latest_message.get("entities", [])}
    facts: dict[str, Any] = {}
    for slot, value in named.items():
        if slot in CHECKERS:
            checked = CHECKERS[slot](value)
            if checked.ok:
                facts[slot] = checked.value.isoformat() if slot == "date" else checked.value
        elif slot == "card_type" and value in ("credit", "debit"):
            facts[slot] = value
    if "merchant" not in facts:
        shop = shop_in_report(_text(tracker))
        if shop is not None:
            facts["merchant"] = shop
    return facts


def fresh_problem_slots(tracker: Tracker) -> list[dict[str, Any]]:
    """Slots for a problem reported in the latest message: its own facts, and those of a
    picture the user confirmed before saying what the problem was; nothing else left over."""
    given = {**(tracker.get_slot("receipt_facts") or {}), **facts_in_message(tracker)}
    issue = amount_issue(_text(tracker)) if has_a_correct_amount(tracker.get_slot("kind")) else None
    return [
        *(SlotSet(slot, given.get(slot)) for slot in FACT_SLOTS),
        SlotSet("overcharge", None),
        SlotSet("unknown_facts", None),
        SlotSet("amount_issue", issue),
    ]


def slots_from_case(case: Case) -> list[dict[str, Any]]:
    """The problem slots as the case records them (after a report turned out to be the same problem)."""
    facts = case.facts
    values = {
        "bank": facts.bank,
        "amount": facts.amount,
        "correct_amount": facts.correct_amount,
        "date": facts.txn_date.isoformat() if facts.txn_date else None,
        "merchant": facts.merchant,
        "card_last4": facts.card_last4,
        "card_type": facts.card_type,
        "overcharge": None,
        "amount_issue": None,
        "unknown_facts": [slot for slot, fact in FACT_FOR_SLOT.items() if fact in facts.unknown] or None,
    }
    return [SlotSet("kind", case.kind), *(SlotSet(slot, values[slot]) for slot in PROBLEM_SLOTS)]


def describes_another_transaction(facts: Facts, tracker: Tracker) -> bool:
    """Does the latest message name a bank, amount, date or merchant the case does not have?"""
    given = facts_in_message(tracker)
    if facts.bank and given.get("bank") and given["bank"] != facts.bank:
        return True
    if facts.txn_date and given.get("date") and given["date"] != facts.txn_date.isoformat():
        return True
    merchant = given.get("merchant")
    if facts.merchant and merchant and merchant not in facts.merchant and facts.merchant not in merchant:
        return True
    roles = amount_roles(_text(tracker))
    named = {amount for amount in (roles.charged, roles.correct, roles.overcharge) if amount is not None}
    recorded = {amount for amount in (facts.amount, facts.correct_amount) if amount is not None}
    return bool(named and recorded and not named & recorded)


def kind_label(kind: str) -> str:
    return knowledge.steps()["kinds"][kind]["label"]


class ActionStartReport(Action):
    """A problem is reported. With another problem open, ask whether this is a new case;
    otherwise start afresh (or go on with the same case) and answer first if the user asked how."""

    def name(self) -> str:
        return "action_start_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        kind = tracker.get_slot("kind") or "misswipe"
        case = current_case(tracker)
        kept_kind: list[dict[str, Any]] = []
        if case is not None and case.kind != kind and not names_its_kind(kind, _text(tracker)):
            # The classifier's other kind, without the words for it, is the same kind of problem.
            kind = case.kind
            kept_kind = [SlotSet("kind", kind)]
        if case is not None and (case.kind != kind or describes_another_transaction(case.facts, tracker)):
            dispatcher.utter_message(
                response="utter_ask_new_case",
                case_id=case.case_id,
                case_summary=build_checklist(case).summary,
            )
            return [*kept_kind, SlotSet("confirming", "new_case"), *fresh_problem_slots(tracker)]
        events: list[dict[str, Any]] = [*kept_kind, SlotSet("confirming", None)]
        if case is None:
            events += [SlotSet("case_id", None), *fresh_problem_slots(tracker)]
        answer = answer_first(kind)
        if answer and asks_question(_text(tracker)):
            dispatcher.utter_message(response="utter_answer_first", answer=answer)
        return events


class ActionOpenNewCase(Action):
    """The user confirmed a second problem: it gets its own case, which the form fills in."""

    def name(self) -> str:
        return "action_open_new_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        previous = current_case(tracker)
        kind = tracker.get_slot("kind")
        if kind not in KINDS:
            dispatcher.utter_message(response="utter_how_can_help")
            return [SlotSet("confirming", None)]
        case = case_store().open_case(
            sender_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            kind=kind,
            facts=facts_from_slots(tracker),
        )
        record_consent(tracker, case)
        dispatcher.utter_message(
            response="utter_new_case_opened",
            case_id=case.case_id,
            previous_case_id=previous.case_id if previous else "",
        )
        return [SlotSet("case_id", case.case_id), SlotSet("confirming", None)]


class ActionSameProblem(Action):
    """Not another transaction: keep the open case, and ask before changing its kind."""

    def name(self) -> str:
        return "action_same_problem"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        case = current_case(tracker)
        if case is None:
            dispatcher.utter_message(response="utter_deny_ack")
            return [SlotSet("confirming", None)]
        proposed = tracker.get_slot("kind")
        restored = slots_from_case(case)
        if proposed in KINDS and proposed != case.kind:
            dispatcher.utter_message(
                response="utter_ask_change_kind",
                case_id=case.case_id,
                old_kind=kind_label(case.kind),
                new_kind=kind_label(proposed),
            )
            # The kind slot keeps the proposal until the user answers.
            return [*restored, SlotSet("kind", proposed), SlotSet("confirming", "change_kind")]
        dispatcher.utter_message(response="utter_same_case_kept", case_id=case.case_id)
        utter_current_step(dispatcher, case)
        return [*restored, SlotSet("confirming", None)]


class ActionChangeKind(Action):
    """The user confirmed: the case takes the proposed kind (logged as a case event)."""

    def name(self) -> str:
        return "action_change_kind"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        case = current_case(tracker)
        kind = tracker.get_slot("kind")
        if case is None or kind not in KINDS:
            dispatcher.utter_message(response="utter_no_case")
            return [SlotSet("confirming", None)]
        case = case_store().change_kind(case.case_id, kind)
        dispatcher.utter_message(
            response="utter_kind_changed", case_id=case.case_id, kind_label=kind_label(case.kind)
        )
        utter_current_step(dispatcher, case)
        return [SlotSet("confirming", None)]


class ActionKeepKind(Action):
    """The user declined the change of kind: the case and the kind slot stay as they were."""

    def name(self) -> str:
        return "action_keep_kind"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        case = current_case(tracker)
        if case is None:
            dispatcher.utter_message(response="utter_deny_ack")
            return [SlotSet("confirming", None)]
        dispatcher.utter_message(
            response="utter_kind_kept", case_id=case.case_id, kind_label=kind_label(case.kind)
        )
        utter_current_step(dispatcher, case)
        return [SlotSet("kind", case.kind), SlotSet("confirming", None)]


class ActionAnswerInContext(Action):
    """Answers what now / what if late / why needed / don't know / later / is it safe,
    for the user's path and the fact being asked; the form then asks again.

    "Don't know" is an answer: the fact is recorded as unknown and not asked again.
    """

    def name(self) -> str:
        return "action_answer_in_context"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        intent = what_to_do_asked(tracker, tracker.latest_message.get("intent", {}).get("name"))
        in_form = bool(tracker.active_loop.get("name"))
        case = current_case(tracker)
        slot = tracker.get_slot("requested_slot") if in_form else None
        kind = tracker.get_slot("kind") if in_form else (case.kind if case else None)
        events: list[dict[str, Any]] = []
        if intent == "dont_know" and slot in FACT_FOR_SLOT:
            events.append(SlotSet("unknown_facts", [*(tracker.get_slot("unknown_facts") or []), slot]))
        if not in_form and case is not None and reports_step_done(_text(tracker)):
            case, _ = advance(case_store(), case)
            utter_current_step(dispatcher, case)
            return events
        if not in_form and case is not None and intent == "ask_what_now":
            utter_current_step(dispatcher, case)
            return events
        bank = tracker.get_slot("bank") or (case.facts.bank if case else None)
        hotline = hotline_phrase(bank, tracker.get_slot("card_type"))
        dispatcher.utter_message(
            response="utter_contextual_answer", answer=contextual_answer(intent, kind, slot, hotline)
        )
        upcoming = build_checklist(case).next_item if case and not in_form else None
        if upcoming is not None:
            dispatcher.utter_message(
                response="utter_resume_case",
                case_id=case.case_id,
                step_number=upcoming.number,
                step_title=upcoming.title,
            )
        return events
