"""Who a conversation belongs to: one id namespace per channel, and the widget's
server-issued sessions.

Rasa keys a conversation by its sender id, so a channel that let a client
choose the id would let anyone who learns it (from a link, a log, a
screenshot) read and write that conversation. Every channel therefore prefixes
the ids it vouches for with its own namespace (``web:``, ``wechat:``,
``rest:``), so no channel can speak as another's user, and the widget only
ever uses a session id the server generated together with a signature of it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature

from bot.infra.server_secret import signer

# Rasa's input channel name → the namespace of the conversations it starts.
NAMESPACES = {"socketio": "web", "wechat": "wechat", "rest": "rest"}
WIDGET_SESSION_PURPOSE = "widget-session"
MAX_LOCAL_ID_CHARS = 128


def conversation_id(channel: str, local_id: str) -> str:
    """``web:3f2a…`` for the widget's session 3f2a…, ``wechat:<OpenID>``, ``rest:<sender>``."""
    return f"{NAMESPACES[channel]}:{local_id}"


def namespace_of(conversation: str) -> str | None:
    prefix, separator, _ = conversation.partition(":")
    return prefix if separator and prefix in NAMESPACES.values() else None


@dataclass(frozen=True)
class WidgetSession:
    session_id: str
    token: str

    @property
    def conversation_id(self) -> str:
        return conversation_id("socketio", self.session_id)


def new_widget_session() -> WidgetSession:
    session_id = secrets.token_hex(16)
    return WidgetSession(session_id, signer(WIDGET_SESSION_PURPOSE).get_signature(session_id).decode())


def verified_widget_session(session_id: object, token: object) -> WidgetSession | None:
    """The session when ``token`` is the server's signature of ``session_id``; None otherwise."""
    if not isinstance(session_id, str) or not isinstance(token, str):
        return None
    if not 0 < len(session_id) <= MAX_LOCAL_ID_CHARS or len(token) > MAX_LOCAL_ID_CHARS:
        return None
    try:
        valid = signer(WIDGET_SESSION_PURPOSE).verify_signature(session_id, token)
    except BadSignature:
        return None
    return WidgetSession(session_id, token) if valid else None


# Before namespaces, a conversation's id was whatever its channel used: the
# widget's own 32-hex session id, an OpenID, a REST client's sender.
_LEGACY_WIDGET_ID = re.compile(r"^[0-9a-f]{32}$")
_LEGACY_OPENID = re.compile(r"^o[A-Za-z0-9_-]{27}$")


def legacy_conversation_id(sender_id: str, channel: str | None) -> str:
    """The namespaced id of a conversation recorded before namespaces existed.

    The channel recorded with it decides; where none was recorded, the id's
    shape does. Ids that already carry a namespace are returned unchanged, so
    a migration can run twice.
    """
    if namespace_of(sender_id):
        return sender_id
    if channel not in NAMESPACES:
        if _LEGACY_WIDGET_ID.match(sender_id):
            channel = "socketio"
        elif _LEGACY_OPENID.match(sender_id):
            channel = "wechat"
        else:
            channel = "rest"
    return conversation_id(channel, sender_id)
