"""Actions that create, advance, correct and show the user's case."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.store import case_store, current_case, follow_up_store
from bot.domain import knowledge
from bot.domain.cases import KINDS, MAX_NEW_CASES_PER_DAY, Case, Facts, TooManyCases
from bot.domain.checklist import (
    ChecklistItem,
    awaits_cross_border,
    bank_deadline,
    build_checklist,
    format_amount,
    general_steps,
    needs_cross_border,
    render_step,
    render_text,
)
from bot.domain.clock import today
from bot.domain.consent import consent_time, is_given
from bot.domain.conversation import FACT_FOR_SLOT
from bot.domain.follow_ups import not_received_target
from bot.domain.links import new_checklist_link
from bot.domain.progress import advance, complete_steps, item_for, moves_on, shop_got_nothing, status_label
from bot.domain.validation import (
    check_amount,
    check_bank,
    check_card_last4,
    check_date,
    check_merchant,
    cross_border_answer,
)
from bot.infra import staff_bridge
from bot.rasa.nlu.questions import asks_question

CHECKERS = {
    "bank": check_bank,
    "amount": check_amount,
    "correct_amount": check_amount,
    "date": check_date,
    "merchant": check_merchant,
    "card_last4": check_card_last4,
}


CARD_TYPES = ("credit", "debit")

# The slots that describe one problem; a new problem starts them afresh.
FACT_SLOTS = ("bank", "amount", "correct_amount", "date", "merchant", "card_last4", "card_type")
PROBLEM_SLOTS = (*FACT_SLOTS, "overcharge", "amount_issue", "unknown_facts")


def checked_slot(tracker: Tracker, slot: str) -> Any:
    """A fact slot's value after the form's own check; None when missing or invalid.

    The form validates what users type, but the action server can be called
    with any tracker, so nothing reaches the store unchecked.
    """
    value = tracker.get_slot(slot)
    if value is None:
        return None
    checked = CHECKERS[slot](value)
    return checked.value if checked.ok else None


def facts_from_slots(tracker: Tracker) -> Facts:
    card_type = tracker.get_slot("card_type")
    cross_border = tracker.get_slot("cross_border")
    unknown_slots = tracker.get_slot("unknown_facts") or []
    return Facts(
        bank=checked_slot(tracker, "bank"),
        amount=checked_slot(tracker, "amount"),
        correct_amount=checked_slot(tracker, "correct_amount"),
        txn_date=checked_slot(tracker, "date"),
        merchant=checked_slot(tracker, "merchant"),
        card_last4=checked_slot(tracker, "card_last4"),
        card_type=card_type if card_type in CARD_TYPES else None,
        cross_border=cross_border if isinstance(cross_border, bool) else None,
        unknown=frozenset(FACT_FOR_SLOT[slot] for slot in unknown_slots if slot in FACT_FOR_SLOT),
    )


# Each path offers its own replies under a step: only a cardholder's
# mis-swipe waits on the merchant's answer.
STEP_RESPONSES = {
    "misswipe": "utter_step",
    "failed_charge": "utter_step_failed_charge",
    "unauthorized": "utter_step_unauthorized",
    "merchant": "utter_step_merchant",
}


def ask_cross_border_if_it_matters(
    dispatcher: CollectingDispatcher, case: Case, item: ChecklistItem | None
) -> None:
    if needs_cross_border(case, item):
        dispatcher.utter_message(response="utter_which_region")


def utter_current_step(dispatcher: CollectingDispatcher, case: Case) -> None:
    checklist = build_checklist(case)
    upcoming = checklist.next_item
    if upcoming is None:
        dispatcher.utter_message(response="utter_all_steps_done")
        return
    dispatcher.utter_message(response=STEP_RESPONSES[case.kind], step_text=render_step(checklist, upcoming))
    ask_cross_border_if_it_matters(dispatcher, case, upcoming)


class ActionCreateCase(Action):
    def name(self) -> str:
        return "action_create_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        kind = tracker.get_slot("kind") or "misswipe"
        if kind not in KINDS:
            dispatcher.utter_message(response="utter_how_can_help")
            return []
        if not is_given(tracker.get_slot("consent")):
            return await keep_nothing(dispatcher, tracker, kind)
        facts = facts_from_slots(tracker)
        existing = current_case(tracker)
        if existing is not None:
            # The form ran again for the problem already recorded: its facts are
            # updated, its kind only ever changes when the user confirms it.
            case = case_store().update_facts(existing.case_id, facts)
        else:
            try:
                case = case_store().open_case(
                    sender_id=tracker.sender_id,
                    channel=tracker.get_latest_input_channel() or "unknown",
                    kind=kind,
                    facts=facts,
                )
            except TooManyCases:
                dispatcher.utter_message(response="utter_too_many_cases", limit=MAX_NEW_CASES_PER_DAY)
                return []
            record_consent(tracker, case)
        # Pictures sent before the case existed are its evidence from now on.
        case_store().receipts.attach(tracker.sender_id, case.case_id)
        dispatcher.utter_message(
            response="utter_case_created", case_id=case.case_id, summary=build_checklist(case).summary
        )
        utter_current_step(dispatcher, case)
        carried = [SlotSet("receipt_facts", None)] if tracker.get_slot("receipt_facts") else []
        return [SlotSet("case_id", case.case_id), *carried]


def record_consent(tracker: Tracker, case: Case) -> None:
    """The consent a new case was opened with: the notice version, when and where it was given."""
    if not is_given(tracker.get_slot("consent")):
        # A conversation from before the notice: its second case is opened as the first was.
        return
    at = tracker.get_slot("consent_at") or consent_time(None)
    detail = {"version": tracker.get_slot("consent"), "at": at, "channel": case.channel}
    case_store().record_event(case.case_id, "consent_given", detail)


async def keep_nothing(dispatcher: CollectingDispatcher, tracker: Tracker, kind: str) -> list[dict[str, Any]]:
    """No consent: no case, the general steps of this kind, and the conversation erased
    (its facts and transcript) by the Rasa server once this turn is over."""
    dispatcher.utter_message(
        response="utter_consent_declined",
        declined=knowledge.privacy_notice()["declined"],
        steps=general_steps(kind),
    )
    erasing = await staff_bridge.erase_after_the_users_turn(tracker.sender_id, "consent_declined")
    if not erasing.ok:
        dispatcher.utter_message(response="utter_erase_failed")
    # Cleared in any case; asked again if the user reports a problem later in the conversation.
    return [
        *(SlotSet(slot, None) for slot in PROBLEM_SLOTS),
        SlotSet("consent", None),
        SlotSet("consent_at", None),
        SlotSet("receipt_facts", None),
    ]


class ActionNextStep(Action):
    def name(self) -> str:
        return "action_next_step"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        case = current_case(tracker)
        if case is None:
            dispatcher.utter_message(response="utter_how_can_help")
            return []
        waiting_on = build_checklist(case).next_item
        text = tracker.latest_message.get("text") or ""
        if waiting_on is not None and waiting_on.waits and not moves_on(text):
            # "好的" while the money is on its way: the wait goes on, the step stays open.
            dispatcher.utter_message(
                response="utter_still_waiting",
                step_text=render_step(build_checklist(case), waiting_on),
            )
            return []
        case, _ = advance(case_store(), case)
        utter_current_step(dispatcher, case)
        return []


class ActionUpdateCase(Action):
    """Applies facts the user gave or corrected (金额说错了，是3000) to the open case."""

    def name(self) -> str:
        return "action_update_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        given = {entity["entity"]: entity["value"] for entity in tracker.latest_message.get("entities", [])}
        if isinstance(given.get("cross_border"), bool):
            return record_cross_border(dispatcher, tracker, given["cross_border"])
        typed_region = typed_region_answer(tracker)
        if typed_region is not None:
            return record_cross_border(dispatcher, tracker, typed_region)
        changes: list[str] = []
        events: list[dict[str, Any]] = []
        accepted: dict[str, Any] = {}
        for slot, checker in CHECKERS.items():
            if slot not in given:
                continue
            checked = checker(given[slot])
            if not checked.ok:
                dispatcher.utter_message(response=f"utter_invalid_{checked.error}")
                events.append(SlotSet(slot, None))
                continue
            accepted[slot] = checked.value
            events.append(SlotSet(slot, checked.value.isoformat() if slot == "date" else checked.value))
            changes.append(describe_change(slot, checked.value))
        case = current_case(tracker)
        if case is None:
            dispatcher.utter_message(response="utter_how_can_help")
            return events
        if accepted:
            case = case_store().update_facts(
                case.case_id,
                Facts(
                    bank=accepted.get("bank"),
                    amount=accepted.get("amount"),
                    txn_date=accepted.get("date"),
                    merchant=accepted.get("merchant"),
                    card_last4=accepted.get("card_last4"),
                ),
            )
            dispatcher.utter_message(response="utter_case_updated", changes="，".join(changes))
        upcoming = build_checklist(case).next_item
        if upcoming is not None:
            dispatcher.utter_message(
                response="utter_resume_case",
                case_id=case.case_id,
                step_number=upcoming.number,
                step_title=upcoming.title,
            )
        return events


def typed_region_answer(tracker: Tracker) -> bool | None:
    """The typed answer to the 境外/境内 question, while the open case's step waits on it."""
    text = tracker.latest_message.get("text") or ""
    case = current_case(tracker)
    if case is None or asks_question(text) or not awaits_cross_border(case):
        return None
    return cross_border_answer(text)


