"""Where a case stands in its steps, and moving it on."""

from __future__ import annotations

from bot.domain import knowledge
from bot.domain.cases import Case, CaseStore
from bot.domain.checklist import Checklist, ChecklistItem, build_checklist, step_ids_for


def status_label(status: str) -> str:
    return knowledge.steps()["statuses"][status]


def current_item(case: Case) -> ChecklistItem | None:
    return build_checklist(case).next_item


def complete_steps(store: CaseStore, case: Case, step_ids: list[str]) -> tuple[Case, Checklist]:
    """Tick those of ``step_ids`` that this kind of case has, and move the status on to match."""
    own_steps = set(step_ids_for(case.kind))
    case = store.mark_steps_done(case.case_id, [step for step in step_ids if step in own_steps])
    checklist = build_checklist(case)
    upcoming = checklist.next_item
    status = knowledge.steps()["status_on_entering_step"].get(upcoming.step_id) if upcoming else None
    if status and case.status != status:
        case = store.set_status(case.case_id, status)
        checklist = build_checklist(case)
    return case, checklist


def advance(store: CaseStore, case: Case) -> tuple[Case, Checklist]:
    """The user finished the current step: tick it and return the case with its next step."""
    current = current_item(case)
    if current is None:
        return case, build_checklist(case)
    return complete_steps(store, case, [current.step_id])


def item_for(checklist: Checklist, step_id: str) -> ChecklistItem | None:
    return next((item for item in checklist.items if item.step_id == step_id), None)
