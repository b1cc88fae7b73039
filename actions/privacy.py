"""导出我的信息 and 删除我的信息: the user's copy of their data, and its deletion.

The copy is a short-lived link to a JSON download served by the Rasa server
(``bot/infra/export_links.py``, ``bot/rasa/channels/widget.py``); WeChat shows
no links, so there the user gets a summary of their cases in the chat.

Deletion is the Rasa server's: it runs under the conversation's lock
(``bot/rasa/channels/staff.py``), and this turn holds that lock until its
events are saved. So the action asks for it ``after_turn`` and the server
erases the conversation as soon as the turn lets go, this reply included.
"""

from __future__ import annotations

import asyncio

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cases import case_list_text
from actions.store import case_store
from bot.infra import staff_bridge
from bot.infra.export_links import LIFETIME, new_export_link
from bot.infra.identity import namespace_of

# The erase confirmation's own response: a confirm_erase after anything else asks again.
CONFIRMATION = "utter_confirm_erase"


class ActionExportMyData(Action):
    def name(self) -> str:
        return "action_export_my_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        cases = await asyncio.to_thread(case_store().cases_for_owner, tracker.sender_id)
        if namespace_of(tracker.sender_id) == "wechat":
            if cases:
                dispatcher.utter_message(response="utter_export_summary", summary=case_list_text(cases))
            else:
                dispatcher.utter_message(response="utter_export_nothing")
            return []
        dispatcher.utter_message(
            response="utter_export_ready",
            minutes=int(LIFETIME.total_seconds() // 60),
            json_message={"data": {"export_url": new_export_link(tracker.sender_id)}},
        )
        return []


class ActionEraseMyData(Action):
    def name(self) -> str:
        return "action_erase_my_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        if not _confirmation_was_asked(tracker):
            dispatcher.utter_message(response=CONFIRMATION)
            return []
        answer = await staff_bridge.erase_after_the_users_turn(tracker.sender_id, "user_request")
        if not answer.ok:
            dispatcher.utter_message(response="utter_erase_failed")
            return []
        dispatcher.utter_message(response="utter_erase_done", json_message={"data": {"erased": True}})
        return []


def _confirmation_was_asked(tracker: Tracker) -> bool:
    """Whether the bot's last message before this one was the erase confirmation (as a rule
    or this action uttered it: Rasa names the response in the message's metadata)."""
    seen_this_message = False
    for event in reversed(list(tracker.events)):
        if event.get("event") == "user":
            if seen_this_message:
                return False
            seen_this_message = True
        elif seen_this_message and event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action") == CONFIRMATION
    return False
