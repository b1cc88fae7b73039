"""Recording a request for a human, for staff to pick up in the case queue."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.store import case_store, current_case


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        case = current_case(tracker)
        handoff = case_store().request_handoff(
            sender_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            case_id=case.case_id if case else None,
        )
        if handoff.already_waiting:
            dispatcher.utter_message(response="utter_handoff_already_waiting")
            return []
        if case:
            dispatcher.utter_message(response="utter_handoff_recorded_for_case", case_id=case.case_id)
        else:
            dispatcher.utter_message(response="utter_handoff_recorded")
        return []
