"""Rasa's socket.io channel (used by the web widget), with server-issued sessions.

Rasa's own channel lets the client name its session (``session_request``) and
the conversation of every message (``user_uttered``), so anyone who learns a
session id can join that conversation's room, read its replies and write as
its owner. Here the server decides:

- ``session_request`` resumes a session only when the client shows the
  server's signature of its id (``session_token``, kept by the widget in
  localStorage; a cookie would not do, the widget lives on other sites where
  third-party cookies are blocked). Anything else starts a fresh session:
  ``session_confirm`` answers ``{"session_id", "session_token"}``.
- ``user_uttered`` belongs to the session this socket confirmed; a
  ``session_id`` in the payload is ignored.
- The conversation is ``web:<session id>`` (``bot/infra/identity.py``), and the
  acknowledgement of a message carries its masked text, which is what the
  widget keeps in the browser's storage. A turn that failed inside Rasa is
  still acknowledged, with an ``error`` (and ``retry: true`` when a store was
  unreachable, ``bot/rasa/channels/turn_failures.py``), and the user is told to
  send again; Rasa's channel sends no ack then, and the client waits forever.

A receipt photo (``POST /webhooks/socketio/receipt``) comes over HTTP, not the
socket: the session is named by ``X-Widget-Session`` and ``X-Widget-Token``, the
body is read as it streams and refused past 10 MB, and the turn that shows what
was read (``bot/infra/receipt_intake.py``) answers over the session's sockets.

A connection from a browser page of another site is refused unless that
site is allowed (``bot/rasa/channels/origins.py``); Rasa's channel accepts any origin. A
client address sending more than ``PER_ADDRESS`` messages a minute is asked to
slow down (loopback is trusted), and no packet may exceed
``MAX_PACKET_BYTES``.

With ``REDIS_URL`` set (cluster mode) the replicas share python-socketio's
``AsyncRedisManager``: an emit to a conversation's room on one replica (a staff
reply, ``bot/rasa/channels/outbound.py``) reaches a widget connected to another.

It also awaits ``sio.enter_room``: Rasa 3.6 calls it without awaiting, which
python-socketio 5.x made a coroutine, so the socket never joined its room.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.domain import follow_ups
from bot.domain.delivery import WIDGET_OFFLINE, Delivery
from bot.domain.responses import response_text
from bot.infra import ocr, receipt_intake
from bot.infra.identity import WidgetSession, new_widget_session, verified_widget_session
from bot.infra.rate_limits import PER_ADDRESS
from bot.infra.receipt_intake import MAX_IMAGE_BYTES, RECEIPT_SENT
from bot.rasa.channels import outbound
from bot.rasa.channels.client_address import client_address, is_loopback
from bot.rasa.channels.guard import Handler, guard_incoming, rate_limiter_from_env, split_guard_from_env
from bot.rasa.channels.origins import origin_allowed
from bot.rasa.channels.outbound import Outgoing
from bot.rasa.channels.turn_failures import store_unreachable
from bot.storage import process_store
from bot.storage.redis_state import KEY_PREFIX, redis_url_from_env

# How long a pushed message waits for a widget's ack before it counts as not delivered
# (a widget is open when it acks at once; the wait only costs when none is).
PUSH_ACK_SECONDS = 5.0

logger = logging.getLogger(__name__)

SESSION_KEY = "widget_session"
# A message of MAX_MESSAGE_CHARS in JSON fits; engine.io's default is 1 MB.
MAX_PACKET_BYTES = 64 * 1024


def allowed_origin(origin: str | None, environ: dict[str, Any]) -> bool:
    """engine.io's origin check; it refuses the connection (400) when this says no."""
    return origin_allowed(origin, environ.get("HTTP_HOST"))


class MaskedSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        handler = guard_incoming(on_new_message)
        webhook = super().blueprint(handler)
        sio = self.sio
        sio.eio.cors_allowed_origins = allowed_origin
        sio.eio.max_http_buffer_size = MAX_PACKET_BYTES
        redis_url = redis_url_from_env()
        if redis_url:
            sio.manager = socketio.AsyncRedisManager(redis_url, channel=f"{KEY_PREFIX}socketio")
            sio.manager.set_server(sio)

        async def confirm(sid: str, session: WidgetSession) -> None:
            previous = await self._session_of(sid)
            if previous is not None and previous.session_id != session.session_id:
                await sio.leave_room(sid, previous.conversation_id, namespace=self.namespace)
            async with sio.session(sid, namespace=self.namespace) as stored:
                stored[SESSION_KEY] = session
            await sio.enter_room(sid, session.conversation_id, namespace=self.namespace)
            confirmation = {"session_id": session.session_id, "session_token": session.token}
            await sio.emit("session_confirm", confirmation, room=sid, namespace=self.namespace)

        async def session_request(sid: str, data: Any) -> None:
            asked = data if isinstance(data, dict) else {}
            resumed = verified_widget_session(asked.get("session_id"), asked.get("session_token"))
            await confirm(sid, resumed or new_widget_session())
            if resumed is not None:
                await self._show_what_came_while_away(sid, resumed.conversation_id)

        async def handle_message(sid: str, data: Any) -> dict[str, Any] | None:
            if not isinstance(data, dict) or not isinstance(data.get("message"), str):
                return None
            session = await self._session_of(sid)
            if session is None:  # a client that skipped session_request gets a fresh session
                session = new_widget_session()
                await confirm(sid, session)
            if not await self._address_allowed(sid):
                await sio.emit(
                    self.bot_message_evt,
                    {"text": response_text("utter_too_many_messages")},
                    room=sid,
                    namespace=self.namespace,
                )
                # Not processed, but the widget keeps what it is told: masked as the conversation's own.
                masked = await split_guard_from_env().mask(session.conversation_id, data["message"])
                return {"text": masked.text}
            metadata = data.get(self.metadata_key)
            message = UserMessage(
                data["message"],
                SocketIOOutput(sio, self.bot_message_evt),
                session.conversation_id,
                input_channel=self.name(),
                metadata=metadata if isinstance(metadata, dict) else None,
            )
            try:
                await handler(message)
            except Exception as error:
                logger.exception("A socket.io turn failed")
                failed = {"text": response_text("utter_turn_failed")}
                await sio.emit(self.bot_message_evt, failed, room=sid, namespace=self.namespace)
                return {"text": message.text, "error": "turn failed", "retry": store_unreachable(error)}
            return {"text": message.text}

        @webhook.route("/receipt", methods=["OPTIONS"])
        async def receipt_preflight(request: Request) -> HTTPResponse:
            origin = request.headers.get("origin")
            if not origin or not origin_allowed(origin, request.host):
                return response.empty(status=403)
            return response.empty(status=204, headers={**_page_may_read(origin), **UPLOAD_PREFLIGHT})

        @webhook.route("/receipt", methods=["POST"], stream=True)
        async def receipt(request: Request) -> HTTPResponse:
            """A picture from the widget (``X-Widget-Session``/``X-Widget-Token`` name the
            session): read, cleaned and kept, then the turn that shows what was read runs as
            any turn does, its replies going to the session's sockets."""
            origin = request.headers.get("origin")
            if not origin_allowed(origin, request.host):
                return response.json({"error": "this origin may not use the widget"}, status=403)
            reply = await take_picture(request)
            reply.headers.update(_page_may_read(origin))
            return reply

        async def take_picture(request: Request) -> HTTPResponse:
            session = verified_widget_session(
                request.headers.get("x-widget-session"), request.headers.get("x-widget-token")
            )
            if session is None:
                return refusal(401, "no_session", "utter_receipt_no_session")
            address = client_address(request)
            if not is_loopback(address) and not await rate_limiter_from_env().allow(PER_ADDRESS, address):
                return refusal(429, "too_many_messages", "utter_too_many_messages")
            data = await _body_up_to(request, MAX_IMAGE_BYTES)
            if data is None:
                return refusal(413, "too_large", "utter_receipt_too_large")
            taken = await receipt_intake.take_in(process_store(), session.conversation_id, self.name(), data)
            if isinstance(taken, receipt_intake.Refusal):
                return refusal(REFUSAL_STATUS[taken.reason], taken.reason, taken.response)
            output = SocketIOOutput(sio, self.bot_message_evt)
            message = UserMessage(RECEIPT_SENT, output, session.conversation_id, input_channel=self.name())
            try:
                await handler(message)
            except Exception:
                logger.exception("The turn for a receipt picture failed")
                return refusal(500, "turn_failed", "utter_turn_failed")
            return response.json({"ok": True})

        @webhook.listener("before_server_stop")
        async def stop_reading(*_: Any) -> None:
            ocr.shutdown()

        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        outbound.register("web", self.push)
        return webhook

    async def push(self, conversation: str, message: Outgoing) -> Delivery:
        """A message outside the user's turn, to every socket of the conversation (its room).

        Delivered means a widget acknowledged it (``web/widget.js`` acks every
        ``bot_uttered`` that asks): a socket may be closing, and with Redis the room
        may be on another replica, where no replica can see whether anyone is in
        it. The ack comes back across replicas through the same Redis channel.
        """
        manager = self.sio.manager
        if not isinstance(manager, socketio.AsyncRedisManager):  # one server: an empty room is no widget
            if not any(True for _ in manager.get_participants(self.namespace or "/", conversation)):
                return Delivery.undelivered(WIDGET_OFFLINE)
        acknowledged = asyncio.get_running_loop().create_future()

        def on_ack(*_: Any) -> None:
            if not acknowledged.done():
                acknowledged.set_result(True)

        payload = _payload(message)
        await self.sio.emit(
            self.bot_message_evt, payload, room=conversation, namespace=self.namespace, callback=on_ack
        )
        try:
            await asyncio.wait_for(acknowledged, PUSH_ACK_SECONDS)
        except asyncio.TimeoutError:
            return Delivery.undelivered(WIDGET_OFFLINE)
        return Delivery.ok()

    async def _show_what_came_while_away(self, sid: str, conversation: str) -> None:
        """Follow-up questions asked while no widget of the conversation was open."""
        store = process_store()
        for follow_up in await asyncio.to_thread(store.follow_ups.take_awaiting_return, conversation):
            case = await asyncio.to_thread(store.get, follow_up.case_id)
            if case is None:
                continue
            question = follow_ups.message(case, follow_up.step_id)
            payload = _payload(Outgoing(question.text, question.buttons))
            await self.sio.emit(self.bot_message_evt, payload, room=sid, namespace=self.namespace)

    async def _address_allowed(self, sid: str) -> bool:
        request = self.sio.get_environ(sid, namespace=self.namespace).get("sanic.request")
        address = client_address(request) if request is not None else ""
        return is_loopback(address) or await rate_limiter_from_env().allow(PER_ADDRESS, address)

    async def _session_of(self, sid: str) -> WidgetSession | None:
        stored = await self.sio.get_session(sid, namespace=self.namespace)
        return stored.get(SESSION_KEY)


UPLOAD_PREFLIGHT = {
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "Content-Type, X-Widget-Session, X-Widget-Token",
    "Access-Control-Max-Age": "600",
}


def _page_may_read(origin: str | None) -> dict[str, str]:
    """CORS headers for an allowed page (checked before): the widget on a bank's site reads the answer."""
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}


# What each refusal of a picture answers over HTTP.
REFUSAL_STATUS = {"too_large": 413, "not_a_picture": 415, "too_many": 429, "no_ocr": 503}


def refusal(status: int, reason: str, utterance: str) -> HTTPResponse:
    """A refused picture: the reason for the widget's code, the sentence for the person."""
    return response.json({"error": reason, "text": response_text(utterance)}, status=status)


async def _body_up_to(request: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while (chunk := await request.stream.read()) is not None:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _payload(message: Outgoing) -> dict[str, Any]:
    """A message as the widget reads ``bot_uttered`` (Rasa's socket.io output, plus the staff name)."""
    payload: dict[str, Any] = {"text": message.text}
    if message.buttons:
        payload["quick_replies"] = [
            {"content_type": "text", "title": button["title"], "payload": button["payload"]}
            for button in message.buttons
        ]
    if message.staff:
        payload["staff"] = message.staff
    return payload
