"""Conversations: the list, one transcript, and marking it reviewed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from bot.console import params
from bot.console.pages.erasure import erase_url
from bot.console.teach import load_domain, suggest_annotation
from bot.console.web import failure, render, safe_next, sender, settings, store, tracker, username
from bot.domain.clock import CHINA
from bot.infra.identity import namespace_of

pages = Blueprint("conversations")
# WeChat lets an account write to a user within 48 hours of the user's last message.
WECHAT_CUSTOMER_SERVICE_WINDOW = timedelta(hours=48)
# The conversation list's pages; deeper offsets would only make the database count rows.
MAX_PAGE = 10_000


def conversation_context(request: Request, sender_id: str) -> dict[str, Any]:
    """What a transcript needs, on its own page and under a case."""
    domain = load_domain(settings(request).domain_path)
    transcript = tracker(request).transcript(sender_id)
    flagged = {example.event_id: example for example in store(request).flagged_examples(sender_id)}
    review = store(request).review(sender_id)
    last_event = tracker(request).last_event_id(sender_id)
    last_user_message = tracker(request).last_user_message_at(sender_id)
    return {
        "sender_id": sender_id,
        "transcript": transcript,
        "tracker_available": tracker(request).available,
        "suggestions": {turn.event_id: suggest_annotation(turn) for turn in transcript if turn.can_teach},
        "flagged": flagged,
        "intents": domain.intents,
        "entities": domain.entities,
        "review": review,
        "last_event_id": last_event,
        "taken_over_since": tracker(request).taken_over_since(sender_id),
        "channel": namespace_of(sender_id),
        "wechat_reachable": bool(
            # The wall clock, as the tracker store stamps events (a pinned WUSHUA_TODAY does not move it).
            last_user_message and datetime.now(CHINA) - last_user_message < WECHAT_CUSTOMER_SERVICE_WINDOW
        ),
        "unreviewed": bool(
            last_event
            and (review is None or review.last_event_id is None or review.last_event_id < last_event)
        ),
    }


@pages.get("/conversations")
async def conversations(request: Request) -> HTTPResponse:
    page_number = params.integer(request.args.get("page"), "page", maximum=MAX_PAGE) or 1
    size = settings(request).page_size
    summaries = tracker(request).conversations(limit=size + 1, offset=(page_number - 1) * size)
    return render(
        request,
        "conversations.html",
        conversations=summaries[:size],
        cases={
            summary.sender_id: store(request).cases_for_sender(summary.sender_id)
            for summary in summaries[:size]
        },
        page_number=page_number,
        has_more=len(summaries) > size,
        tracker_available=tracker(request).available,
    )


@pages.get("/conversation")
async def conversation(request: Request) -> HTTPResponse:
    sender_id = sender(request.args.get("sender"))
    context = conversation_context(request, sender_id)
    if not context["transcript"]:
        return failure(request, 404, "conversation_not_found", back="/conversations")
    store(request).record_view(username(request), "conversation_viewed", sender_id=sender_id)
    return render(
        request,
        "conversation.html",
        cases=store(request).cases_for_sender(sender_id),
        here=f"/conversation?{urlencode({'sender': sender_id})}",
        erase_url=erase_url(sender_id),
        **context,
    )


@pages.post("/conversation/review")
async def review(request: Request) -> HTTPResponse:
    sender_id = sender(request.form.get("sender"))
    case_id = params.case_id(request.form.get("case_id"))
    last_event = tracker(request).last_event_id(sender_id)
    if last_event is None:
        return failure(request, 404, "conversation_not_found", back="/conversations")
    store(request).mark_reviewed(sender_id, username(request), last_event, case_id)
    return redirect(safe_next(request.form.get("next")) + "#transcript", status=303)
