"""The user's say over the follow-ups: 不用提醒我了 turns them off for the conversation."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.store import follow_up_store


class ActionStopFollowUps(Action):
    def name(self) -> str:
        return "action_stop_follow_ups"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        follow_up_store().opt_out(tracker.sender_id)
        dispatcher.utter_message(response="utter_follow_ups_stopped")
        return []
