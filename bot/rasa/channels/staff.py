"""The staff console's way into a conversation: take it over, reply, hand it back.

The console is a separate process and Rasa runs without its HTTP API, so this
channel gives the console three calls on the Rasa server, each authenticated
with a token derived from the server secret both share (``staff_bridge_token``):

- ``POST /webhooks/staff/takeover``: Rasa's own ``ConversationPaused`` event
  (the bot stops answering; user messages are still recorded), and the user is
  told which staff member joined;
- ``POST /webhooks/staff/reply``: a staff turn, recorded as a bot utterance
  with the staff member's name in its metadata, sent through the
  conversation's channel (``bot/rasa/channels/outbound.py``);
- ``POST /webhooks/staff/handback``: ``ConversationResumed``, and the user is
  told. While the session is alive the form's last question is asked again
  (the form is still active, so the next answer fills it); once the session
  has expired Rasa starts a new one on the next message, without the form, so
  the user is given the case's current step instead;
- ``POST /webhooks/staff/erase``: everything stored about the conversation is
  deleted (``erase_under_lock``), at a staff member's or the user's request.
  The action server asks for it too, ``after_turn``, when the user confirms
  删除我的信息 or declines the notice.

The follow-up scheduler (``bot/rasa/follow_up_scheduler.py``) runs here too,
as a background task of the server, and asks its questions the same way
(``send_follow_up``), except in a conversation staff have taken over.

Each call takes the conversation's lock, so a staff turn never interleaves
with a user's turn. A message that cannot be delivered (a WeChat user silent
for over 48 hours, a REST client) is still recorded in the transcript, is
logged on the conversation's open case, and the answer says so.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore, TrackerStore
from rasa.shared.core.events import (
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, Request, Sanic, response
from sanic.response import HTTPResponse

from bot.domain.checklist import build_checklist, render_step
from bot.domain.delivery import NO_CONVERSATION, TAKEN_OVER, Delivery
from bot.domain.responses import response_text
from bot.infra.identity import namespace_of
from bot.infra.server_secret import staff_bridge_token
from bot.rasa import follow_up_scheduler
from bot.rasa.channels.outbound import Outgoing, push
from bot.rasa.tracker_store import CachedSQLTrackerStore
from bot.storage import erasure, process_store
from bot.storage.redis_state import redis_url_from_env, sync_client

logger = logging.getLogger(__name__)

MAX_REPLY_CHARS = 2000
# Why a conversation's data is erased: the user asked (in the chat), declined the notice,
# or staff acted on a request made elsewhere (the console, the CLI).
ERASURE_REASONS = ("user_request", "consent_declined", "staff_request")
MAX_STAFF_NAME_CHARS = 64


class BadCall(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class StaffBridgeInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "staff"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bridge = Blueprint("staff_bridge", __name__)

        @bridge.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bridge.listener("after_server_start")
        async def start_follow_ups(app: Sanic, loop: asyncio.AbstractEventLoop) -> None:
            async def send(conversation_id: str, text: str, buttons: list[dict[str, str]]) -> Delivery:
                return await send_follow_up(app.ctx.agent, conversation_id, text, buttons)

            app.ctx.follow_ups = follow_up_scheduler.start_follow_ups(send)

        @bridge.listener("before_server_stop")
        async def stop_follow_ups(app: Sanic, loop: asyncio.AbstractEventLoop) -> None:
            app.ctx.follow_ups.cancel()

        @bridge.route("/<operation:takeover|reply|handback>", methods=["POST"])
        async def call(request: Request, operation: str) -> HTTPResponse:
            try:
                _authenticate(request)
                conversation_id, staff, text = _arguments(request, needs_text=operation == "reply")
                agent: Agent = request.app.ctx.agent
                async with agent.lock_store.lock(conversation_id):
                    tracker = await agent.tracker_store.retrieve(conversation_id)
                    if tracker is None:
                        raise BadCall(404, "no such conversation")
                    if operation == "takeover":
                        delivery = await _take_over(agent, tracker, staff)
                    elif operation == "reply":
                        delivery = await _reply(agent, tracker, staff, text)
                    else:
                        delivery = await _hand_back(agent, tracker, staff)
            except BadCall as refused:
                return response.json({"error": str(refused)}, status=refused.status)
            return response.json(
                {"delivered": delivery.delivered, "reason": delivery.reason, "paused": tracker.is_paused()}
            )

        @bridge.route("/erase", methods=["POST"])
        async def erase(request: Request) -> HTTPResponse:
            try:
                _authenticate(request)
                conversation_id, requested_by, _ = _arguments(request, needs_text=False)
                reason = request.json.get("reason", "staff_request")
                if reason not in ERASURE_REASONS:
                    raise BadCall(400, f"reason must be one of {', '.join(ERASURE_REASONS)}")
                agent: Agent = request.app.ctx.agent
                if request.json.get("after_turn") is True:
                    # Asked for inside the user's own turn (the action server), which holds the
                    # lock and saves the tracker at its end: erased once that turn lets go.
                    erasing = asyncio.create_task(
                        erase_under_lock(agent, conversation_id, requested_by, reason)
                    )
                    _erasing.add(erasing)  # held until done: the loop keeps only weak references to tasks
                    erasing.add_done_callback(_erase_finished)
                    return response.json({"erased": False, "scheduled": True}, status=202)
                erased = await erase_under_lock(agent, conversation_id, requested_by, reason)
            except BadCall as refused:
                return response.json({"error": str(refused)}, status=refused.status)
            if not erased.case_ids and not erased.counts["tracker_events"]:
                return response.json({"error": "no such conversation"}, status=404)
            return response.json({"erased": True, **erased.as_json()})

        return bridge


_erasing: set[asyncio.Task] = set()


def _erase_finished(task: asyncio.Task) -> None:
    _erasing.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("An erasure asked for in a turn failed", exc_info=task.exception())


async def erase_under_lock(
    agent: Agent, conversation_id: str, requested_by: str, reason: str
) -> erasure.ErasureReport:
    """Everything about the conversation, under its lock: the case store's records (a
    tombstone without personal data stays), the tracker's events, its state in Redis.

    Under the lock no turn can run meanwhile and write events back; other replicas'
    remembered trackers are not served afterwards (``CachedSQLTrackerStore``).
    """
    async with agent.lock_store.lock(conversation_id):
        report = await asyncio.to_thread(
            erasure.erase_conversation,
            process_store(),
            conversation_id,
            requested_by=requested_by,
            reason=reason,
        )
        report.counts["tracker_events"] = _erase_tracker(agent.tracker_store, conversation_id)
        redis_url = redis_url_from_env()
        if redis_url:
            report.counts["redis_keys"] = await asyncio.to_thread(_erase_redis, redis_url, conversation_id)
    logger.info("Erased a conversation's data at the request of %s (%s)", requested_by, reason)
    return report


def _erase_redis(url: str, conversation_id: str) -> int:
    client = sync_client(url)
    try:
        return erasure.erase_redis_state(client, conversation_id)
    finally:
        client.close()


def _erase_tracker(store: TrackerStore, conversation_id: str) -> int:
    """Rasa 3.6 has no delete: ours erases; the in-memory store (tests) forgets."""
    while isinstance(getattr(store, "_tracker_store", None), TrackerStore):  # Rasa's fail-safe wrappers
        store = store._tracker_store
    if isinstance(store, CachedSQLTrackerStore):
        return store.erase(conversation_id)
    if isinstance(store, InMemoryTrackerStore):
        dumped = store.store.pop(conversation_id, None)
        return len(json.loads(dumped)["events"]) if dumped else 0
    raise TypeError(f"cannot erase from a {type(store).__name__}")


def _authenticate(request: Request) -> None:
    offered = (request.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
    if not offered or not hmac.compare_digest(offered, staff_bridge_token()):
        raise BadCall(401, "a valid bridge token is required")


def _arguments(request: Request, *, needs_text: bool) -> tuple[str, str, str]:
    body = request.json if request.body else None
    if not isinstance(body, dict):
        raise BadCall(400, "a JSON object is required")
    conversation_id, staff, text = body.get("conversation_id"), body.get("staff"), body.get("text", "")
    if not isinstance(conversation_id, str) or namespace_of(conversation_id) is None:
        raise BadCall(400, "conversation_id must be a namespaced conversation id")
    if not isinstance(staff, str) or not staff.strip() or len(staff) > MAX_STAFF_NAME_CHARS:
        raise BadCall(400, "staff must name the staff member")
    if not isinstance(text, str) or (needs_text and not text.strip()) or len(text) > MAX_REPLY_CHARS:
        raise BadCall(400, f"text must be 1 to {MAX_REPLY_CHARS} characters")
    return conversation_id, staff.strip(), text.strip()


async def _take_over(agent: Agent, tracker: DialogueStateTracker, staff: str) -> Delivery:
    if tracker.is_paused():
        raise BadCall(409, "the conversation is already taken over")
    tracker.update(ConversationPaused())
    return await _say(agent, tracker, response_text("utter_staff_joined").format(staff=staff), staff)


async def _reply(agent: Agent, tracker: DialogueStateTracker, staff: str, text: str) -> Delivery:
    if not tracker.is_paused():
        raise BadCall(409, "take the conversation over first")
    return await _say(agent, tracker, text, staff)


async def _hand_back(agent: Agent, tracker: DialogueStateTracker, staff: str) -> Delivery:
    if not tracker.is_paused():
        raise BadCall(409, "the conversation is not taken over")
    question = _form_question(tracker)
    tracker.update(ConversationResumed())
    expired = _session_expired(agent, tracker)
    step = _current_step(tracker.sender_id) if expired else None
    if step is not None:
        text = response_text("utter_staff_handed_back_to_step").format(step_text=step)
    else:
        text = "\n\n".join(filter(None, [response_text("utter_staff_handed_back"), question]))
    return await _say(agent, tracker, text, None)


def _form_question(tracker: DialogueStateTracker) -> str | None:
    """The form's last question before the takeover, while a form is active."""
    if not tracker.active_loop_name:
        return None
    for event in reversed(tracker.events):
        if isinstance(event, ActiveLoop):
            return None  # the form started after its last question: nothing to repeat
        if isinstance(event, BotUttered) and event.text and not (event.metadata or {}).get("staff"):
            return event.text
    return None


