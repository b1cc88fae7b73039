"""The one case store the action server uses, opened lazily from ``CASE_STORE_URL``."""

from __future__ import annotations

import os
from functools import lru_cache

from rasa_sdk import Tracker

from bot.cases import Case, CaseStore, open_store

DEFAULT_CASE_STORE_URL = "sqlite:///var/cases.db"


@lru_cache(maxsize=1)
def case_store() -> CaseStore:
    return open_store(os.environ.get("CASE_STORE_URL", DEFAULT_CASE_STORE_URL))


def current_case(tracker: Tracker) -> Case | None:
    return case_store().current_case(tracker.sender_id)