def record_cross_border(
    dispatcher: CollectingDispatcher, tracker: Tracker, cross_border: bool
) -> list[dict[str, Any]]:
    """The answer to the 境外/境内 question (a button): stored, and the time limit it gives said."""
    case = current_case(tracker)
    if case is None:
        # Answered before the case exists: the slot carries it into the new case.
        dispatcher.utter_message(response="utter_cross_border_noted")
        return []
    case = case_store().update_facts(case.case_id, Facts(cross_border=cross_border))
    dispatcher.utter_message(response="utter_cross_border_recorded", bank_deadline=bank_deadline(case))
    return []


def describe_change(slot: str, value: Any) -> str:
    """金额改为2500元: the wording comes from steps.yml."""
    if slot == "amount":
        shown = format_amount(value)
    elif slot == "date":
        shown = f"{value.month}月{value.day}日"
    else:
        shown = str(value)
    label = knowledge.steps()["fact_labels"][slot]
    return knowledge.steps()["wording"]["fact_changed"].format(label=label, value=shown)


class ActionMerchantAgreed(Action):
    def name(self) -> str:
        return "action_merchant_agreed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        case = current_case(tracker)
        if case is None:
            dispatcher.utter_message(response="utter_no_case")
            return []
        handled_with_merchant = ["contact_merchant", "gather_evidence", "file_application"]
        case, checklist = complete_steps(case_store(), case, handled_with_merchant)
        case = case_store().set_status(case.case_id, "waiting_merchant")
        follow_up = item_for(checklist, "follow_up")
        step_text = render_step(checklist, follow_up) if follow_up else ""
        dispatcher.utter_message(response="utter_merchant_agreed", step_text=step_text)
        return []


