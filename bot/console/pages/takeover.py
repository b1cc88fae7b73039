"""Live takeover: staff take a conversation over, write to the user, hand it back.

The forms post here; the Rasa server does the work through its staff channel
(``bot/infra/staff_bridge.py``), and each call is written to the audit log. The
conversation page follows new turns live through ``/conversation/stream``
(server-sent events read from the tracker store, so it works whichever Rasa
replica took the turn). ``hand_back_silent_conversations`` runs in the
background and hands back a conversation left taken over and silent for
``Settings.takeover_idle_timeout``, with a note on its cases; ``keep_purging``
runs the daily retention purge (``bot.storage.erasure.scheduled_purge``) beside it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from typing import Any

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, redirect

from bot.console import params
from bot.console.transcripts import Turn
from bot.console.web import failure, safe_next, sender, settings, store, tracker, username
from bot.domain.clock import CHINA
from bot.infra import staff_bridge
from bot.storage.erasure import scheduled_purge

logger = logging.getLogger(__name__)

pages = Blueprint("takeover")

MAX_REPLY_CHARS = 2000
# A stream ends after this long and the browser's EventSource reconnects (with
# Last-Event-ID), so no request stays open for ever.
STREAM_SECONDS = 300
POLL_SECONDS = 1.0
SWEEP_SECONDS = 30
# How often a console asks whether the day's purge is due; the first to ask after a day runs it.
PURGE_CHECK_SECONDS = 3600
AUTOMATIC = "系统"  # the name on automatic hand-backs, in the audit log and the notes
AUDIT_ACTIONS = {
    "takeover": "conversation_taken_over",
    "reply": "staff_replied",
    "handback": "conversation_handed_back",
}
BRIDGE_ERRORS = {
    "unreachable": "bridge_unreachable",
    "conflict": "takeover_conflict",
    "not_found": "conversation_not_found",
}


@pages.post("/conversation/<operation:takeover|reply|handback>")
async def act(request: Request, operation: str) -> HTTPResponse:
    sender_id = sender(request.form.get("sender"))
    back = safe_next(request.form.get("next"), "/conversations")
    text = ""
    if operation == "reply":
        text = params.without_controls(request.form.get("text") or "", keep="\n").strip()
        if not text or len(text) > MAX_REPLY_CHARS:
            return failure(request, 400, "bad_reply", back=back)
    answer = await staff_bridge.call(
        settings(request).rasa_url, operation, sender_id, username(request), text
    )
    if not answer.ok:
        return failure(
            request,
            502 if answer.error == "unreachable" else 409,
            BRIDGE_ERRORS.get(answer.error, "bridge_refused"),
            back=back,
        )
    detail: dict[str, Any] = {"delivered": answer.delivered}
    if not answer.delivered:
        detail["reason"] = answer.reason
    if text:
        detail["text"] = text[:200]
    store(request).audit(username(request), AUDIT_ACTIONS[operation], sender_id=sender_id, detail=detail)
    if not answer.delivered:
        return failure(request, 200, "undelivered", back=back + "#takeover", reason=answer.reason)
    return redirect(back + "#takeover", status=303)


@pages.get("/conversation/stream")
async def stream(request: Request) -> HTTPResponse | None:
    """New turns of a conversation as server-sent events, each with its event id."""
    sender_id = sender(request.args.get("sender"))
    after = params.integer(request.headers.get("Last-Event-ID") or request.args.get("after"), "after") or 0
    if tracker(request).last_event_id(sender_id) is None:
        return failure(request, 404, "conversation_not_found", back="/conversations")
    # Logged once per connection, and not at all when the page that opened it was just logged;
    # a page left open reconnects every STREAM_SECONDS and is logged again after VIEW_WINDOW.
    store(request).record_view(username(request), "conversation_viewed", sender_id=sender_id)
    events = await request.respond(
        content_type="text/event-stream; charset=utf-8", headers={"Cache-Control": "no-store"}
    )
    deadline = time.monotonic() + STREAM_SECONDS
    taken_over = None
    while time.monotonic() < deadline:
        for turn in tracker(request).transcript(sender_id, after):
            data = json.dumps(turn_json(turn), ensure_ascii=False)
            await events.send(f"id: {turn.event_id}\nevent: turn\ndata: {data}\n\n")
            after = turn.event_id
        state = tracker(request).taken_over_since(sender_id) is not None
        if state != taken_over:
            taken_over = state
            await events.send(f"event: state\ndata: {json.dumps({'taken_over': state})}\n\n")
        await asyncio.sleep(POLL_SECONDS)
    await events.eof()
    return None


def turn_json(turn: Turn) -> dict[str, Any]:
    return {
        "event_id": turn.event_id,
        "speaker": turn.speaker,
        "staff": turn.staff,
        "at": turn.at.strftime("%H:%M:%S"),
        "text": turn.text,
        "buttons": list(turn.buttons),
    }


async def hand_back_silent_conversations(app: Sanic, current: datetime | None = None) -> list[str]:
    """Hand back every conversation taken over and silent for longer than the settings allow.

    Silence is measured on the wall clock (``current``, for tests), as the
    tracker store stamps its events; a pinned WUSHUA_TODAY does not move it.
    """
    idle = app.ctx.settings.takeover_idle_timeout
    handed_back = []
    for sender_id in app.ctx.tracker.silent_takeovers((current or datetime.now(CHINA)) - idle):
        answer = await staff_bridge.call(app.ctx.settings.rasa_url, "handback", sender_id, AUTOMATIC)
        if not answer.ok:
            logger.warning("Automatic hand-back of %s failed: %s", sender_id, answer.error)
            continue
        minutes = int(idle.total_seconds() // 60)
        app.ctx.store.audit(
            AUTOMATIC,
            "conversation_handed_back_automatically",
            sender_id=sender_id,
            detail={"idle_minutes": minutes},
        )
        for case_id in app.ctx.store.cases_for_sender(sender_id):
            app.ctx.store.add_note(case_id, f"人工接管后{minutes}分钟无人发言，已自动交还助手。", AUTOMATIC)
        handed_back.append(sender_id)
    return handed_back


async def keep_handing_back(app: Sanic) -> None:
    while True:
        try:
            await hand_back_silent_conversations(app)
        except Exception:  # the next sweep tries again; a failed one must not end the loop
            logger.exception("The sweep for silent takeovers failed")
        await asyncio.sleep(SWEEP_SECONDS)


async def keep_purging(app: Sanic) -> None:
    while True:
        # Not at once: a console that just started (or a test's) has other work first.
        await asyncio.sleep(PURGE_CHECK_SECONDS)
        try:
            # In a thread: a purge of a large store takes minutes of database work.
            await asyncio.to_thread(scheduled_purge, app.ctx.store.cases, app.ctx.settings.tracker_db)
        except Exception:  # the next check tries again
            logger.exception("The retention purge failed")
