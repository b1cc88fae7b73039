"""Per-user state that replicas share through Redis when ``REDIS_URL`` is set.

A single process keeps this state to itself: the WeChat channel in memory,
the console in its ``login_attempts`` table. Behind a load balancer, WeChat's
retry of a message, a user's next menu choice or a staff member's next
sign-in may reach another replica, so with ``REDIS_URL`` set (for example
``redis://127.0.0.1:6379/0``) these live in Redis and every replica agrees:

- the WeChat numbered menu last shown to each OpenID (``RedisMenuStore``),
- which replica runs the Rasa turn for a WeChat message, and how its reply
  reaches the user (``RedisTurnLedger``),
- which message each WeChat ``(timestamp, nonce)`` pair carried, so that no
  replica accepts the pair with another message (``RedisNonceStore``),
- failed console sign-ins per user and per IP (``RedisLoginThrottle``),
- what each conversation's last message left open of a card number typed
  over two messages (``RedisSplitNumberGuard``),
- how many messages each conversation and client address sent in the
  current minute (``RedisRateLimiter``).

With ``REDIS_URL`` unset nothing here is used and no Redis is needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import redis
import redis.asyncio

from bot.domain.masking import MaskResult, SplitState, mask_continuing
from bot.infra.rate_limits import Limit

logger = logging.getLogger(__name__)

REDIS_URL_VARIABLE = "REDIS_URL"
# Short, so an unreachable Redis is noticed well inside WeChat's 5-second reply window.
CONNECT_TIMEOUT_SECONDS = 1.0
COMMAND_TIMEOUT_SECONDS = 1.0
KEY_PREFIX = "wushua:"


def conversation_hash(value: str) -> str:
    """What keys hold instead of a sender id or an address, so no user input becomes a key."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def redis_url_from_env() -> str | None:
    return os.environ.get(REDIS_URL_VARIABLE, "").strip() or None


def async_client(url: str) -> redis.asyncio.Redis:
    """For the Sanic channels; connects lazily, on the serving event loop."""
    return redis.asyncio.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
        decode_responses=True,
    )


