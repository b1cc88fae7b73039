"""The personalised checklist: the case's steps with ticks, dates, what each needs and the user's bank.

Rendered as plain text with ☐/☑ for any chat channel, and as a printable
HTML page. Step wording lives in ``data/knowledge/steps.yml``; this module
only picks the variant that fits the case and fills in its facts.

Dates follow two clocks. Urgent steps (freeze the card, call the police, a
same-day 撤销) are 立即/今天 in calendar time; bank processing is counted in
business days, and a date in a year without an announced holiday schedule
says 约 (``ChecklistItem.due_estimated`` tells the console the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from bot.domain import knowledge
from bot.domain.business_days import (
    add_business_days,
    format_date,
    format_day,
    is_estimated,
    is_makeup_workday,
)
from bot.domain.cases import Case, Facts
from bot.domain.clock import now, today

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
    needs: tuple[str, ...]
    done: bool
    not_needed: bool
    due: date | None
    due_label: str
    due_estimated: bool
    asks_cross_border: bool = False
    waits: bool = False

    @property
    def pending(self) -> bool:
        return not self.done and not self.not_needed


@dataclass(frozen=True)
class Checklist:
    case_id: str
    kind_label: str
    facts_line: str
    role: str
    contact_line: str
    scam_warning: str | None
    items: tuple[ChecklistItem, ...]

    @property
    def next_item(self) -> ChecklistItem | None:
        return next((item for item in self.items if item.pending), None)

    @property
    def summary(self) -> str:
        """误刷（重复扣款或金额错误）：3000元｜11月20日｜华联超市"""
        return self.kind_label + (f"：{self.facts_line}" if self.facts_line else "")


def format_amount(amount: float | None) -> str | None:
    if amount is None:
        return None
    return f"{int(amount)}元" if float(amount).is_integer() else f"{amount:.2f}元"


def _wording() -> dict[str, Any]:
    return knowledge.steps()["wording"]


def format_due_day(day: date) -> str:
    """A business-day date: 约 in an estimated year, 调休上班 on a make-up weekend day."""
    wording = _wording()
    shown = format_day(day, note=wording["makeup_workday"] if is_makeup_workday(day) else None)
    return wording["estimated"] + shown if is_estimated(day) else shown


def hotline_phrase(bank_text: str | None, card_type: str | None) -> str:
    """What to dial, as a noun phrase that fits after 拨打 for every kind of bank.

    A bank with one number, a credit card at a bank with its own credit-card
    line, such a bank when the card type is unknown (both numbers), a bank we
    have no number for, and no bank at all.
    """
    templates = _wording()["hotline"]
    bank = knowledge.resolve_bank(bank_text)
    if bank is None:
        if bank_text:
            return templates["named_bank_no_number"].format(bank=bank_text)
        return templates["no_bank"]
    if bank.credit_card_hotline is None or card_type == "debit":
        return templates["one_number"].format(bank=bank.name, number=bank.hotline)
    if card_type == "credit":
        return templates["credit_card_line"].format(bank=bank.name, number=bank.credit_card_hotline)
    return templates["both_lines"].format(
        bank=bank.name, number=bank.hotline, credit_number=bank.credit_card_hotline
    )


def unionpay_hotline_phrase() -> str:
    """UnionPay's number as a noun phrase after 拨打, with what it is for."""
    unionpay = knowledge.unionpay()
    return _wording()["hotline"]["unionpay"].format(name=unionpay["name"], number=unionpay["hotline"])


# Named dates counted in business days (bank processing); the others are calendar days.
BUSINESS_DAY_DATES = frozenset({"refund_expected_by"})


def named_dates(case: Case) -> dict[str, date | None]:
    """The dates the step texts give, each also the due date of the step that names it."""
    frames = knowledge.steps()["time_frames"]
    opened = case.created_at.date()
    txn_day = case.facts.txn_date

    def after_txn(days: int) -> date | None:
        return txn_day + timedelta(days=days) if txn_day else None

    return {
        "refund_expected_by": add_business_days(opened, frames["merchant_refund_business_days"]),
        "reversal_wait_until": after_txn(frames["reversal_calendar_days"]),
        "chargeback_window_ends": after_txn(frames["chargeback_window_calendar_days"]),
    }


def _bank_deadline_variant(facts: Facts, window_ends: date | None) -> tuple[str, dict[str, str]]:
    """Which time limit applies to a dispute, and whether it has passed.

    The 120-day window is UnionPay International's, so it is only dated for a
    transaction the user said was 境外/外币; a domestic card's limit is the
    statement's due date, which the bot cannot know.
    """
    if facts.cross_border:
        if window_ends is None:
            return "cross_border_no_date", {}
        key = "cross_border_open" if window_ends >= today() else "cross_border_passed"
        return key, {"day": format_day(window_ends)}
    asked = "domestic" if facts.cross_border is False else "not_asked"
    if facts.card_type == "debit":
        return f"{asked}_debit", {}
    days = (today() - facts.txn_date).days if facts.txn_date else 0
    if days > knowledge.steps()["time_frames"]["statement_due_probably_passed_days"]:
        return f"{asked}_probably_passed", {"days": str(days)}
    return asked, {}


