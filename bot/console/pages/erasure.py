"""Deleting a user's personal data from the console (admins only).

A confirmation page says what is deleted and what is kept; its form posts here,
and the Rasa server does the deletion through its staff channel
(``bot/infra/staff_bridge.py``), under the conversation's lock, so that a turn in
flight cannot write the data back, and records it: the cases keep who asked and
when (their tombstones), the audit log one ``data_erased`` entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from bot.console import params
from bot.console.web import failure, render, sender, settings, store, tracker, username
from bot.domain.cases import Case
from bot.infra import staff_bridge

pages = Blueprint("erasure")

ERASE_ERRORS = {"unreachable": (502, "erase_unreachable"), "not_found": (404, "erase_not_found")}


@dataclass(frozen=True)
class Erasure:
    at: datetime
    by: str  # "user" (删除我的信息 in the chat), a staff member, or the retention purge


def erasure(case: Case) -> Erasure | None:
    """When and by whom the personal data of the case was deleted; None if it was not."""
    if case.erased_at is None:
        return None
    return Erasure(at=case.erased_at, by=case.erased_by or "")


def erase_url(sender_id: str, case_id: str | None = None) -> str:
    return "/conversation/erase?" + urlencode({"sender": sender_id, **({"case": case_id} if case_id else {})})


def back_to(sender_id: str, case_ids: list[str], case_id: str | None) -> str:
    """The page the staff member came from: the case, if it is one of the conversation's."""
    if case_id in case_ids:
        return f"/cases/{case_id}"
    return "/conversation?" + urlencode({"sender": sender_id})


@pages.get("/conversation/erase", ctx_admin=True)
async def confirm(request: Request) -> HTTPResponse:
    sender_id = sender(request.args.get("sender"))
    case_id = params.case_id(request.args.get("case"))
    case_ids = store(request).cases_for_sender(sender_id)
    if not case_ids and tracker(request).last_event_id(sender_id) is None:
        return failure(request, 404, "conversation_not_found", back="/conversations")
    return render(
        request,
        "erase.html",
        sender_id=sender_id,
        case_id=case_id if case_id in case_ids else None,
        cases=case_ids,
        back=back_to(sender_id, case_ids, case_id),
    )


@pages.post("/conversation/erase", ctx_admin=True)
async def erase(request: Request) -> HTTPResponse:
    sender_id = sender(request.form.get("sender"))
    case_id = params.case_id(request.form.get("case"))
    who = username(request)
    case_ids = store(request).cases_for_sender(sender_id)  # the tombstones will not name the sender
    # The Rasa server erases and writes the audit entry (bot/storage/erasure.py): one record,
    # whoever asked, and none naming the conversation afterwards.
    answer = await staff_bridge.erase(settings(request).rasa_url, sender_id, who, reason="staff_request")
    if not answer.ok:
        status, code = ERASE_ERRORS.get(answer.error, (409, "erase_refused"))
        return failure(request, status, code, back=erase_url(sender_id, case_id))
    if not case_ids:
        return render(request, "erase.html", sender_id=sender_id, done=True)
    shown = case_id if case_id in case_ids else case_ids[0]
    return redirect(f"/cases/{shown}?erased=1", status=303)
