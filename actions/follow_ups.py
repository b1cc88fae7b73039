"""The user's say over the follow-ups: 不用提醒我了 turns them off for the conversation,
恢复提醒 turns them on again."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.store import case_store, follow_up_store


class ActionStopFollowUps(Action):
    def name(self) -> str:
        return "action_stop_follow_ups"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        follow_up_store().opt_out(tracker.sender_id)
        dispatcher.utter_message(response="utter_follow_ups_stopped")
        return []


class ActionResumeFollowUps(Action):
    def name(self) -> str:
        return "action_resume_follow_ups"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        cases = [case for case in case_store().cases_for_owner(tracker.sender_id) if case.is_open]
        pending = follow_up_store().opt_in(tracker.sender_id, cases)
        dispatcher.utter_message(
            response="utter_follow_ups_resumed" if pending else "utter_follow_ups_none_due"
        )
        return []
