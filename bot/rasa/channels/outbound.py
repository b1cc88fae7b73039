"""Messages to a user outside their own turn (staff replies, follow-ups), through their channel.

A channel that can reach its users unprompted registers a ``Push`` for its id
namespace when Rasa builds its blueprint: the widget emits to the socket.io
room of the conversation (every replica's sockets, through the Redis manager
in cluster mode), WeChat sends a 客服消息 within 48 hours of the user's last
message. The REST channel has no way to reach its client, so nothing is
registered for it and a push there is reported undelivered, never dropped
silently.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.domain.delivery import CHANNEL_CANNOT_PUSH, Delivery
from bot.infra.identity import namespace_of


@dataclass(frozen=True)
class Outgoing:
    """One message: its text, optional buttons, and the staff member who wrote it (None: the assistant)."""

    text: str
    buttons: list[dict[str, Any]] = field(default_factory=list)
    staff: str | None = None
    # When the user last wrote (Unix time), for channels that may answer only for a while after it.
    last_user_message_at: float | None = None


Push = Callable[[str, Outgoing], Awaitable[Delivery]]

_pushes: dict[str, Push] = {}


def register(namespace: str, push: Push) -> None:
    _pushes[namespace] = push


async def push(conversation_id: str, message: Outgoing) -> Delivery:
    channel_push = _pushes.get(namespace_of(conversation_id) or "")
    if channel_push is None:
        return Delivery.undelivered(CHANNEL_CANNOT_PUSH)
    return await channel_push(conversation_id, message)
