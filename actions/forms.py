"""The case form: which facts each kind of case needs, and their validation."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.domain import knowledge
from bot.domain.amounts import WRONG_AMOUNT, read_amount_answer, read_correct_amount_answer
from bot.domain.checklist import hotline_phrase
from bot.domain.consent import (
    AGREED,
    DECLINED,
    checked_answer,
    consent_time,
    notice_version,
    read_typed_answer,
    received_note,
)
from bot.domain.conversation import contextual_answer
from bot.domain.validation import (
    Checked,
    check_amount,
    check_bank,
    check_date,
    check_merchant,
    merchant_answer,
)
from bot.rasa.nlu.questions import asks_question

# What each path asks, from data/knowledge/steps.yml. correct_amount is asked only for a
# wrong amount (not a duplicate charge).
REQUIRED_SLOTS_BY_KIND = {kind: entry["asks"] for kind, entry in knowledge.steps()["kinds"].items()}
BANK_BUTTON_COUNT = 8


def has_a_correct_amount(kind: str | None) -> bool:
    """Whether a wrong amount on this path has a "should have been" (not on the fraud path)."""
    return "correct_amount" in REQUIRED_SLOTS_BY_KIND.get(kind or "misswipe", [])


FACT_ENTITIES = frozenset({"bank", "amount", "date", "merchant"})


def _gave_another_fact(tracker: Tracker, slot: str) -> bool:
    """A date given while the amount was asked is an answer, not a failed amount."""
    named = {entity.get("entity") for entity in tracker.latest_message.get("entities", [])}
    own = "amount" if slot == "correct_amount" else slot
    return own not in named and bool(named & FACT_ENTITIES)


# In-form questions a failed answer may really have been ("别问了，你先告诉我怎么办").
# "Don't know" is left out: it records a fact as unknown, which only its own rule does.
PASSING_QUESTIONS = ("ask_what_now", "ask_if_late", "ask_why_needed", "ask_do_later", "ask_is_safe")
RANKS_LOOKED_AT = 3


# "怎么办" asks what to do whatever else the sentence says ("别问了，你先告诉我怎么办").
_ASKS_WHAT_TO_DO = re.compile(r"怎么办|怎么处理|怎么弄|该怎么|该干|该做什么|咋办")


def what_to_do_asked(tracker: Tracker, intent: str | None) -> str | None:
    """The in-form question ``intent`` names, except that a message asking what to do
    ("别问了，你先告诉我怎么办") asks "what now": always when it was read as asking why a
    fact is needed (that answer never says what to do), else when the classifier ranked
    "what now" close ("过了好几天了怎么办" is rightly "what if late")."""
    if intent not in PASSING_QUESTIONS or intent == "ask_what_now":
        return intent
    if not _ASKS_WHAT_TO_DO.search(tracker.latest_message.get("text") or ""):
        return intent
    ranking = tracker.latest_message.get("intent_ranking") or []
    close = {guess.get("name") for guess in ranking[:RANKS_LOOKED_AT]}
    return "ask_what_now" if intent == "ask_why_needed" or "ask_what_now" in close else intent


def question_asked_instead(tracker: Tracker) -> str | None:
    """The in-form question a message asked when it did not answer the form: among the
    classifier's first few guesses, "what now" if the words ask it, else the best-ranked."""
    text = tracker.latest_message.get("text") or ""
    if not asks_question(text):
        return None
    ranking = tracker.latest_message.get("intent_ranking") or []
    guesses = [guess.get("name") for guess in ranking[:RANKS_LOOKED_AT]]
    candidates = [name for name in guesses if name in PASSING_QUESTIONS]
    if "ask_what_now" in candidates and _ASKS_WHAT_TO_DO.search(text):
        return "ask_what_now"
    return candidates[0] if candidates else None


