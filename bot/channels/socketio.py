"""Rasa's socket.io channel (used by the web widget) with secret masking.

It also replaces Rasa 3.6's ``session_request`` handler: that one calls
``sio.enter_room`` without awaiting it, which python-socketio 5.x made a
coroutine, so with session persistence the socket never joins its session's
room and never receives a reply.
"""

from __future__ import annotations

import uuid
from typing import Any

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from bot.channels.guard import Handler, guard_incoming

MAX_SESSION_ID_CHARS = 128


def session_id_from(data: Any) -> str:
    """The client's session id when it sent a usable one, else a fresh one."""
    requested = data.get("session_id") if isinstance(data, dict) else None
    if isinstance(requested, str) and 0 < len(requested) <= MAX_SESSION_ID_CHARS:
        return requested
    return uuid.uuid4().hex


class MaskedSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        webhook = super().blueprint(guard_incoming(on_new_message))
        sio = self.sio

        async def session_request(sid: str, data: Any) -> None:
            session_id = session_id_from(data)
            if self.session_persistence:
                await sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        sio.on("session_request", session_request, namespace=self.namespace)
        return webhook
