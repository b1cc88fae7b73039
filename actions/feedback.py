"""Satisfaction once the money came back: the rating, then an optional one-line comment.

``action_refund_received`` asks the question and names the case in
``feedback_case``; a rating is stored at once, and ``feedback_form`` takes the
next turn as the comment, so a comment that reads like a report opens no case.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.store import case_store
from bot.domain.cases import Case
from bot.domain.feedback import clean_comment, rating, rating_from_text

THANKS = {
    "satisfied": "utter_rating_thanks",
    "neutral": "utter_rating_thanks",
    "dissatisfied": "utter_rating_sorry",
}
# "好的", "没有了", "谢谢", "再见" close the conversation; a longer sentence is a comment whatever its intent.
CLOSING_INTENTS = frozenset({"affirm", "deny", "thank", "goodbye"})
CLOSING_MAX_CHARS = 8
# The bot's last move before a typed rating must have been the question (or the comment question).
ASKING_ACTIONS = frozenset({"action_refund_received", "action_record_rating", "feedback_form"})


def rated_case(tracker: Tracker) -> Case | None:
    """The resolved case the question was about, if this conversation owns it."""
    case_id = tracker.get_slot("feedback_case")
    case = case_store().get_for_owner(case_id, tracker.sender_id) if case_id else None
    return case if case is not None and case.status == "resolved" else None


def answers_the_question(tracker: Tracker) -> bool:
    """Whether the latest message came right after the rating question. A button carries its
    score and counts any time; typed words count only here, as "我对处理结果不满意，要投诉"
    elsewhere is a complaint, not a rating of the last case."""
    before_message = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            before_message = True
        elif before_message and event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name") in ASKING_ACTIONS
    return False


def channel_of(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "unknown"


class ActionRecordRating(Action):
    """满意 / 一般 / 不满意 from a button (its score) or typed ("满意", "差评", "4分")."""

    def name(self) -> str:
        return "action_record_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        case = rated_case(tracker)
        if case is None:
            dispatcher.utter_message(response="utter_nothing_to_rate")
            return [SlotSet("feedback", None)]
        given = rating(next(tracker.get_latest_entity_values("score"), None))
        if given is None and answers_the_question(tracker):
            given = rating_from_text(tracker.latest_message.get("text") or "")
        if given is None:
            dispatcher.utter_message(response="utter_ask_rating")
            return [SlotSet("feedback", None)]
        # A new score replaces the old one; the words already given stay until new ones come.
        earlier = case_store().feedback(case.case_id)
        comment = earlier.comment if earlier else None
        case_store().record_feedback(case.case_id, given, comment, channel_of(tracker))
        dispatcher.utter_message(response=THANKS[given.label])
        return [
            SlotSet("feedback", "rated"),
            SlotSet("feedback_score", given.score),
        ]


class ValidateFeedbackForm(FormValidationAction):
    def name(self) -> str:
        return "validate_feedback_form"

    def validate_feedback_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The comment as typed, or "" for none: a short closing word or a button's payload.

        Also called with None, for a reset slot, when the form starts: it stays unfilled, so the form asks.
        """
        if value is None:
            return {"feedback_comment": None}
        text = str(value).strip()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        closing = intent in CLOSING_INTENTS and len(text) <= CLOSING_MAX_CHARS
        return {"feedback_comment": "" if closing or text.startswith("/") else text}


class ActionRecordComment(Action):
    def name(self) -> str:
        return "action_record_comment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        done = [SlotSet("feedback", None), SlotSet("feedback_comment", None)]
        # Masked and cut here, where it is stored, whatever tracker the action server was given.
        comment = clean_comment(tracker.get_slot("feedback_comment") or "")
        case, given = rated_case(tracker), rating(tracker.get_slot("feedback_score"))
        if comment is None or case is None or given is None:
            dispatcher.utter_message(response="utter_feedback_done")
            return done
        case_store().record_feedback(case.case_id, given, comment, channel_of(tracker))
        dispatcher.utter_message(response="utter_comment_recorded")
        return done