def bank_deadline(case: Case, short: bool = False) -> str:
    key, values = _bank_deadline_variant(case.facts, named_dates(case)["chargeback_window_ends"])
    return _wording()["bank_deadline_short" if short else "bank_deadline"][key].format(**values)


def _find_unknown(facts: Facts) -> str:
    """Where to look up the facts the user said they do not know."""
    wording = _wording()["find_unknown"]
    from_sms = [label for fact, label in wording["labels"].items() if fact in facts.unknown]
    parts = [wording["from_sms"].format(facts="、".join(from_sms))] if from_sms else []
    parts += [wording[fact] for fact in ("correct_amount", "bank") if fact in facts.unknown]
    return "".join(parts)


def _reversal_advice(wait_until: date | None) -> str:
    wording = _wording()["reversal"]
    if wait_until is not None and wait_until < today():
        return wording["passed"]
    if wait_until is None:
        return wording["waiting_no_date"]
    return wording["waiting"].format(day=format_day(wait_until))


def placeholders(case: Case, dated: bool = True) -> dict[str, str]:
    """Values for the ``{...}`` fields in steps.yml; an unknown fact reads as a general word.
    Not ``dated``: steps for nobody's case, where a date counted from today would mislead."""
    facts = case.facts
    wording = _wording()
    bank = knowledge.resolve_bank(facts.bank)
    dates = named_dates(case)
    wait_until = dates["reversal_wait_until"]
    amount = format_amount(facts.amount)
    overcharge = format_amount(facts.overcharge)
    if facts.txn_date is None:
        on_date = ""
    elif facts.txn_date == today():
        on_date = wording["today"]
    else:
        on_date = format_date(facts.txn_date)
    return {
        "merchant": facts.merchant or wording["unknown_merchant"],
        "on_date": on_date,
        "the_txn": wording["txn_with_amount"].format(amount=amount)
        if amount
        else wording["txn_without_amount"],
        "charged": wording["charged_amount"].format(amount=amount) if amount else wording["charged"],
        "overcharge_note": (
            wording["overcharge_note"].format(
                correct_amount=format_amount(facts.correct_amount), amount=amount, overcharge=overcharge
            )
            if overcharge
            else ""
        ),
        "bank": bank.name if bank else (facts.bank or wording["unknown_bank"]),
        "hotline_phrase": hotline_phrase(facts.bank, facts.card_type),
        "unionpay_hotline": knowledge.unionpay()["hotline"],
        "refund_expected_by": (
            format_due_day(dates["refund_expected_by"]) if dated else wording["no_refund_date"]
        ),
        "reversal_wait_until": format_day(wait_until) if wait_until else wording["no_reversal_date"],
        "reversal_advice": _reversal_advice(wait_until),
        "bank_deadline": bank_deadline(case),
        "bank_deadline_short": bank_deadline(case, short=True),
        "find_unknown": _find_unknown(facts),
        "refund_scam_warning": wording["refund_scam_warning"],
    }


def _is_same_day(case: Case) -> bool:
    return case.facts.txn_date is None or case.facts.txn_date >= today()


def _step_detail(case: Case, step: dict[str, Any], values: dict[str, str]) -> str:
    if "detail" in step:
        template = step["detail"]
    elif case.facts.txn_date is None and "unknown_date_detail" in step:
        # Without the date neither same-day 撤销 nor 退货 can be ruled out: both are said.
        template = step["unknown_date_detail"]
    elif _is_same_day(case):
        template = step["same_day_detail"]
    else:
        template = step["later_detail"]
    return template.format(**values)


@dataclass(frozen=True)
class _Due:
    day: date | None
    label: str
    estimated: bool = False


def _due(case: Case, step: dict[str, Any], dates: dict[str, date | None]) -> _Due:
    """When a step is due and how that reads: calendar time for urgent steps, business days for banks."""
    labels = _wording()["due"]
    opened = case.created_at.date()
    when = step.get("due")
    if when == "now":
        return _Due(None, labels["now"])
    if when == "when_needed":
        return _Due(None, labels["when_needed"])
    if when == "today":
        return _Due(opened, labels["today"] if opened == today() else labels["soon"])
    if "due_after" in step:
        after = dates[step["due_after"]]
        if after is None or after < today():
            return _Due(None, labels["soon"])
        return _Due(None, labels["after"].format(day=format_day(after)))
    if "due_on" in step:
        day = dates[step["due_on"]]
        business = step["due_on"] in BUSINESS_DAY_DATES
    elif "due_days" in step:
        day, business = opened + timedelta(days=step["due_days"]), False
    else:
        day, business = add_business_days(opened, step["due_business_days"]), True
    if day is None:
        return _Due(None, labels["soon"])
    estimated = business and is_estimated(day)
    shown = format_due_day(day) if business else format_day(day)
    if "due_wording" in step:
        wording = step["due_wording"] + ("_passed" if day < today() else "")
        return _Due(day, _wording()[wording].format(day=shown), estimated)
    if day < today():
        return _Due(day, labels["passed"].format(day=shown), estimated)
    return _Due(day, labels["by_estimated" if estimated else "by"].format(day=shown), estimated)


