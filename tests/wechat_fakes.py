"""Stand-ins for WeChat's servers and for Rasa, for tests/test_wechat.py and test_wechat_e2e.py.

``WeChatClient`` signs and encrypts the way WeChat's servers do, written from
the protocol with ``cryptography`` and ``hashlib`` (not with wechatpy, which the
channel uses), so the tests are not round trips through one library.
``CustomerServiceApi`` fakes the token and 客服消息 endpoints on 127.0.0.1;
``serving_in_thread`` runs it for tests whose bot is another process.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml.ElementTree import fromstring
from rasa.core.channels.channel import UserMessage
from server_env import free_port

# WeChat's MsgIds are unique across its servers: all simulated clients (one per replica) share one sequence.
_MSG_IDS = itertools.count(6_000_000_000_000_000_000)


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def safe_body(account: str, encrypted: str) -> str:
    return f"<xml><ToUserName>{cdata(account)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>"


def xml_fields(text: str | bytes) -> dict[str, str]:
    return {child.tag: child.text or "" for child in fromstring(text)}


@dataclass
class Answer:
    status: int
    text: str


class WeChatClient:
    """Posts to the channel as WeChat's servers would, in plain or safe mode."""

    def __init__(self, base_url: str, token: str, aes_key: str, appid: str, account: str = "gh_test") -> None:
        self.url = f"{base_url}/webhooks/wechat/webhook"
        self.token = token
        self.key = base64.b64decode(aes_key + "=")
        self.appid = appid
        self.account = account

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str, random: bytes | None = None, appid: str | None = None) -> str:
        body = message.encode()
        plain = (
            (random or os.urandom(16)) + struct.pack(">I", len(body)) + body + (appid or self.appid).encode()
        )
        padding = 32 - len(plain) % 32
        plain += bytes([padding]) * padding
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> tuple[str, str]:
        """The message and the appid it was encrypted for."""
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
        plain = plain[: -plain[-1]]
        (length,) = struct.unpack(">I", plain[16:20])
        return plain[20 : 20 + length].decode(), plain[20 + length :].decode()

    def text(self, openid: str, content: str, msg_id: int | None = None) -> str:
        return self.message(openid, "text", Content=content, MsgId=str(msg_id or next(_MSG_IDS)))

    def message(self, openid: str, kind: str, **fields: str) -> str:
        rest = "".join(f"<{name}>{cdata(value)}</{name}>" for name, value in fields.items())
        return (
            f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
            f"<MsgType><![CDATA[{kind}]]></MsgType>{rest}</xml>"
        )

    def signed_query(self, *, safe: bool, body: str = "", timestamp: str | None = None, **extra: str) -> dict:
        timestamp = timestamp or str(int(time.time()))
        nonce = extra.pop("nonce", str(int.from_bytes(os.urandom(4), "big")))
        query = {"signature": sha1_signature(self.token, timestamp, nonce), "timestamp": timestamp}
        query.update(nonce=nonce, openid="o_query")
        if safe:
            encrypted = xml_fields(body)["Encrypt"]
            query.update(
                encrypt_type="aes", msg_signature=sha1_signature(self.token, timestamp, nonce, encrypted)
            )
        query.update(extra)
        return query

    def seal(self, message: str, **encrypt_options: Any) -> str:
        """A safe-mode body: only ToUserName and the encrypted message."""
        return safe_body(self.account, self.encrypt(message, **encrypt_options))

    async def post(self, message: str, *, safe: bool = False, **query: str) -> Answer:
        body = self.seal(message) if safe else message
        return await self.post_raw(body, self.signed_query(safe=safe, body=body, **query))

    async def post_raw(self, body: str | bytes, query: dict) -> Answer:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{self.url}?{urlencode(query)}", data=body) as answer:
                return Answer(answer.status, await answer.text())

    async def get(self, query: dict) -> Answer:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{self.url}?{urlencode(query)}") as answer:
                return Answer(answer.status, await answer.text())

    def open_reply(self, answer: Answer, nonce: str | None = None) -> dict[str, str]:
        """The reply's fields; a safe-mode reply is checked (signature, appid) and decrypted first."""
        assert answer.status == 200, answer
        fields = xml_fields(answer.text)
        if "Encrypt" not in fields:
            return fields
        assert fields["MsgSignature"] == sha1_signature(
            self.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"]
        )
        if nonce is not None:
            assert fields["Nonce"] == nonce
        message, appid = self.decrypt(fields["Encrypt"])
        assert appid == self.appid
        return xml_fields(message)


