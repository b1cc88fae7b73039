"""Where a case stands in its steps, and moving it on."""

from __future__ import annotations

import re

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


# What moves a case past a step it waits on: the "已完成，下一步" button (its payload is the
# message), or words that ask for the next step or say the wait is over. "好的"/"ok" only
# acknowledges the wait.
_MOVES_ON = re.compile(
    r"^/affirm|下一步|接下来|然后呢|然后怎么|继续|往下|已完成|(?:办|做|弄|处理|等)(?:完|好)了|(?:等|过)了.{0,4}(?:天|很久|好久)"
)


def moves_on(text: str) -> bool:
    """Whether ``text`` asks to leave the current step, more than just saying yes to it."""
    return bool(_MOVES_ON.search(text.strip()))


# "超市我已经找过了，下一步呢": the step is done and the next one is asked for, whatever
# the words of the question were taken for.
_DID_IT = re.compile(
    r"(?:找|联系|问|查|办|做|弄|试|打|去|说|提|交|准备|截图|截|拍|核对)(?:过|完|好)了?"
    r"|已经(?:找|联系|问|查|办|做|弄|打|去|说|提交|准备|截|拍|核对)|截图了|拍(?:照|下来)?了"
)
_ASKS_NEXT = re.compile(r"下一步|接下来|然后呢|然后怎么|然后干|之后呢|还要(?:做|干|办)")


def reports_step_done(text: str) -> bool:
    """Whether ``text`` says the current step is done and asks what comes next."""
    return bool(_DID_IT.search(text) and _ASKS_NEXT.search(text))


# On the failed-charge path the shop saying it got no money is step 1's expected answer
# (the system reverses the charge), not a refusal to help.
_SHOP_GOT_NOTHING = re.compile(r"没(?:有)?(?:收到|到账|进账|入账)|没收着|没有这笔|查不到")


def shop_got_nothing(text: str) -> bool:
    return bool(_SHOP_GOT_NOTHING.search(text))


def advance(store: CaseStore, case: Case) -> tuple[Case, Checklist]:
    """The user finished the current step: tick it and return the case with its next step."""
    current = current_item(case)
    if current is None:
        return case, build_checklist(case)
    return complete_steps(store, case, [current.step_id])


def item_for(checklist: Checklist, step_id: str) -> ChecklistItem | None:
    return next((item for item in checklist.items if item.step_id == step_id), None)
