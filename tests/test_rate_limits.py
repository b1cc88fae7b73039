"""Rate limits: per conversation in every channel, per client address on the widget's socket.io."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
import socketio
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sanic import Sanic
from server_env import ServerThread

from bot.infra import rate_limits
from bot.infra.rate_limits import PER_ADDRESS, PER_CONVERSATION, InMemoryRateLimiter, Limit
from bot.rasa.channels import guard
from bot.rasa.channels.guard import guard_incoming
from bot.rasa.channels.rest import MaskedRestInput
from bot.rasa.channels.socketio import MaskedSocketIOInput
from bot.storage import redis_state
from bot.storage.redis_state import RedisRateLimiter

pytest_plugins = ["tests.redis_fixtures"]


class Recorder:
    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(self, message: UserMessage) -> None:
        self.texts.append(message.text)
        await message.output_channel.send_text_message(message.sender_id, "bot reply")


@pytest.fixture(autouse=True)
def fresh_limiter() -> Iterator[None]:
    guard.rate_limiter_from_env.cache_clear()
    yield
    guard.rate_limiter_from_env.cache_clear()


async def test_a_window_counts_per_key_and_starts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter, limit = InMemoryRateLimiter(), Limit("test", count=3, seconds=60)
    clock = [1000.0]
    monkeypatch.setattr(rate_limits.time, "time", lambda: clock[0])
    assert [await limiter.allow(limit, "a") for _ in range(4)] == [True, True, True, False]
    assert await limiter.allow(limit, "b")
    clock[0] += 60
    assert await limiter.allow(limit, "a")


async def test_replicas_share_the_count_in_redis(redis_url: str) -> None:
    limit = Limit("test", count=3, seconds=60)
    first = RedisRateLimiter(redis_state.async_client(redis_url))
    second = RedisRateLimiter(redis_state.async_client(redis_url))
    verdicts = [await replica.allow(limit, "web:abc") for replica in (first, second, first, second)]
    assert verdicts == [True, True, True, False]
    keys = await first.client.keys("wushua:rate:*")
    assert keys and all("web:abc" not in key for key in keys)


async def test_an_unreachable_redis_lets_messages_through(unreachable_redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_state.async_client(unreachable_redis_url))
    assert await limiter.allow(Limit("test", count=1, seconds=60), "x")


async def test_a_conversation_over_its_limit_is_answered_politely_and_not_processed() -> None:
    rasa, limiter = Recorder(), InMemoryRateLimiter()
    handler = guard_incoming(rasa, rate_limiter=limiter)
    outputs = []
    for number in range(PER_CONVERSATION.count + 1):
        output = CollectingOutputChannel()
        await handler(UserMessage(f"第{number}条", output, "web:flood"))
        outputs.append(output)
    assert len(rasa.texts) == PER_CONVERSATION.count
    assert "稍等一分钟" in outputs[-1].messages[0]["text"]
    await handler(UserMessage("你好", CollectingOutputChannel(), "web:someone-else"))
    assert rasa.texts[-1] == "你好"


@contextmanager
def served(blueprint_of, **config: object) -> Iterator[str]:
    app = Sanic(f"limits_{uuid.uuid4().hex}")
    app.config.update(config)
    blueprint_of(app)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = ServerThread(app, sock)
    thread.start()
    assert thread.ready.wait(timeout=30)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        thread.stop()


def test_rest_answers_429_beyond_a_conversations_limit() -> None:
    rasa = Recorder()

    def mount(app: Sanic) -> None:
        app.blueprint(MaskedRestInput().blueprint(rasa), url_prefix="/webhooks/rest")

    with served(mount) as base:
        statuses = [
            requests.post(f"{base}/webhooks/rest/webhook", json={"sender": "s", "message": "嗨"}, timeout=30)
            for _ in range(PER_CONVERSATION.count + 1)
        ]
    assert [reply.status_code for reply in statuses[:-1]] == [200] * PER_CONVERSATION.count
    assert statuses[-1].status_code == 429 and "稍等一分钟" in str(statuses[-1].json())


def flood(base: str, headers: dict[str, str], sockets: int, each: int) -> list[str]:
    """Messages from ``sockets`` visitors at one address; the bot's replies, in order."""
    replies: list[str] = []
    for _ in range(sockets):
        client = socketio.Client(reconnection=False)
        client.on("bot_uttered", lambda data: replies.append(data.get("text", "")))
        client.connect(base, headers=headers, transports=["polling"], wait_timeout=30)
        client.emit("session_request", {})
        for number in range(each):
            client.call("user_uttered", {"message": f"第{number}条"}, timeout=30)
        client.eio.disconnect(abort=True)  # a clean disconnect waits out a long-poll (30 s)
    return replies


def test_a_flood_from_one_address_is_slowed_but_not_one_from_loopback() -> None:
    per_address, per_conversation = PER_ADDRESS, PER_CONVERSATION
    rasa = Recorder()

    def mount(app: Sanic) -> None:
        channel = MaskedSocketIOInput(session_persistence=True)
        app.blueprint(channel.blueprint(rasa))

    each = per_conversation.count  # within every conversation's own limit
    sockets = per_address.count // each + 1
    with served(mount, PROXIES_COUNT=1) as base:
        elsewhere = flood(base, {"X-Forwarded-For": "203.0.113.9"}, sockets, each)
        processed_from_elsewhere = len(rasa.texts)
        local = flood(base, {}, sockets, each)
    assert processed_from_elsewhere == per_address.count
    assert sum("稍等一分钟" in reply for reply in elsewhere) == sockets * each - per_address.count
    assert len(rasa.texts) - processed_from_elsewhere == sockets * each
    assert not any("稍等一分钟" in reply for reply in local)
