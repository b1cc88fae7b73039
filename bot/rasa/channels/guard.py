"""What every channel does to a user's message before Rasa sees it.

Secrets (full card numbers, CVV, PIN, SMS codes, expiry dates) are masked so
that NLU, the tracker store, the case store and the logs only ever hold the
masked text, and the user is warned that nobody needs them. A card number
typed over two messages is caught too: the guard remembers, per conversation,
what the previous message left open (``bot.domain.masking.mask_continuing``), in
memory or, with ``REDIS_URL`` set, in Redis shared by all replicas. Metadata
the client sent is dropped except the server's own keys. Over-long messages,
and messages beyond a conversation's rate limit (``bot/infra/rate_limits.py``), are
answered politely instead of being processed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from functools import cache
from typing import Any

from rasa.core.channels.channel import UserMessage

from bot.domain.masking import (
    MASKED_METADATA_KEY,
    SPLIT_TTL_SECONDS,
    InMemorySplitNumberGuard,
    SplitNumberGuard,
    clean_metadata,
    mask_secrets,
)
from bot.domain.responses import response_text
from bot.infra.rate_limits import PER_CONVERSATION, InMemoryRateLimiter, RateLimiter
from bot.storage import redis_state

MAX_MESSAGE_CHARS = 5000

Handler = Callable[[UserMessage], Awaitable[Any]]

# Set in the request's task when its message was over the limit, for a channel
# that answers with an HTTP status (REST: 429).
throttled: ContextVar[bool] = ContextVar("wushua_throttled", default=False)


@cache
def split_guard_from_env() -> SplitNumberGuard:
    """One per process, shared by every channel: in Redis when ``REDIS_URL`` is set, else in memory."""
    redis_url = redis_state.redis_url_from_env()
    if redis_url:
        return redis_state.RedisSplitNumberGuard(redis_state.async_client(redis_url), SPLIT_TTL_SECONDS)
    return InMemorySplitNumberGuard()


@cache
def rate_limiter_from_env() -> RateLimiter:
    """One per process: in Redis when ``REDIS_URL`` is set, so every replica counts together."""
    redis_url = redis_state.redis_url_from_env()
    if redis_url:
        return redis_state.RedisRateLimiter(redis_state.async_client(redis_url))
    return InMemoryRateLimiter()


def guard_incoming(
    on_new_message: Handler,
    split_guard: SplitNumberGuard | None = None,
    rate_limiter: RateLimiter | None = None,
) -> Handler:
    """Wraps Rasa's handler: mask secrets, clean metadata, warn about secrets, refuse over-long text.

    ``message.text`` and ``message.metadata`` are replaced by what may be stored;
    channels read the masked text back from ``message.text``.
    """

    async def handler(message: UserMessage) -> Any:
        text = message.text if isinstance(message.text, str) else ""
        if len(text) > MAX_MESSAGE_CHARS:
            message.text = mask_secrets(text).text  # not processed, but a channel may echo it back
            await message.output_channel.send_text_message(
                message.sender_id, response_text("utter_message_too_long")
            )
            return None
        masked = await (split_guard or split_guard_from_env()).mask(message.sender_id, text)
        metadata = clean_metadata(message.metadata)
        # The REST channel masks once before the guard, for Rasa's own log; its finds count too.
        kinds = sorted({*masked.kinds, *metadata.get(MASKED_METADATA_KEY, [])})
        message.text = masked.text
        message.metadata = {**metadata, MASKED_METADATA_KEY: kinds}
        if not await (rate_limiter or rate_limiter_from_env()).allow(PER_CONVERSATION, message.sender_id):
            throttled.set(True)
            await message.output_channel.send_text_message(
                message.sender_id, response_text("utter_too_many_messages")
            )
            return None
        if kinds:
            await message.output_channel.send_text_message(
                message.sender_id, response_text("utter_secret_never_needed")
            )
        return await on_new_message(message)

    return handler
