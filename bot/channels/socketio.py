"""Rasa's socket.io channel (used by the web widget) with secret masking."""

from __future__ import annotations

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from bot.channels.guard import Handler, guard_incoming


class MaskedSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        return super().blueprint(guard_incoming(on_new_message))