def _slot_result(
    slot: str, checked: Checked, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    if not checked.ok:
        # The form asks for the slot again either way; only a message that said
        # nothing else we could use gets the reason it was not understood, and a
        # question gets its answer instead.
        if _gave_another_fact(tracker, slot):
            return {slot: None}
        question = question_asked_instead(tracker)
        if question is not None:
            hotline = hotline_phrase(tracker.get_slot("bank"), tracker.get_slot("card_type"))
            answer = contextual_answer(question, tracker.get_slot("kind"), slot, hotline)
            dispatcher.utter_message(response="utter_contextual_answer", answer=answer)
        elif not asks_question(tracker.latest_message.get("text") or ""):
            dispatcher.utter_message(response=f"utter_invalid_{checked.error}")
        return {slot: None}
    value = checked.value.isoformat() if slot == "date" else checked.value
    return {slot: value}


class ValidateCaseForm(FormValidationAction):
    def name(self) -> str:
        return "validate_case_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        consent = tracker.get_slot("consent")
        if consent == DECLINED:
            # Nothing more is asked: the case is not opened and the facts are dropped.
            return []
        required = REQUIRED_SLOTS_BY_KIND.get(tracker.get_slot("kind") or "misswipe", domain_slots)
        # Facts the user said they do not know are answered: not asked again.
        skipped = set(tracker.get_slot("unknown_facts") or [])
        if tracker.get_slot("amount_issue") != WRONG_AMOUNT:
            skipped.add("correct_amount")
        facts = [slot for slot in required if slot not in skipped]
        # The notice comes before the first fact question, once per conversation (the
        # slot carries over sessions), and again only when its text (version) changed.
        return facts if consent == notice_version() else ["consent", *facts]

    async def extract_consent(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A typed answer to the notice that the classifier did not read as yes or no
        ("同意" reads as merchant_agreed); the buttons and a plain 好的/不用了 fill the
        slot through its from_intent mappings."""
        # A stale consent (an earlier notice version) is answered again, not kept.
        if tracker.get_slot("requested_slot") != "consent" or tracker.get_slot("consent") in (
            AGREED,
            DECLINED,
        ):
            return {}
        text = tracker.latest_message.get("text") or ""
        answer = None if asks_question(text) else read_typed_answer(text)
        return {"consent": answer} if answer else {}

    def validate_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        consent = checked_answer(value)
        if consent is None or consent == DECLINED:
            return {"consent": consent}
        answered = next((event for event in reversed(tracker.events) if event.get("event") == "user"), {})
        return {"consent": consent, "consent_at": consent_time(answered.get("timestamp"))}

    def validate_bank(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return _slot_result("bank", check_bank(value), dispatcher, tracker)

    def validate_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        """The amount as charged, read with the words around it ("本来300刷成了3000")."""
        answer = read_amount_answer(
            tracker.latest_message.get("text") or "",
            issue=tracker.get_slot("amount_issue"),
            overcharge=tracker.get_slot("overcharge"),
        )
        if not answer.names_an_amount:
            return _slot_result("amount", check_amount(value), dispatcher, tracker)
        if not has_a_correct_amount(tracker.get_slot("kind")):
            charged = answer.charged if answer.charged is not None else value
            return _slot_result("amount", check_amount(charged), dispatcher, tracker)
        slots: dict[str, Any] = {"amount_issue": answer.issue, "overcharge": answer.overcharge}
        if answer.correct is not None:
            slots.update(_slot_result("correct_amount", check_amount(answer.correct), dispatcher, tracker))
        # "多扣了500" on a wrong amount is the difference: the charged amount is asked next.
        if answer.charged is None:
            return {**slots, "amount": None}
        return {**slots, **_slot_result("amount", check_amount(answer.charged), dispatcher, tracker)}

    def validate_correct_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        correct, charged = read_correct_amount_answer(
            tracker.latest_message.get("text") or str(value), charged=tracker.get_slot("amount")
        )
        slots = _slot_result("correct_amount", check_amount(correct), dispatcher, tracker)
        if charged is not None:
            slots.update(_slot_result("amount", check_amount(charged), dispatcher, tracker))
        return slots

    def validate_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return _slot_result("date", check_date(value), dispatcher, tracker)

    def validate_merchant(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        # The answer to "哪个商户" is the whole name: "老百姓大药房", not the "大药房" the
        # entity model may have picked out of it.
        if tracker.get_slot("requested_slot") == "merchant":
            whole = merchant_answer(tracker.latest_message.get("text") or "")
            if whole and str(value) in whole:
                value = whole
        return _slot_result("merchant", check_merchant(value), dispatcher, tracker)


def merchant_named_in_form(tracker: Tracker) -> str | None:
    """The shop's name, when the form asked for it and the reply is just a name that the
    intent classifier took for a question ("外婆家" as bot_challenge)."""
    if not tracker.active_loop.get("name") or tracker.get_slot("requested_slot") != "merchant":
        return None
    text = tracker.latest_message.get("text") or ""
    return None if asks_question(text) else merchant_answer(text)


class ActionAskConsent(Action):
    """The privacy notice with 同意/不同意, naming the kinds of facts already given."""

    def name(self) -> str:
        return "action_ask_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        notice = knowledge.privacy_notice()
        given = [slot for slot in notice["fact_names"] if tracker.get_slot(slot) is not None]
        dispatcher.utter_message(
            response="utter_ask_consent",
            received_note=received_note(given),
            notice=notice["text"],
            buttons=notice["buttons"],
        )
        return []


class ActionAskBank(Action):
    """Asks for the bank with one button per major bank, taken from banks.yml."""

    def name(self) -> str:
        return "action_ask_bank"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        buttons = [
            {"title": bank.short, "payload": f'/inform{{"bank": "{bank.name}"}}'}
            for bank in knowledge.banks()[:BANK_BUTTON_COUNT]
        ]
        dispatcher.utter_message(response="utter_ask_bank", buttons=buttons)
        return []
