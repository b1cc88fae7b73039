"""The audit log, newest first, a hundred entries a page (admins only)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from bot.console import params
from bot.console.web import render, store

pages = Blueprint("audit")


@pages.get("/audit", ctx_admin=True)
async def audit_log(request: Request) -> HTTPResponse:
    before = params.integer(request.args.get("before"), "before")
    entries = store(request).audit_log(before_id=before, limit=101)
    return render(request, "audit.html", entries=entries[:100], more=len(entries) > 100)