def _session_expired(agent: Agent, tracker: DialogueStateTracker) -> bool:
    """Whether Rasa will start a new session (and drop the form) at the user's next message."""
    minutes = agent.domain.session_config.session_expiration_time if agent.domain else 0
    last = tracker.get_last_event_for(UserUttered)
    return bool(minutes and last and time.time() - last.timestamp > minutes * 60)


def _current_step(conversation_id: str) -> str | None:
    case = process_store().current_case(conversation_id)
    if case is None:
        return None
    checklist = build_checklist(case)
    upcoming = checklist.next_item
    return render_step(checklist, upcoming) if upcoming is not None else None


async def send_follow_up(
    agent: Agent, conversation_id: str, text: str, buttons: list[dict[str, str]]
) -> Delivery:
    """A follow-up question (``bot/rasa/follow_up_scheduler.py``), in the transcript and the channel.

    A paused conversation is left to the staff member who has it: not sent.
    """
    async with agent.lock_store.lock(conversation_id):
        tracker = await agent.tracker_store.retrieve(conversation_id)
        if tracker is None:
            return Delivery.undelivered(NO_CONVERSATION)
        if tracker.is_paused():
            return Delivery.undelivered(TAKEN_OVER)
        return await _say(agent, tracker, text, None, buttons, {"follow_up": True})


async def _say(
    agent: Agent,
    tracker: DialogueStateTracker,
    text: str,
    staff: str | None,
    buttons: list[dict[str, str]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Delivery:
    """Record the message in the tracker, then send it; a failed send is noted on the case."""
    metadata = {**(metadata or {}), **({"staff": staff} if staff else {})}
    tracker.update(BotUttered(text, data={"buttons": buttons} if buttons else {}, metadata=metadata))
    await agent.tracker_store.save(tracker)
    last_user = tracker.get_last_event_for(UserUttered)
    last_user_at = last_user.timestamp if last_user else None
    message = Outgoing(text, buttons or [], staff=staff, last_user_message_at=last_user_at)
    delivery = await push(tracker.sender_id, message)
    if not delivery.delivered and "follow_up" not in metadata:  # follow-ups keep their own record
        logger.warning("A staff message to %s was not delivered: %s", tracker.sender_id, delivery.reason)
        case = process_store().current_case(tracker.sender_id)
        if case is not None:
            detail = {"staff": staff, "reason": delivery.reason, "text": text[:200]}
            process_store().record_event(case.case_id, "message_undelivered", detail)
    return delivery
