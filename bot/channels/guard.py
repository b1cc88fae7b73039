"""What every channel does to a user's message before Rasa sees it.

Secrets (full card numbers, CVV, PIN, SMS codes, expiry dates) are masked so
that NLU, the tracker store, the case store and the logs only ever hold the
masked text, and the user is warned that nobody needs them. Over-long
messages are answered politely instead of being processed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage

from bot.masking import mask_secrets
from bot.responses import response_text

MAX_MESSAGE_CHARS = 5000
MASKED_METADATA_KEY = "masked_secrets"

Handler = Callable[[UserMessage], Awaitable[Any]]


def guard_incoming(on_new_message: Handler) -> Handler:
    """Wraps Rasa's handler: mask secrets, warn about them, refuse over-long text."""

    async def handler(message: UserMessage) -> Any:
        text = message.text if isinstance(message.text, str) else ""
        if len(text) > MAX_MESSAGE_CHARS:
            await message.output_channel.send_text_message(
                message.sender_id, response_text("utter_message_too_long")
            )
            return None
        masked = mask_secrets(text)
        metadata = message.metadata if isinstance(message.metadata, dict) else {}
        kinds = sorted({*masked.kinds, *metadata.get(MASKED_METADATA_KEY, [])})
        message.text = masked.text
        message.metadata = {**metadata, MASKED_METADATA_KEY: kinds}
        if kinds:
            await message.output_channel.send_text_message(
                message.sender_id, response_text("utter_secret_never_needed")
            )
        return await on_new_message(message)

    return handler