class ActionMerchantRefused(Action):
    def name(self) -> str:
        return "action_merchant_refused"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        case = current_case(tracker)
        if case is None:
            dispatcher.utter_message(response="utter_no_case")
            return []
        text = tracker.latest_message.get("text") or ""
        if case.kind == "failed_charge" and shop_got_nothing(text):
            # The shop got no money: the charge is reversed automatically, so the wait comes next.
            case, _ = advance(case_store(), case)
            utter_current_step(dispatcher, case)
            return []
        follow_up_store().mark_answered(case.case_id, "merchant_refused")
        case, _ = complete_steps(case_store(), case, ["contact_merchant"])
        case = case_store().set_status(case.case_id, "with_bank")
        checklist = build_checklist(case)
        bank_step = item_for(checklist, "contact_bank")
        step_text = render_step(checklist, bank_step) if bank_step else ""
        dispatcher.utter_message(response="utter_merchant_refused", step_text=step_text)
        ask_cross_border_if_it_matters(dispatcher, case, bank_step)
        return []


class ActionRefundReceived(Action):
    def name(self) -> str:
        return "action_refund_received"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        case = current_case(tracker)
        if case is None:
            dispatcher.utter_message(response="utter_no_case")
            return []
        follow_up_store().mark_answered(case.case_id, "refund_received")
        case_store().set_status(case.case_id, "resolved")
        dispatcher.utter_message(response="utter_refund_received", case_id=case.case_id)
        dispatcher.utter_message(response="utter_ask_rating")
        return [SlotSet("case_id", None), SlotSet("feedback_case", case.case_id)]


