"""The one case store the action server uses, opened lazily from ``CASE_STORE_URL``."""

from __future__ import annotations

from functools import lru_cache

from rasa_sdk import Tracker

from bot.cases import Case, CaseStore, store_from_env


@lru_cache(maxsize=1)
def case_store() -> CaseStore:
    return store_from_env()


def current_case(tracker: Tracker) -> Case | None:
    return case_store().current_case(tracker.sender_id)
