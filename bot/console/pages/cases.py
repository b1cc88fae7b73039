"""A case: its checklist, transcript, notes, tags and audit trail, and the forms that change it."""

from __future__ import annotations

from collections.abc import Callable

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw, redirect

from bot.console import params
from bot.console.pages.conversations import conversation_context
from bot.console.pages.erasure import erase_url, erasure
from bot.console.web import case_url, failure, render, store, username
from bot.domain.cases import Case
from bot.domain.checklist import build_checklist, render_text
from bot.domain.clock import now
from bot.domain.receipt_facts import describe
from bot.storage.receipts import StoredReceipt

pages = Blueprint("cases")


@pages.get("/cases/<case_id:str>")
async def case_page(request: Request, case_id: str) -> HTTPResponse:
    case = store(request).cases.get(params.required(params.case_id(case_id), "case_id"))
    if case is None:
        return failure(request, 404, "case_not_found", back="/")
    store(request).record_view(username(request), "case_viewed", case.case_id, case.sender_id)
    checklist = build_checklist(case)
    return render(
        request,
        "case.html",
        case=case,
        checklist=checklist,
        checklist_text=render_text(checklist),
        notes=store(request).notes(case.case_id),
        tags=store(request).tags(case.case_id),
        audit=store(request).audit_log(case_id=case.case_id, views=False, limit=50),
        views=store(request).audit_log(case_id=case.case_id, sender_id=case.sender_id, views=True, limit=20),
        erased=erasure(case),
        # Set by the redirect after a deletion, to say that it worked.
        just_erased=params.choice(request.args.get("erased"), "erased", ("1",)) is not None,
        erase_url=erase_url(case.sender_id, case.case_id),
        handoff=store(request).waiting_handoff_for_case(case.case_id),
        follow_ups=store(request).follow_ups(case.case_id),
        feedback=store(request).cases.feedback(case.case_id),
        receipts=[(receipt, describe(receipt.reading)) for receipt in _receipts(request, case)],
        now=now(),
        other_cases=[
            other for other in store(request).cases_for_sender(case.sender_id) if other != case.case_id
        ],
        here=case_url(case),
        **conversation_context(request, case.sender_id),
    )


@pages.get("/cases/<case_id:str>/receipts/<receipt_id:str>")
async def receipt_picture(request: Request, case_id: str, receipt_id: str) -> HTTPResponse:
    """A picture sent for the case, as stored (card numbers covered); looking is a view of the case."""
    case = store(request).cases.get(params.required(params.case_id(case_id), "case_id"))
    if case is None or receipt_id not in {receipt.receipt_id for receipt in _receipts(request, case)}:
        return failure(request, 404, "case_not_found", back="/")
    store(request).record_view(username(request), "case_viewed", case.case_id, case.sender_id)
    picture = store(request).cases.receipts.image(receipt_id) or b""
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return raw(picture, content_type="image/jpeg", headers=headers)


def _receipts(request: Request, case: Case) -> list[StoredReceipt]:
    return store(request).cases.receipts.of_case(case.case_id)


def change_case(
    request: Request, case_id: str, change: Callable[[Case, str], object], bad: str, anchor: str = ""
) -> HTTPResponse:
    """Look the case up, apply the change as the signed-in staff member, go back to the case."""
    case = store(request).cases.get(params.required(params.case_id(case_id), "case_id"))
    if case is None:
        return failure(request, 404, "case_not_found", back="/")
    try:
        change(case, username(request))
    except ValueError:
        return failure(request, 400, bad, back=case_url(case))
    return redirect(case_url(case) + anchor, status=303)


@pages.post("/cases/<case_id:str>/status")
async def change_status(request: Request, case_id: str) -> HTTPResponse:
    status = request.form.get("status") or ""
    return change_case(
        request, case_id, lambda case, who: store(request).set_status(case.case_id, status, who), "bad_status"
    )


@pages.post("/cases/<case_id:str>/checklist-links/revoke")
async def revoke_checklist_links(request: Request, case_id: str) -> HTTPResponse:
    return change_case(
        request,
        case_id,
        lambda case, who: store(request).revoke_checklist_links(case.case_id, who),
        "case_not_found",
    )


@pages.post("/cases/<case_id:str>/notes")
async def add_note(request: Request, case_id: str) -> HTTPResponse:
    note = request.form.get("text") or ""
    return change_case(
        request,
        case_id,
        lambda case, who: store(request).add_note(case.case_id, note, who),
        "bad_note",
        "#notes",
    )


@pages.post("/cases/<case_id:str>/tags")
async def add_tag(request: Request, case_id: str) -> HTTPResponse:
    tag = request.form.get("tag") or ""
    return change_case(
        request, case_id, lambda case, who: store(request).add_tag(case.case_id, tag, who), "bad_tag", "#tags"
    )


@pages.post("/cases/<case_id:str>/tags/remove")
async def remove_tag(request: Request, case_id: str) -> HTTPResponse:
    tag = request.form.get("tag") or ""
    return change_case(
        request,
        case_id,
        lambda case, who: store(request).remove_tag(case.case_id, tag, who),
        "bad_tag",
        "#tags",
    )


@pages.post("/cases/<case_id:str>/follow-ups/<follow_up_id:str>/cancel")
async def cancel_follow_up(request: Request, case_id: str, follow_up_id: str) -> HTTPResponse:
    follow_up = params.row_id(follow_up_id, "follow_up_id")
    return change_case(
        request,
        case_id,
        lambda case, who: store(request).cancel_follow_up(case.case_id, follow_up, who),
        "follow_up_not_pending",
        "#follow-ups",
    )