class ActionRefundNotYet(Action):
    """还没有 (the money has not come): past the step's date, the case moves on to where
    steps.yml sends it (``when_not_received``: the issuing bank); before it, the wait goes on."""

    def name(self) -> str:
        return "action_refund_not_yet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        case = current_case(tracker)
        if case is None:
            dispatcher.utter_message(response="utter_no_case")
            return []
        follow_up_store().mark_answered(case.case_id, "refund_not_yet")
        checklist = build_checklist(case)
        waiting = next((item for item in checklist.items if item.waits and item.pending), None)
        if waiting is None:
            upcoming = checklist.next_item
            if upcoming is None:
                dispatcher.utter_message(response="utter_refund_not_yet_all_done")
                return []
            dispatcher.utter_message(
                response="utter_refund_not_yet_current_step", step_text=render_step(checklist, upcoming)
            )
            return []
        if waiting.due is not None and waiting.due > today():
            step_text = render_step(checklist, waiting)
            dispatcher.utter_message(response="utter_still_waiting", step_text=step_text)
            return []
        case, checklist = complete_steps(case_store(), case, [waiting.step_id])
        target_id = not_received_target(waiting.step_id, case.kind)
        target = item_for(checklist, target_id) if target_id else checklist.next_item
        if target is None:
            dispatcher.utter_message(response="utter_refund_not_yet_all_done")
            return []
        status = knowledge.steps()["status_on_entering_step"].get(target.step_id)
        if status and case.status != status:
            case = case_store().set_status(case.case_id, status)
            checklist = build_checklist(case)
            target = item_for(checklist, target.step_id) or target
        dispatcher.utter_message(response="utter_refund_not_yet", step_text=render_step(checklist, target))
        ask_cross_border_if_it_matters(dispatcher, case, target)
        return []


class ActionShowChecklist(Action):
    def name(self) -> str:
        return "action_show_checklist"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        case = current_case(tracker)
        if case is None:
            dispatcher.utter_message(response="utter_no_case")
            return []
        dispatcher.utter_message(
            response="utter_checklist",
            checklist=render_text(build_checklist(case)),
            json_message={"data": {"checklist_url": new_checklist_link(case_store(), case.case_id)}},
        )
        return []


class ActionCheckCaseStatus(Action):
    """Shows a case only to the conversation that owns it; anyone else gets 'not found'.

    Without a case number, a conversation with several cases gets the list of
    them; a case number picks that case as the one the conversation works on.
    """

    def name(self) -> str:
        return "action_check_case_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        asked_for = next(tracker.get_latest_entity_values("case_id"), None)
        events: list[dict[str, Any]] = []
        if asked_for:
            case = case_store().get_for_owner(asked_for, tracker.sender_id)
            if case is None:
                dispatcher.utter_message(response="utter_case_not_found")
                return []
            if case.is_open:
                events = [SlotSet("case_id", case.case_id), SlotSet("kind", case.kind)]
        else:
            cases = case_store().cases_for_owner(tracker.sender_id)
            if len(cases) > 1:
                dispatcher.utter_message(
                    response="utter_case_list", count=len(cases), cases=case_list_text(cases)
                )
                return []
            case = current_case(tracker)
            if case is None:
                dispatcher.utter_message(response="utter_no_case")
                return []
        dispatcher.utter_message(
            response="utter_case_status",
            case_id=case.case_id,
            status_label=status_label(case.status),
            checklist=render_text(build_checklist(case)),
        )
        return events


def case_list_text(cases: list[Case]) -> str:
    """One line per case: "1. WS-…｜误刷（…）：3000元｜11月20日｜华联超市｜处理中"."""
    return "\n".join(
        f"{number}. {case.case_id}｜{build_checklist(case).summary}｜{status_label(case.status)}"
        for number, case in enumerate(cases, start=1)
    )
