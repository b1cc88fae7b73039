"""The personalised checklist: the case's steps with ticks, dates and the user's bank.

Rendered as plain text with ☐/☑ for any chat channel, and as a printable
HTML page. Step wording lives in ``data/knowledge/steps.yml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from bot import knowledge
from bot.business_days import add_business_days, format_day
from bot.cases import Case
from bot.clock import today

_LOADER = FileSystemLoader(Path(__file__).parent / "templates")
# Two environments so a template included in both (_contact.txt) is escaped
# in the page and left alone in chat text.
_TEXT = Environment(loader=_LOADER, autoescape=False, trim_blocks=True, lstrip_blocks=True)
_HTML = Environment(loader=_LOADER, autoescape=True, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class ChecklistItem:
    number: int
    step_id: str
    title: str
    detail: str
    done: bool
    not_needed: bool
    due: date | None

    @property
    def pending(self) -> bool:
        return not self.done and not self.not_needed


@dataclass(frozen=True)
class Checklist:
    case_id: str
    kind_label: str
    facts_line: str
    role: str
    bank: str
    hotline: str
    items: tuple[ChecklistItem, ...]

    @property
    def next_item(self) -> ChecklistItem | None:
        return next((item for item in self.items if item.pending), None)


def format_amount(amount: float | None) -> str | None:
    if amount is None:
        return None
    return f"{int(amount)}元" if float(amount).is_integer() else f"{amount:.2f}元"


def placeholders(case: Case) -> dict[str, str]:
    """Values for the ``{...}`` fields in steps.yml, with polite fallbacks for unknown facts."""
    facts = case.facts
    frames = knowledge.steps()["time_frames"]
    wording = knowledge.steps()["wording"]
    bank = knowledge.resolve_bank(facts.bank)
    opened = case.created_at.date()
    txn_day = facts.txn_date or opened
    if bank is None:
        hotline = wording["unknown_hotline"]
    elif bank.hotline_for(facts.card_type) != bank.hotline:
        hotline = wording["credit_card_hotline"].format(number=bank.hotline_for(facts.card_type))
    else:
        hotline = bank.hotline
    return {
        "merchant": facts.merchant or wording["unknown_merchant"],
        "amount": format_amount(facts.amount) or wording["unknown_amount"],
        "date": f"{txn_day.month}月{txn_day.day}日",
        "bank": bank.name if bank else (facts.bank or wording["unknown_bank"]),
        "hotline": hotline,
        "unionpay_hotline": knowledge.unionpay()["hotline"],
        "reversal_wait_until": format_day(add_business_days(txn_day, frames["reversal_business_days"])),
        "refund_expected_by": format_day(add_business_days(opened, frames["merchant_refund_business_days"])),
        "chargeback_window_ends": format_day(
            txn_day + timedelta(days=frames["chargeback_window_calendar_days"])
        ),
    }


def _step_detail(case: Case, step: dict, values: dict[str, str]) -> str:
    if "detail" in step:
        template = step["detail"]
    elif case.facts.txn_date is None or case.facts.txn_date >= today():
        template = step["same_day_detail"]
    else:
        template = step["later_detail"]
    return template.format(**values)


def build_checklist(case: Case) -> Checklist:
    values = placeholders(case)
    kinds = knowledge.steps()["kinds"]
    steps = knowledge.steps()["steps"][case.kind]
    opened = case.created_at.date()
    items = tuple(
        ChecklistItem(
            number=index,
            step_id=step["id"],
            title=step["title"],
            detail=_step_detail(case, step, values),
            done=step["id"] in case.steps_done,
            not_needed=step["id"] not in case.steps_done and case.status in step.get("not_needed_when", ()),
            due=add_business_days(opened, step["due_business_days"]),
        )
        for index, step in enumerate(steps, start=1)
    )
    facts = case.facts
    facts_line = "｜".join(
        part
        for part in (
            format_amount(facts.amount),
            f"{facts.txn_date.month}月{facts.txn_date.day}日" if facts.txn_date else None,
            facts.merchant,
            f"尾号{facts.card_last4}" if facts.card_last4 else None,
        )
        if part
    )
    return Checklist(
        case_id=case.case_id,
        kind_label=kinds[case.kind]["label"],
        facts_line=facts_line,
        role=case.role,
        bank=values["bank"],
        hotline=values["hotline"],
        items=items,
    )


def step_ids_for(kind: str) -> list[str]:
    return [step["id"] for step in knowledge.steps()["steps"][kind]]


def render_text(checklist: Checklist) -> str:
    return (
        _TEXT.get_template("checklist.txt")
        .render(checklist=checklist, format_day=format_day, wording=knowledge.steps()["wording"])
        .strip()
    )


def render_html(checklist: Checklist) -> str:
    return _HTML.get_template("checklist.html").render(
        checklist=checklist, format_day=format_day, wording=knowledge.steps()["wording"]
    )


def render_step(checklist: Checklist, item: ChecklistItem) -> str:
    return (
        _TEXT.get_template("step.txt")
        .render(checklist=checklist, item=item, total=len(checklist.items))
        .strip()
    )
