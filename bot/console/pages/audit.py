"""The audit log, newest first, a hundred entries a page, all or one case's (admins only)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from bot.console import params
from bot.console.web import failure, render, store

pages = Blueprint("audit")


@pages.get("/audit", ctx_admin=True)
async def audit_log(request: Request) -> HTTPResponse:
    before = params.integer(request.args.get("before"), "before")
    case_id = params.case_id(request.args.get("case"))
    case = store(request).cases.get(case_id) if case_id else None
    if case_id and case is None:
        return failure(request, 404, "case_not_found", back="/audit")
    # A case's entries include those of its conversation that name no case: its page, its takeovers.
    entries = store(request).audit_log(
        case_id=case_id, sender_id=case.sender_id if case else None, before_id=before, limit=101
    )
    return render(request, "audit.html", entries=entries[:100], more=len(entries) > 100, case_id=case_id)
