"""Links to a copy of a user's data ("导出我的信息"): opaque, short-lived, stored nowhere.

The token is the conversation id sealed with the server secret
(``server_secret.sealer``): it names nothing readable, cannot be made for
another conversation, and expires ``LIFETIME`` after it was made. Every
replica can open it; deleting the conversation's data leaves it nothing to show.
"""

from __future__ import annotations

from datetime import timedelta

from cryptography.fernet import InvalidToken

from bot.infra.server_secret import sealer

LIFETIME = timedelta(minutes=30)
EXPORT_PATH = "/webhooks/widget/export/"
_PURPOSE = "export-link"


def new_export_link(conversation_id: str) -> str:
    """The path of a new link to the conversation's data."""
    return EXPORT_PATH + sealer(_PURPOSE).encrypt(conversation_id.encode()).decode()


def conversation_for_export(token: str) -> str | None:
    """The conversation a live token was made for; None when forged, altered or expired."""
    try:
        opened = sealer(_PURPOSE).decrypt(token.encode(), ttl=int(LIFETIME.total_seconds()))
    except (InvalidToken, ValueError):
        return None
    return opened.decode()
