"""Exports of cases or transcripts under the queue's filter, streamed (admins only)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from bot.console.exporting import CONTENT_TYPES, FORMATS, WHAT, audit_detail, export_chunks
from bot.console.store import CaseFilter
from bot.console.web import SECURITY_HEADERS, failure, query, store, tracker, username
from bot.domain.clock import now

pages = Blueprint("exports")


@pages.get("/export/<name:str>", ctx_admin=True)
async def export(request: Request, name: str) -> HTTPResponse | None:
    what, _, fmt = name.partition(".")
    if what not in WHAT or fmt not in FORMATS:
        return failure(request, 404, "not_found", back="/")
    case_filter = CaseFilter.from_params(query(request))
    store(request).audit(
        username(request), "exported", detail=audit_detail(store(request), case_filter, what, fmt)
    )
    stamp = now().strftime("%Y%m%d-%H%M")
    response = await request.respond(
        content_type=CONTENT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{what}-{stamp}.{fmt}"', **SECURITY_HEADERS},
    )
    for chunk in export_chunks(store(request), tracker(request), case_filter, what, fmt):
        await response.send(chunk)
    await response.eof()
    return None
