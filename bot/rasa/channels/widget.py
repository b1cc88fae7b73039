"""Serves the web chat widget, its demo page, the printable checklist and a user's data copy.

Not a chat channel itself (the widget talks over ``socketio``); it lives here
because Rasa mounts each channel's blueprint under ``/webhooks/<name>/``, so
the bot serves everything the widget needs without a CDN or a second server.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, Event, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.domain.checklist import build_checklist, render_html
from bot.domain.clock import CHINA, now
from bot.domain.knowledge import PROJECT_ROOT
from bot.domain.links import case_for_link
from bot.domain.responses import response_text
from bot.infra.export_links import conversation_for_export
from bot.storage import erasure, process_store

WEB_ROOT = PROJECT_ROOT / "web"
VENDOR_FILES = {
    "vendor/socket.io.min.js": PROJECT_ROOT
    / "node_modules"
    / "socket.io-client"
    / "dist"
    / "socket.io.min.js",
}
# The link is the key: not cached, not indexed, not passed on in a Referer.
PRIVATE_PAGE = {
    "Cache-Control": "private, no-store",
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",
}


@lru_cache(maxsize=1)
def _not_found_page() -> str:
    text = html.escape(response_text("utter_link_not_found"))
    return f"<!doctype html><meta charset='utf-8'><title>{text}</title><p>{text}</p>"


def static_file(relative: str) -> Path | None:
    """The file under ``web/`` (or a vendored file) for a URL path; None outside them."""
    if relative in VENDOR_FILES:
        return VENDOR_FILES[relative]
    candidate = (WEB_ROOT / relative).resolve()
    if not candidate.is_relative_to(WEB_ROOT.resolve()) or not candidate.is_file():
        return None
    return candidate


class WidgetInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "widget"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        widget = Blueprint("wushua_widget", __name__)

        @widget.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @widget.route("/demo", methods=["GET"])
        async def demo(request: Request) -> HTTPResponse:
            return await response.file(WEB_ROOT / "demo.html")

        @widget.route("/static/<relative:path>", methods=["GET"])
        async def static(request: Request, relative: str) -> HTTPResponse:
            path = static_file(relative)
            if path is None or not path.is_file():
                return response.text("not found", status=404)
            return await response.file(path, headers={"Cache-Control": "no-cache"})

        @widget.route("/checklist/<token:str>", methods=["GET"])
        async def checklist(request: Request, token: str) -> HTTPResponse:
            case = case_for_link(process_store(), token)
            if case is None:
                return response.html(_not_found_page(), status=404, headers=PRIVATE_PAGE)
            return response.html(render_html(build_checklist(case)), headers=PRIVATE_PAGE)

        @widget.route("/export/<token:str>", methods=["GET"])
        async def export(request: Request, token: str) -> HTTPResponse:
            """导出我的信息: the conversation's cases and transcript, as a JSON download."""
            conversation = conversation_for_export(token)
            if conversation is None:
                return response.html(_not_found_page(), status=404, headers=PRIVATE_PAGE)
            cases = await asyncio.to_thread(erasure.export_conversation, process_store(), conversation)
            tracker = await request.app.ctx.agent.tracker_store.retrieve_full_tracker(conversation)
            transcript = _transcript(tracker.events if tracker else [])
            if not cases.get("cases") and not transcript:  # erased since, or never anything kept
                return response.html(_not_found_page(), status=404, headers=PRIVATE_PAGE)
            body = {"exported_at": now().isoformat(timespec="seconds"), **cases, "transcript": transcript}
            return response.json(
                body,
                headers={**PRIVATE_PAGE, "Content-Disposition": 'attachment; filename="wushua-my-data.json"'},
                ensure_ascii=False,
                indent=2,
            )

        return widget


def _transcript(events: Iterable[Event]) -> list[dict[str, str]]:
    """What was said, by whom and when: the user, the assistant, or a named staff member."""
    said = []
    for event in events:
        if isinstance(event, UserUttered) and event.text:
            who = "user"
        elif isinstance(event, BotUttered) and event.text:
            staff = (event.metadata or {}).get("staff")
            who = f"staff:{staff}" if staff else "assistant"
        else:
            continue
        at = datetime.fromtimestamp(event.timestamp, CHINA).isoformat(timespec="seconds")
        said.append({"at": at, "from": who, "text": event.text})
    return said
