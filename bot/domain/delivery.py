"""Whether a message sent outside the user's turn (a staff reply, a follow-up) reached them."""

from __future__ import annotations

from dataclasses import dataclass

# Why a message did not reach the user; the console shows each with a label.
CHANNEL_CANNOT_PUSH = "channel_cannot_push"  # REST: the client is never called back
WIDGET_OFFLINE = "widget_offline"  # no widget of the conversation acknowledged it
WECHAT_WINDOW_CLOSED = "wechat_window_closed"  # 48 hours since the user's last message
SEND_FAILED = "send_failed"
NO_CONVERSATION = "no_conversation"  # a follow-up for a conversation the tracker store no longer has
TAKEN_OVER = "taken_over"  # a follow-up held back: staff are talking to the user


@dataclass(frozen=True)
class Delivery:
    """What the channel made of a message: delivered, or not with a reason code (above)."""

    delivered: bool
    reason: str = ""

    @classmethod
    def ok(cls) -> Delivery:
        return cls(True)

    @classmethod
    def undelivered(cls, reason: str) -> Delivery:
        return cls(False, reason)
