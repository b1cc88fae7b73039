"""The case queue, and the handoffs waiting above it."""

from __future__ import annotations

from urllib.parse import urlencode

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from bot.console import params
from bot.console.store import CaseFilter, Cursor
from bot.console.web import failure, query, render, safe_next, settings, store, username

pages = Blueprint("queue")


@pages.get("/")
async def queue(request: Request) -> HTTPResponse:
    case_filter = CaseFilter.from_params(query(request))
    page = store(request).queue(
        case_filter,
        after=Cursor.decode(request.args.get("after"), "after"),
        before=Cursor.decode(request.args.get("before"), "before"),
        limit=settings(request).page_size,
    )
    return render(
        request,
        "queue.html",
        filter=case_filter,
        filter_query=urlencode(case_filter.params()),
        page=page,
        handoffs=store(request).waiting_handoffs(),
        undelivered_follow_ups=store(request).undelivered_follow_ups(),
        banks=store(request).distinct_values("bank"),
        channels=store(request).distinct_values("channel"),
        tags=store(request).all_tags(),
    )


@pages.post("/handoffs/<handoff_id:str>/resolve")
async def resolve_handoff(request: Request, handoff_id: str) -> HTTPResponse:
    handoff = params.row_id(handoff_id, "handoff_id")
    if store(request).resolve_handoff(handoff, username(request)) is None:
        return failure(request, 404, "handoff_not_found")
    return redirect(safe_next(request.form.get("next")), status=303)