def sync_client(url: str) -> redis.Redis:
    """For the console, whose account code is synchronous (like its database calls)."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
        decode_responses=True,
    )


class RedisMenuStore:
    """The WeChat channel's ``MenuStore``: a JSON list of payloads per OpenID, with a TTL.

    Redis errors are logged and read as "no menu": a lost menu costs the user
    one number that Rasa sees as typed, where an exception would cost the
    whole message.
    """

    def __init__(self, client: redis.asyncio.Redis, ttl_seconds: float) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def _key(user: str) -> str:
        return f"{KEY_PREFIX}wechat:menu:{user}"

    async def save(self, user: str, payloads: list[str]) -> None:
        try:
            if payloads:
                value = json.dumps(payloads, ensure_ascii=False)
                await self.client.set(self._key(user), value, px=int(self.ttl_seconds * 1000))
            else:
                await self.client.delete(self._key(user))
        except redis.RedisError as error:
            logger.error("Could not save a WeChat menu in Redis: %s", type(error).__name__)

    async def load(self, user: str) -> list[str]:
        try:
            stored = await self.client.get(self._key(user))
        except redis.RedisError as error:
            logger.error("Could not load a WeChat menu from Redis: %s", type(error).__name__)
            return []
        return list(json.loads(stored)) if stored else []


@dataclass(frozen=True)
class TurnOutcome:
    """How one WeChat message's reply reaches the user.

    Passively (in the HTTP answer to WeChat, by whichever replica WeChat is
    waiting on) when it fits one message and was ready in time; otherwise by
    customer-service messages (客服消息), sent only by the replica that ran the turn.
    """

    parts: tuple[str, ...]
    by_customer_service: bool


class RedisTurnLedger:
    """Which replica runs the Rasa turn for a WeChat message, and that turn's outcome.

    WeChat retries a message it got no answer to within 5 s, up to three times,
    and a load balancer may send each retry to another replica. The first
    replica to ``claim`` the message runs the turn and ``publish``es its
    outcome; the others ``wait_for_outcome`` and answer from it. Should the owner
    die mid-turn, nobody runs the message until the claim expires: a lost reply
    is the lesser harm than a Rasa turn (a case created, a step ticked) run twice.
    """

    def __init__(self, client: redis.asyncio.Redis, ttl_seconds: float, poll_seconds: float = 0.05) -> None:
        self.client = client
        self.ttl_milliseconds = int(ttl_seconds * 1000)
        self.poll_seconds = poll_seconds
        # Stored as the claim's value, so an operator can tell which process ran a turn.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @staticmethod
    def _key(kind: str, message_key: str, conversation: str | None) -> str:
        # With the conversation's hash in the key, erasing the conversation finds its
        # outcomes (they hold reply texts); callers that give none keep the old keys.
        scope = f"{conversation_hash(conversation)}:" if conversation else ""
        return f"{KEY_PREFIX}wechat:{kind}:{scope}{message_key}"

    async def claim(self, message_key: str, conversation: str | None = None) -> bool:
        """True for the one caller that is to run the turn. Raises ``redis.RedisError``.

        ``conversation`` (the sender id): give the same one, or none, to all three calls."""
        claimed = await self.client.set(
            self._key("turn", message_key, conversation), self.owner, nx=True, px=self.ttl_milliseconds
        )
        return bool(claimed)

    async def publish(self, message_key: str, outcome: TurnOutcome, conversation: str | None = None) -> None:
        """Logs instead of raising: the owner still answers from its own copy, and a
        replica waiting in vain answers ``success``, which loses no delivery it owed."""
        value = json.dumps(
            {"parts": list(outcome.parts), "by_customer_service": outcome.by_customer_service},
            ensure_ascii=False,
        )
        try:
            outcome_key = self._key("outcome", message_key, conversation)
            await self.client.set(outcome_key, value, px=self.ttl_milliseconds)
        except redis.RedisError as error:
            logger.error("Could not publish a WeChat turn's outcome to Redis: %s", type(error).__name__)

    async def wait_for_outcome(
        self, message_key: str, timeout_seconds: float, conversation: str | None = None
    ) -> TurnOutcome | None:
        """The published outcome, or None if none came within ``timeout_seconds`` or Redis failed.

        Polls: retries that reach another replica are rare, each waits at most
        one reply budget, and polling needs no connection of its own (pub/sub would).
        """
        deadline = time.monotonic() + timeout_seconds
        outcome_key = self._key("outcome", message_key, conversation)
        while True:
            try:
                stored = await self.client.get(outcome_key)
            except redis.RedisError as error:
                logger.error("Could not read a WeChat turn's outcome from Redis: %s", type(error).__name__)
                return None
            if stored:
                data = json.loads(stored)
                return TurnOutcome(tuple(data["parts"]), bool(data["by_customer_service"]))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(self.poll_seconds, remaining))


class RedisNonceStore:
    """The WeChat channel's ``NonceStore``: the message each ``(timestamp, nonce)`` pair first carried.

    SET NX and GET run in one transaction, so replicas racing on a pair agree on
    which message came first. Raises ``redis.RedisError``: a pair nobody can
    check must not be taken for a fresh one.
    """

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client

    @staticmethod
    def _key(timestamp: str, nonce: str) -> str:
        # The nonce is whatever the request says; hashed, it cannot shape the key.
        digest = hashlib.sha256(f"{timestamp}:{nonce}".encode()).hexdigest()[:32]
        return f"{KEY_PREFIX}wechat:nonce:{digest}"

    async def remember(self, timestamp: str, nonce: str, message: str, ttl_seconds: float) -> str:
        key = self._key(timestamp, nonce)
        async with self.client.pipeline(transaction=True) as pipeline:
            pipeline.set(key, message, nx=True, px=max(int(ttl_seconds * 1000), 1))
            pipeline.get(key)
            _, first = await pipeline.execute()
        return first


class RecentFailures(NamedTuple):
    """What a console login throttle knows of a user or an address: failures in its window, and the last."""

    count: int
    last: datetime | None


class RedisLoginThrottle:
    """The console's ``LoginThrottle`` in Redis: recent failed sign-ins per user and per IP.

    Each key is a sorted set of failure times, so every replica counts the same
    failures in the same window as the database throttle does. A key expires a
    window after its last failure; a successful sign-in clears the user's set,
    not the IP's. Names and addresses are hashed into the keys, so no user
    input becomes a key.
    """

    def __init__(self, client: redis.Redis, window: timedelta) -> None:
        self.client = client
        self.window = window

    @staticmethod
    def _key(kind: str, value: str) -> str:
        return f"{KEY_PREFIX}console:failed_logins:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"

    def _keys(self, username: str, ip: str) -> tuple[str, str]:
        return self._key("user", username.casefold()), self._key("ip", ip)

    def failures(self, username: str, ip: str, since: datetime) -> tuple[RecentFailures, RecentFailures]:
        """For the user and for the IP; raises ``redis.RedisError`` when Redis cannot say."""
        with self.client.pipeline(transaction=False) as pipeline:
            for key in self._keys(username, ip):
                pipeline.zcount(key, since.timestamp(), "+inf")
                pipeline.zrange(key, -1, -1, withscores=True)
            by_user_count, by_user_last, by_ip_count, by_ip_last = pipeline.execute()
        return _recent(by_user_count, by_user_last, since), _recent(by_ip_count, by_ip_last, since)

    def record(self, username: str, ip: str, succeeded: bool, at: datetime) -> None:
        by_user, by_ip = self._keys(username, ip)
        if succeeded:
            self.client.delete(by_user)
            return
        # Unique members: two replicas may record failures in the same microsecond.
        member = f"{at.timestamp()}:{uuid.uuid4().hex[:8]}"
        with self.client.pipeline(transaction=True) as pipeline:
            for key in (by_user, by_ip):
                pipeline.zadd(key, {member: at.timestamp()})
                pipeline.zremrangebyscore(key, "-inf", f"({(at - self.window).timestamp()}")
                pipeline.pexpire(key, int(self.window.total_seconds() * 1000))
            pipeline.execute()


def _recent(count: int, last: list[tuple[str, float]], since: datetime) -> RecentFailures:
    if not count or not last:
        return RecentFailures(0, None)
    return RecentFailures(count, datetime.fromtimestamp(last[0][1], since.tzinfo))


class RedisSplitNumberGuard:
    """``bot.domain.masking.SplitNumberGuard`` with each conversation's ``SplitState`` in Redis, with a TTL.

    Two messages of one conversation may reach two replicas, so the state is
    read, the message masked and the new state written in one optimistic
    transaction (WATCH, then MULTI/EXEC, retried when another replica wrote the
    key meanwhile). The key is a hash of the sender id, and the state holds no
    digit of the card. If Redis fails, the message is still masked, as the
    first of its conversation: a prefix it ends with is still cut to six
    digits, only its own leading digits are not joined to the previous message.
    """

    def __init__(self, client: redis.asyncio.Redis, ttl_seconds: float, attempts: int = 3) -> None:
        self.client = client
        self.ttl_milliseconds = int(ttl_seconds * 1000)
        self.attempts = attempts

    @staticmethod
    def _key(sender_id: str) -> str:
        return f"{KEY_PREFIX}split:{conversation_hash(sender_id)}"

    async def mask(self, sender_id: str, text: str) -> MaskResult:
        key = self._key(sender_id)
        try:
            async with self.client.pipeline(transaction=True) as pipeline:
                for _ in range(self.attempts):
                    try:
                        await pipeline.watch(key)
                        stored = await pipeline.get(key)
                        previous = SplitState.from_json(stored) if stored else None
                        result, state = mask_continuing(text, previous)
                        if stored is None and state is None:
                            return result  # most messages: nothing was open, nothing is
                        pipeline.multi()
                        if state is None:
                            pipeline.delete(key)
                        else:
                            pipeline.set(key, state.to_json(), px=self.ttl_milliseconds)
                        await pipeline.execute()
                        return result
                    except redis.WatchError:
                        continue
        except redis.RedisError as error:
            logger.error(
                "Could not keep a conversation's split-number state in Redis: %s", type(error).__name__
            )
        return mask_continuing(text, None)[0]


class RedisRateLimiter:
    """``bot.infra.rate_limits.RateLimiter`` shared by replicas: one counter per key and window.

    Keys hold a hash of the conversation or address, never the value itself.
    An unreachable Redis lets the message through: a limit is a guard against
    floods, not a reason to drop a user's message.
    """

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client

    async def allow(self, limit: Limit, key: str) -> bool:
        window = limit.window(time.time())
        counter = f"{KEY_PREFIX}rate:{limit.name}:{conversation_hash(key)}:{window}"
        try:
            async with self.client.pipeline(transaction=True) as pipeline:
                count, _ = await pipeline.incr(counter).expire(counter, limit.seconds * 2).execute()
        except redis.RedisError as error:
            logger.warning("rate limit not checked (%s)", type(error).__name__)
            return True
        return int(count) <= limit.count
