"""Cases: one record per reported problem, behind a narrow interface.

``CaseStore`` is what the actions use; ``bot.storage`` implements it on
SQLite and PostgreSQL (``open_store``, ``store_from_env``). This module holds
the domain only: the dataclasses, the kinds, roles and statuses, and rules
such as how facts merge.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol

from bot.domain import knowledge
from bot.domain.feedback import Feedback, Rating

# The kinds and statuses are data/knowledge/steps.yml's.
KINDS = tuple(knowledge.steps()["kinds"])
ROLES = {kind: entry["role"] for kind, entry in knowledge.steps()["kinds"].items()}
STATUSES = tuple(knowledge.steps()["statuses"])
FINISHED_STATUSES = tuple(knowledge.steps()["finished_statuses"])
FACT_FIELDS = (
    "bank",
    "amount",
    "correct_amount",
    "txn_date",
    "merchant",
    "card_last4",
    "card_type",
    "cross_border",
)


@dataclass(frozen=True)
class Facts:
    """What the user told us about the transaction.

    ``amount`` is the wrong transaction as charged; ``correct_amount`` what it
    should have been, when the amount (not the count) was wrong. ``unknown``
    names the facts the user said they do not know: an answer, not a gap, so
    the form does not ask again and the advice says where to find them.
    """

    bank: str | None = None
    amount: float | None = None
    correct_amount: float | None = None
    txn_date: date | None = None
    merchant: str | None = None
    card_last4: str | None = None
    card_type: str | None = None
    cross_border: bool | None = None
    unknown: frozenset[str] = frozenset()

    def merged_with(self, other: Facts) -> Facts:
        """Facts from ``other`` win where they are known; a fact given is no longer unknown."""
        updates = {name: getattr(other, name) for name in FACT_FIELDS if getattr(other, name) is not None}
        unknown = (self.unknown | other.unknown) - updates.keys()
        return replace(self, **updates, unknown=frozenset(unknown))

    @property
    def overcharge(self) -> float | None:
        """How much too much was charged, when both amounts are known and differ that way."""
        if self.amount is None or self.correct_amount is None or self.amount <= self.correct_amount:
            return None
        return round(self.amount - self.correct_amount, 2)


@dataclass(frozen=True)
class Case:
    case_id: str
    kind: str
    role: str
    sender_id: str
    channel: str
    status: str
    facts: Facts
    steps_done: tuple[str, ...]
    handoff_requested: bool
    created_at: datetime
    updated_at: datetime
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Set when the person's data was erased (bot.storage.erasure): what is left is a tombstone.
    erased_at: datetime | None = None
    erased_by: str | None = None  # "user", or the staff member who did it

    @property
    def is_open(self) -> bool:
        return self.status not in FINISHED_STATUSES


@dataclass(frozen=True)
class Handoff:
    handoff_id: int
    sender_id: str
    channel: str
    case_id: str | None
    requested_at: datetime
    # True when the conversation was already waiting: asking again adds nothing to the queue.
    already_waiting: bool = False


class CaseStore(Protocol):
    def open_case(self, sender_id: str, channel: str, kind: str, facts: Facts) -> Case:
        """Create a new case; a conversation may hold several (one per problem), and open at most
        ``MAX_NEW_CASES_PER_DAY`` a day (``TooManyCases``)."""

    def get(self, case_id: str) -> Case | None: ...

    def get_for_owner(self, case_id: str, sender_id: str) -> Case | None:
        """The case only if ``sender_id`` owns it; otherwise None, as if it did not exist."""

    def current_case(self, sender_id: str) -> Case | None:
        """The conversation's most recent unfinished case."""

    def cases_for_owner(self, sender_id: str) -> list[Case]:
        """Every case of the conversation, unfinished ones first, newest first within each."""

    def update_facts(self, case_id: str, facts: Facts) -> Case: ...

    def change_kind(self, case_id: str, kind: str) -> Case:
        """Give the case another kind (the user confirmed it), logged as ``kind_changed``."""

    def mark_steps_done(self, case_id: str, step_ids: list[str]) -> Case: ...

    def set_status(self, case_id: str, status: str) -> Case: ...

    def request_handoff(self, sender_id: str, channel: str, case_id: str | None) -> Handoff:
        """Queue the conversation for staff; at most one waiting request per conversation."""

    def add_checklist_link(self, case_id: str, token_hash: str, expires_at: datetime) -> None:
        """Remember a link to the case's printable checklist by the hash of its token."""

    def case_for_checklist_link(self, token_hash: str) -> Case | None:
        """The case a link opens, while the link is neither expired nor revoked."""

    def revoke_checklist_links(self, case_id: str, by: str) -> int:
        """Make every link to the case's checklist stop working; how many were live."""

    def record_feedback(self, case_id: str, rating: Rating, comment: str | None, channel: str) -> Feedback:
        """Store the user's rating of the case, logged as ``feedback``; a second one replaces the first."""

    def feedback(self, case_id: str) -> Feedback | None: ...

    def record_event(self, case_id: str, event: str, detail: Any) -> None:
        """An event on the case that changes none of its facts (the consent it was opened with)."""


class CaseNotFound(LookupError):
    pass


class TooManyCases(RuntimeError):
    """The conversation opened ``MAX_NEW_CASES_PER_DAY`` cases today already."""


# A person has one or two problems at a time; more new cases in one day from one
# conversation is a script filling the staff queue.
MAX_NEW_CASES_PER_DAY = 5


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown case kind: {kind}")