@dataclass
class CustomerServiceApi:
    """The stable access_token and custom/send endpoints; ``failures`` scripts answers to sends.

    As WeChat's ``stable_token`` does, a token stays the same for every caller
    until it expires (a scripted 40001/42001 expires it) or a caller forces a
    refresh; only the newest token is accepted.
    """

    appid: str
    appsecret: str
    token_requests: int = 0  # calls to the token endpoint
    tokens_issued: int = 0
    token_expired: bool = False
    sent: list[dict] = field(default_factory=list)
    send_tokens: list[str] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)  # an errcode, or an HTTP status 5xx
    media: dict[str, bytes] = field(default_factory=dict)  # 临时素材 by MediaId: the pictures users sent
    media_requests: int = 0
    base_url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/cgi-bin/stable_token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        app.router.add_get("/cgi-bin/media/get", self._media)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def current_token(self) -> str:
        return f"token-{self.tokens_issued}"

    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.token_requests += 1
        if (body.get("appid"), body.get("secret"), body.get("grant_type")) != (
            self.appid,
            self.appsecret,
            "client_credential",
        ):
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        if self.tokens_issued == 0 or self.token_expired or body.get("force_refresh"):
            self.tokens_issued += 1
            self.token_expired = False
        return web.json_response({"access_token": self.current_token, "expires_in": 7200})

    async def _media(self, request: web.Request) -> web.Response:
        self.media_requests += 1
        if request.query.get("access_token") != self.current_token:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        picture = self.media.get(request.query.get("media_id", ""))
        if picture is None:
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        return web.Response(body=picture, content_type="image/jpeg")

    async def _send(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token", "")
        self.send_tokens.append(token)
        if self.failures:
            failure = self.failures.pop(0)
            if 500 <= failure < 600:
                return web.Response(status=failure)
            self.token_expired = failure in (40001, 42001)
            return web.json_response({"errcode": failure, "errmsg": "scripted failure"})
        if token != self.current_token:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        self.sent.append(await request.json())
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def wait_for(self, count: int) -> list[dict]:
        await eventually(lambda: len(self.sent) >= count)
        return self.sent


@contextmanager
def serving_in_thread(api: CustomerServiceApi) -> Iterator[CustomerServiceApi]:
    """``api`` started on an event loop of its own, which answers whatever the test's thread does."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(api.start(), loop).result(timeout=30)
        yield api
    finally:
        asyncio.run_coroutine_threadsafe(api.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


async def eventually(check: Callable[[], bool], seconds: float = 10) -> None:
    """Waits until ``check()`` holds (background sends), or gives up after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


Script = Callable[[str], list[dict[str, Any]]]


def echo(text: str) -> list[dict[str, Any]]:
    return [{"text": f"收到：{text}"}]


class FakeRasa:
    """Behaves like ``agent.handle_message``: after ``delay`` it sends what ``script`` says."""

    def __init__(self, script: Script = echo, delay: float = 0.0) -> None:
        self.script = script
        self.delay = delay
        self.messages: list[UserMessage] = []
        self.slots: dict[str, dict[str, Any]] = {}

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        await asyncio.sleep(self.delay)
        for reply in self.script(message.text):
            await message.output_channel.send_response(message.sender_id, dict(reply))

    @property
    def texts(self) -> list[str]:
        return [message.text for message in self.messages]

    @property
    def tracker_store(self) -> FakeRasa:
        return self

    async def retrieve(self, sender_id: str) -> Tracker:
        return Tracker(self.slots.get(sender_id, {}))


@dataclass
class Tracker:
    slots: dict[str, Any]

    def get_slot(self, name: str) -> Any:
        return self.slots.get(name)
