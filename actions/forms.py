"""The case form: which facts each kind of case needs, and their validation."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import knowledge
from bot.validation import Checked, check_amount, check_bank, check_date, check_merchant

REQUIRED_SLOTS_BY_KIND = {
    "misswipe": ["bank", "amount", "date", "merchant"],
    "failed_charge": ["bank", "amount", "date", "merchant"],
    "unauthorized": ["bank", "amount", "date"],
    "merchant": ["amount", "date"],
}
BANK_BUTTON_COUNT = 8


def _slot_result(slot: str, checked: Checked, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    if not checked.ok:
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
        return REQUIRED_SLOTS_BY_KIND.get(tracker.get_slot("kind") or "misswipe", domain_slots)

    def validate_bank(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return _slot_result("bank", check_bank(value), dispatcher)

    def validate_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return _slot_result("amount", check_amount(value), dispatcher)

    def validate_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return _slot_result("date", check_date(value), dispatcher)

    def validate_merchant(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        return _slot_result("merchant", check_merchant(value), dispatcher)


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
