"""Follow-ups: on the date a waiting step names, the bot asks the user whether the money came.

A step that waits for the money (``waits: true`` in ``data/knowledge/steps.yml``)
and has a date in the checklist gets one follow-up, at ``follow_ups.at`` China
time on that date. ``plan`` says which a case should have now; the store keeps
them (``bot.storage.follow_ups``) and the scheduler sends the due ones
(``bot.rasa.follow_up_scheduler``). The question and its buttons are the
``follow_ups`` block of steps.yml.

    plan(case)                      # [PlannedFollowUp("follow_up", 2026-12-02 10:00+08:00)]
    message(case, "follow_up")      # FollowUpMessage("您好，这里是误刷助手。…", [{"title": "到账了", …}])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Protocol

from bot.domain import knowledge
from bot.domain.cases import Case
from bot.domain.checklist import build_checklist, format_due_day, pending_waits
from bot.domain.clock import CHINA

# pending: waiting for its time (or being sent, while a sender holds its lease);
# sent / undelivered: the channel took it or could not (with a reason staff see);
# answered: the user replied with one of its buttons; cancelled: no longer wanted.
STATUSES = ("pending", "sent", "undelivered", "answered", "cancelled")


@dataclass(frozen=True)
class PlannedFollowUp:
    step_id: str
    due_at: datetime


@dataclass(frozen=True)
class FollowUp:
    follow_up_id: int
    case_id: str
    sender_id: str
    channel: str
    step_id: str
    due_at: datetime
    status: str
    reason: str | None
    # The claim that holds it while it is being sent, and until when.
    claimed_by: str | None
    lease_until: datetime | None
    attempts: int
    created_at: datetime
    updated_at: datetime

    def being_sent(self, now: datetime) -> bool:
        return self.status == "pending" and self.lease_until is not None and self.lease_until > now


@dataclass(frozen=True)
class FollowUpMessage:
    text: str
    buttons: list[dict[str, str]]


def _settings() -> dict[str, Any]:
    return knowledge.steps()["follow_ups"]


def _send_time() -> time:
    hour, minute = (int(part) for part in _settings()["at"].split(":"))
    return time(hour, minute, tzinfo=CHINA)


def plan(case: Case) -> list[PlannedFollowUp]:
    """The follow-ups an open case should have: one per pending waiting step with a date.

    The dates are the checklist's, so the question comes on the day the user
    was told to expect the money (business days for bank processing, calendar
    days for an automatic 冲正, which runs on holidays too). Whether a date is
    already past is the store's business: it keeps a due one and creates no new one.
    """
    if not case.is_open:
        return []
    at = _send_time()
    return [
        PlannedFollowUp(step_id, datetime.combine(due, at))
        for step_id, due in pending_waits(case)
        if due is not None
    ]


def still_wanted(case: Case | None, step_id: str) -> bool:
    """Whether a follow-up for ``step_id`` still fits the case as it is at sending time."""
    return case is not None and any(planned.step_id == step_id for planned in plan(case))


def message(case: Case, step_id: str) -> FollowUpMessage:
    """The question for the case's waiting step, with its answer buttons and how to opt out."""
    settings = _settings()
    checklist = build_checklist(case)
    item = next(item for item in checklist.items if item.step_id == step_id)
    question = settings["question"][case.kind].format(
        case_id=case.case_id, summary=checklist.summary, day=format_due_day(item.due) if item.due else ""
    )
    return FollowUpMessage(
        text=f"{question}\n{settings['opt_out_hint']}",
        buttons=[dict(button) for button in settings["buttons"][case.kind]],
    )


def not_received_target(step_id: str, kind: str) -> str | None:
    """Where a case goes when the user says the money of this waiting step has not come."""
    step = next(step for step in knowledge.steps()["steps"][kind] if step["id"] == step_id)
    return step.get("when_not_received")


class FollowUpStore(Protocol):
    """What the actions and the scheduler need of the follow-ups' storage (``bot.storage.follow_ups``)."""

    def for_case(self, case_id: str) -> list[FollowUp]: ...

    def claim_due(self, at: datetime, owner: str, lease_seconds: float, limit: int) -> list[FollowUp]:
        """Take due pending follow-ups nobody holds a live lease on; each goes to one claimer."""

    def mark_sent(self, follow_up: FollowUp) -> bool: ...

    def mark_undelivered(self, follow_up: FollowUp, reason: str) -> bool: ...

    def release(self, follow_up: FollowUp, reason: str) -> bool:
        """Cancel a claimed follow-up that no longer fits its case."""

    def mark_answered(self, case_id: str, answer: str) -> int:
        """The user replied to the case's sent follow-ups; how many there were."""

    def opt_out(self, sender_id: str) -> int:
        """No more follow-ups for the conversation: its pending ones are cancelled; how many."""

    def opt_in(self, sender_id: str, cases: list[Case]) -> int:
        """Follow-ups again for the conversation and these cases of it; how many are pending."""