def _not_needed(case: Case, step: dict[str, Any]) -> bool:
    return step["id"] not in case.steps_done and case.status in step.get("not_needed_when", ())


def pending_waits(case: Case) -> list[tuple[str, date | None]]:
    """The steps that wait for the money and are still to do, with their dates: what the
    checklist says of them, without building the rest of it (run on every change to a case)."""
    dates = named_dates(case)
    return [
        (step["id"], _due(case, step, dates).day)
        for step in knowledge.steps()["steps"][case.kind]
        if step.get("waits") and step["id"] not in case.steps_done and not _not_needed(case, step)
    ]


def build_checklist(case: Case, dated: bool = True) -> Checklist:
    values = placeholders(case, dated)
    dates = named_dates(case)
    wording = _wording()
    kinds = knowledge.steps()["kinds"]
    items = []
    for index, step in enumerate(knowledge.steps()["steps"][case.kind], start=1):
        due = _due(case, step, dates)
        items.append(
            ChecklistItem(
                number=index,
                step_id=step["id"],
                title=step["title"],
                detail=_step_detail(case, step, values),
                needs=tuple(line.format(**values) for line in step.get("checklist", ())),
                done=step["id"] in case.steps_done,
                not_needed=_not_needed(case, step),
                due=due.day,
                due_label=due.label,
                due_estimated=due.estimated,
                asks_cross_border=step.get("asks") == "cross_border",
                waits=bool(step.get("waits")),
            )
        )
    role = kinds[case.kind]["role"]
    return Checklist(
        case_id=case.case_id,
        kind_label=kinds[case.kind]["label"],
        facts_line=facts_line(case.facts),
        role=role,
        contact_line=wording["contact"][role].format(**values),
        scam_warning=wording["refund_scam_warning"] if role == "cardholder" else None,
        items=tuple(items),
    )


def facts_line(facts: Facts) -> str:
    """3000元｜11月20日｜华联超市｜尾号6228: the facts known so far, for summaries."""
    wording = _wording()
    overcharge = format_amount(facts.overcharge)
    return "｜".join(
        part
        for part in (
            format_amount(facts.amount),
            wording["overcharge_fact"].format(overcharge=overcharge) if overcharge else None,
            format_date(facts.txn_date) if facts.txn_date else None,
            facts.merchant,
            f"尾号{facts.card_last4}" if facts.card_last4 else None,
            wording["cross_border_fact"] if facts.cross_border else None,
        )
        if part
    )


def needs_cross_border(case: Case, item: ChecklistItem | None) -> bool:
    """Ask whether the transaction was 境外/外币 only when this step's time limit depends on it."""
    return item is not None and item.asks_cross_border and case.facts.cross_border is None


def awaits_cross_border(case: Case) -> bool:
    """Whether the 境外/境内 question has been put and not answered: the step that asks it
    is the next one, or the case was sent to that step (a merchant's refusal) ahead of order."""
    if case.facts.cross_border is not None:
        return False
    checklist = build_checklist(case)
    asking = next((item for item in checklist.items if item.asks_cross_border and item.pending), None)
    if asking is None:
        return False
    sent_there = knowledge.steps()["status_on_entering_step"].get(asking.step_id) == case.status
    return checklist.next_item is asking or sent_there


def step_ids_for(kind: str) -> list[str]:
    return [step["id"] for step in knowledge.steps()["steps"][kind]]


def render_text(checklist: Checklist) -> str:
    return _TEXT.get_template("checklist.txt").render(checklist=checklist, wording=_wording()).strip()


def render_html(checklist: Checklist) -> str:
    return _HTML.get_template("checklist.html").render(checklist=checklist, wording=_wording())


def general_steps(kind: str) -> str:
    """The steps of a kind of problem for someone who keeps no case (no consent): the same
    step texts as a case's, read with no facts, so nothing of theirs appears."""
    opened = now()
    nobody = Case(case_id="", kind=kind, role=knowledge.steps()["kinds"][kind]["role"], sender_id="",
                  channel="", status="open", facts=Facts(), steps_done=(), handoff_requested=False,
                  created_at=opened, updated_at=opened)  # fmt: skip
    steps = build_checklist(nobody, dated=False)
    return _TEXT.get_template("general_steps.txt").render(checklist=steps).strip()


def render_step(checklist: Checklist, item: ChecklistItem) -> str:
    return (
        _TEXT.get_template("step.txt")
        .render(checklist=checklist, item=item, total=len(checklist.items))
        .strip()
    )
