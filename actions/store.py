"""The one case store the action server uses, opened lazily from ``CASE_STORE_URL``, and its follow-ups."""

from __future__ import annotations

from functools import lru_cache

from rasa_sdk import Tracker

from bot.domain.cases import Case, CaseStore
from bot.domain.follow_ups import FollowUpStore
from bot.storage import follow_up_store_from_env, store_from_env


@lru_cache(maxsize=1)
def case_store() -> CaseStore:
    return store_from_env()


def follow_up_store() -> FollowUpStore:
    # Not cached: the database itself is, per URL (``open_database``).
    return follow_up_store_from_env()


def current_case(tracker: Tracker) -> Case | None:
    """The case this conversation is working on: the ``case_id`` slot's while it is
    unfinished, else the conversation's most recent unfinished case."""
    case_id = tracker.get_slot("case_id")
    if case_id:
        case = case_store().get_for_owner(case_id, tracker.sender_id)
        if case is not None and case.is_open:
            return case
    return case_store().current_case(tracker.sender_id)
