"""The WeChat Official Account (公众号) channel: ``/webhooks/wechat/webhook``.

Speaks the Official Account server protocol: GET URL verification, POST in
plain, compatible and safe mode (``encrypt_type=aes``, crypto by wechatpy),
passive replies within WeChat's 5-second window and the customer-service
message API (客服消息) for anything slower or longer. Each OpenID is one
conversation, ``wechat:<OpenID>`` to Rasa; text, voice recognition and
numbered-menu choices go through the shared guard, so secrets are masked
before Rasa sees them.

``encrypt_mode`` says which POSTs are accepted: ``safe`` only encrypted ones,
``compat`` encrypted and plain, ``plain`` plain (encrypted ones too when an
AES key is set). A plain POST's signature covers no body, so in ``safe`` mode
one is refused, and in every mode a ``(timestamp, nonce)`` pair is accepted
with one message only, until its timestamp leaves the freshness window.

One process keeps menus, nonces and in-flight turns in memory. With
``REDIS_URL`` set, replicas share them through Redis (``bot/storage/redis_state.py``),
so a retry or a menu choice may reach any replica.

An empty ``token`` disables the channel: its webhook answers 404.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
import unicodedata
import xml.etree.ElementTree as ElementTree
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import redis
import redis.asyncio
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.utils import WeChatSigner

from bot.domain.delivery import SEND_FAILED, WECHAT_WINDOW_CLOSED, Delivery
from bot.domain.responses import response_text
from bot.infra import receipt_intake
from bot.infra.identity import conversation_id
from bot.infra.server_secret import keyed_hash
from bot.rasa.channels import outbound
from bot.rasa.channels.guard import Handler, guard_incoming
from bot.rasa.channels.outbound import Outgoing
from bot.storage import process_store, redis_state
from bot.storage.redis_state import RedisMenuStore, RedisNonceStore, RedisTurnLedger, TurnOutcome

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
ENCRYPT_MODES = ("safe", "compat", "plain")
# Rasa's sender ids are shared by all channels: a prefix keeps WeChat users apart from the others.
# 客服消息 may be sent only this long after the user's last message.
CUSTOMER_SERVICE_WINDOW_SECONDS = 48 * 3600
MAX_TEXT_BYTES = 2047  # WeChat drops text messages of 2048 bytes (UTF-8) or more
DEDUPE_SECONDS = 300  # WeChat retries within ~15 s; keep finished turns well past that
MENU_TTL_SECONDS = 24 * 3600
TOKEN_MARGIN_SECONDS = 300
TOKEN_EXPIRED = frozenset({40001, 40014, 42001})
RETRYABLE = frozenset({-1, 45009, 45011})  # system busy, API rate limits
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BREAKS = (re.compile(r"(?<=\n\n)"), re.compile(r"(?<=\n)"), re.compile(r"(?<=[。！？；])"))


class Refused(Exception):
    """A request that must not reach Rasa; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def parse_xml(body: bytes | str) -> dict[str, str]:
    """The children of a WeChat ``<xml>`` document; no DTD, no entities."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as error:
        raise Refused(400, f"unusable XML ({type(error).__name__})") from None
    if root.tag != "xml":
        raise Refused(400, "root element is not <xml>")
    return {child.tag: child.text or "" for child in root}


def cdata(text: str) -> str:
    """Text as CDATA that survives any content, ``]]>`` included."""
    return "<![CDATA[" + _XML_ILLEGAL.sub("", text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(to_user: str, from_user: str, content: str) -> str:
    return (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName><FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>{cdata('text')}</MsgType>"
        f"<Content>{cdata(content)}</Content></xml>"
    )


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Parts of at most ``limit`` UTF-8 bytes, cut at the widest boundary that fits:
    paragraph, line, sentence, then character."""
    return [part.strip() for part in _split(text.strip(), limit, 0) if part.strip()]


def _split(text: str, limit: int, level: int) -> list[str]:
    if len(text.encode()) <= limit:
        return [text]
    if level == len(_BREAKS):
        parts, current = [], ""
        for char in text:
            if len((current + char).encode()) > limit:
                parts.append(current)
                current = ""
            current += char
        return [*parts, current]
    parts, current = [], ""
    for piece in filter(None, _BREAKS[level].split(text)):
        if len((current + piece).encode()) <= limit:
            current += piece
            continue
        parts.append(current)
        current = ""
        if len(piece.encode()) <= limit:
            current = piece
        else:
            parts.extend(_split(piece, limit, level + 1))
    return [*parts, current]


def resolve_encrypt_mode(configured: str, aes_key: str) -> str:
    """The mode to run in; empty means ``safe`` with an AES key, else ``plain``.

    Raises ValueError, so Rasa does not start with a mode it cannot keep.
    """
    mode = configured.strip().lower() or ("safe" if aes_key else "plain")
    if mode not in ENCRYPT_MODES:
        modes = ", ".join(ENCRYPT_MODES)
        raise ValueError(f"WECHAT_ENCRYPT_MODE is {configured!r}; it must be one of {modes}")
    if mode != "plain" and not aes_key:
        raise ValueError(f"WECHAT_ENCRYPT_MODE {mode} needs WECHAT_AES_KEY (the EncodingAESKey)")
    return mode


def user_ref(openid: str) -> str:
    """An OpenID as it may appear in logs: keyed with the server secret, so a log
    reader can follow one user through the log but cannot link it to the OpenID."""
    return keyed_hash("wechat-user-ref", openid)[:16]


def _signed(expected: str, *parts: str) -> bool:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return hmac.compare_digest(signer.signature.encode(), expected.encode())


class MenuStore(Protocol):
    """The payloads of the numbered menu last shown to each user: in memory, or
    ``RedisMenuStore`` (``bot/storage/redis_state.py``) when replicas share them."""

    async def save(self, user: str, payloads: list[str]) -> None: ...

    async def load(self, user: str) -> list[str]: ...


class InMemoryMenuStore:
    def __init__(self, ttl_seconds: float = MENU_TTL_SECONDS, max_users: int = 100_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_users = max_users
        self._menus: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()

    async def save(self, user: str, payloads: list[str]) -> None:
        self._menus.pop(user, None)
        if payloads:
            self._menus[user] = (time.monotonic() + self.ttl_seconds, list(payloads))
            while len(self._menus) > self.max_users:
                self._menus.popitem(last=False)

    async def load(self, user: str) -> list[str]:
        expires, payloads = self._menus.get(user, (0.0, []))
        return payloads if time.monotonic() < expires else []


class NonceStore(Protocol):
    """The message each ``(timestamp, nonce)`` pair first carried: in memory, or
    ``RedisNonceStore`` (``bot/storage/redis_state.py``) when replicas share them."""

    async def remember(self, timestamp: str, nonce: str, message: str, ttl_seconds: float) -> str:
        """``message`` when the pair is new (it is then kept ``ttl_seconds``), else the first one's."""
        ...


class InMemoryNonceStore:
    def __init__(self, max_pairs: int = 100_000) -> None:
        self.max_pairs = max_pairs
        self._pairs: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    async def remember(self, timestamp: str, nonce: str, message: str, ttl_seconds: float) -> str:
        now = time.monotonic()
        expires, first = self._pairs.get((timestamp, nonce), (0.0, ""))
        if now < expires:
            return first
        # Roughly oldest first; beyond ``max_pairs`` messages in one freshness window
        # the oldest pairs go early, a lesser harm than memory without bound.
        while self._pairs and (len(self._pairs) >= self.max_pairs or self._oldest_expiry() <= now):
            self._pairs.popitem(last=False)
        self._pairs[(timestamp, nonce)] = (now + ttl_seconds, message)
        return message

    def _oldest_expiry(self) -> float:
        return next(iter(self._pairs.values()))[0]


class WeChatOutput(OutputChannel):
    """Collects one turn's messages into a WeChat text reply with a numbered menu."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.payloads: list[str] = []

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        if text and text.strip():
            self.texts.append(text.strip())

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        menu = []
        for button in buttons:
            self.payloads.append(button.get("payload") or button["title"])
            line = response_text("utter_wechat_menu_line")
            menu.append(line.format(number=len(self.payloads), title=button["title"]))
        self.texts.append("\n\n".join(filter(None, [(text or "").strip(), "\n".join(menu)])))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        """Custom payloads are for the web widget (e.g. the checklist link); WeChat shows none."""

    def reply_parts(self) -> list[str]:
        return split_text("\n\n".join(self.texts))


class WeChatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode = errcode


def describe(error: BaseException) -> str:
    """An error for the logs: aiohttp's messages carry URLs with the access token or the secret."""
    return str(error) if isinstance(error, WeChatApiError) else type(error).__name__


class PictureTooLarge(ValueError):
    """A picture larger than the bot reads."""


class CustomerServiceApi:
    """Sends text through 客服消息, with a cached access_token and retries."""

    def __init__(
        self, api_base: str, appid: str, appsecret: str, attempts: int = 4, backoff_seconds: float = 0.5
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.appid = appid
        self.appsecret = appsecret
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def access_token(self) -> str:
        """WeChat's *stable* access token, kept until shortly before it expires.

        Every replica and every sender gets the same token from
        ``/cgi-bin/stable_token`` while it is valid, so none invalidates
        another's (``/cgi-bin/token`` issues a new one per call and ends the
        previous one for everybody).
        """
        if not self.appsecret:
            raise WeChatApiError(41004, "no appsecret configured")
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                body = {
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.appsecret,
                    "force_refresh": False,
                }
                async with self._http().post(f"{self.api_base}/cgi-bin/stable_token", json=body) as answer:
                    answer.raise_for_status()
                    data = await answer.json(content_type=None)
                if "access_token" not in data:
                    raise WeChatApiError(int(data.get("errcode", -1)), str(data.get("errmsg", "")))
                lifetime = int(data.get("expires_in", 7200))
                self._token = data["access_token"]
                self._expires_at = time.monotonic() + max(lifetime - TOKEN_MARGIN_SECONDS, lifetime / 2)
            return self._token

    def _forget(self, token: str) -> None:
        if self._token == token:
            self._token = None

    async def media(self, media_id: str, limit: int) -> bytes:
        """A picture the user sent (临时素材, kept by WeChat for 3 days), at most ``limit`` bytes.

        WeChat answers the bytes, or JSON with an ``errcode``; an expired token is renewed once.
        """
        for _ in range(2):
            token = await self.access_token()
            query = {"access_token": token, "media_id": media_id}
            async with self._http().get(f"{self.api_base}/cgi-bin/media/get", params=query) as answer:
                answer.raise_for_status()
                if answer.content_type in ("application/json", "text/plain"):
                    data = await answer.json(content_type=None)
                    error = WeChatApiError(int(data.get("errcode", -1)), str(data.get("errmsg", "")))
                    if error.errcode in TOKEN_EXPIRED:
                        self._forget(token)
                        continue
                    raise error
                if (answer.content_length or 0) > limit:
                    raise PictureTooLarge(answer.content_length or 0)
                body = bytearray()
                async for chunk in answer.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > limit:
                        raise PictureTooLarge(len(body))
                return bytes(body)
        raise WeChatApiError(42001, "access token expired twice")

    async def send_text(self, openid: str, content: str) -> None:
        message = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        # WeChat shows \\u escapes literally, so the body is sent as raw UTF-8.
        body = json.dumps(message, ensure_ascii=False).encode()
        error: Exception = WeChatApiError(-1, "no attempt made")
        for attempt in range(self.attempts):
            try:
                token = await self.access_token()
                url = f"{self.api_base}/cgi-bin/message/custom/send"
                headers = {"Content-Type": "application/json; charset=utf-8"}
                async with self._http().post(
                    url, params={"access_token": token}, data=body, headers=headers
                ) as answer:
                    answer.raise_for_status()
                    data = await answer.json(content_type=None)
                errcode = int(data.get("errcode", 0))
                if errcode == 0:
                    return
                error = WeChatApiError(errcode, str(data.get("errmsg", "")))
                if errcode in TOKEN_EXPIRED:
                    self._forget(token)
                    continue
            except WeChatApiError as failure:
                error = failure
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as failure:
                error = failure
            if isinstance(error, WeChatApiError) and error.errcode not in RETRYABLE | TOKEN_EXPIRED:
                raise error
            await asyncio.sleep(self.backoff_seconds * 2**attempt)
        raise error


@dataclass
class Turn:
    """One Rasa turn for one WeChat message, shared by WeChat's retries of it in this process."""

    task: asyncio.Task[TurnOutcome] = field(init=False)
    started: float = field(default_factory=time.monotonic)
    # Set when a request gives up waiting: from then on the reply goes by 客服消息.
    by_customer_service: bool = False


class WeChatInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        optional = {
            key: cast(credentials[key])
            for key, cast in (
                ("freshness_seconds", float),
                ("reply_budget_seconds", float),
                ("max_body_bytes", int),
            )
            if credentials.get(key) not in (None, "")
        }
        redis_url = redis_state.redis_url_from_env()
        return cls(
            token=credentials.get("token") or "",
            appid=credentials.get("appid") or "",
            aes_key=credentials.get("aes_key") or "",
            encrypt_mode=credentials.get("encrypt_mode") or "",
            appsecret=credentials.get("appsecret") or "",
            api_base=credentials.get("api_base") or DEFAULT_API_BASE,
            redis_client=redis_state.async_client(redis_url) if redis_url else None,
            **optional,
        )

    def __init__(
        self,
        token: str,
        appid: str = "",
        aes_key: str = "",
        encrypt_mode: str = "",
        appsecret: str = "",
        api_base: str = DEFAULT_API_BASE,
        freshness_seconds: float = 300,
        reply_budget_seconds: float = 4.5,
        max_body_bytes: int = 64 * 1024,
        redis_client: redis.asyncio.Redis | None = None,
    ) -> None:
        self.token = token
        self.appid = appid
        self.freshness_seconds = freshness_seconds
        self.reply_budget_seconds = reply_budget_seconds
        self.max_body_bytes = max_body_bytes
        self.encrypt_mode = resolve_encrypt_mode(encrypt_mode, aes_key)
        self.crypto = WeChatCrypto(token, aes_key, appid) if token and aes_key else None
        self.api = CustomerServiceApi(api_base, appid, appsecret)
        self.redis_client = redis_client
        self.menus: MenuStore = InMemoryMenuStore()
        self.nonces: NonceStore = InMemoryNonceStore()
        # Without Redis, WeChat's retries all reach this process and ``_turns`` alone dedupes them.
        self.ledger: RedisTurnLedger | None = None
        if redis_client is not None:
            self.menus = RedisMenuStore(redis_client, MENU_TTL_SECONDS)
            self.nonces = RedisNonceStore(redis_client)
            self.ledger = RedisTurnLedger(redis_client, DEDUPE_SECONDS)
        self._turns: dict[str, Turn] = {}
        self._background: set[asyncio.Task[None]] = set()

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        webhook = Blueprint("wechat_webhook", __name__)
        handler = guard_incoming(on_new_message)
        if self.token:
            outbound.register("wechat", self.push)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.token else "disabled"})

        @webhook.route("/webhook", methods=["GET", "POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            if not self.token:
                return response.text("not found", status=404)
            try:
                if request.method == "GET":
                    return self._verify_url(request)
                return await self._receive(request, handler)
            except Refused as refusal:
                logger.warning("WeChat request from %s refused (%s): %s", request.ip, refusal.status, refusal)
                return response.text(str(refusal), status=refusal.status)

        @webhook.listener("after_server_stop")
        async def close(app: Sanic, loop: asyncio.AbstractEventLoop) -> None:
            await self.api.close()
            if self.redis_client is not None:
                await self.redis_client.close()

        return webhook

    async def push(self, conversation: str, message: Outgoing) -> Delivery:
        """A message outside the user's turn, as 客服消息: WeChat allows them for 48 hours after the
        user's last message (errcode 45015 after that), so an older conversation is not tried."""
        last = message.last_user_message_at
        if last is None or time.time() - last > CUSTOMER_SERVICE_WINDOW_SECONDS:
            return Delivery.undelivered(WECHAT_WINDOW_CLOSED)
        openid = conversation.partition(":")[2]
        output = WeChatOutput()
        if message.buttons:
            await output.send_text_with_buttons(openid, message.text, message.buttons)
        else:
            await output.send_text_message(openid, message.text)
        try:
            for part in output.reply_parts():
                await self.api.send_text(openid, part)
        except (WeChatApiError, aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.error("A 客服消息 to %s outside its turn failed: %s", user_ref(openid), describe(error))
            return Delivery.undelivered(SEND_FAILED)
        if output.payloads:
            await self.menus.save(openid, output.payloads)
        return Delivery.ok()

    def _check_timestamp(self, request: Request) -> str:
        timestamp = request.args.get("timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > self.freshness_seconds:
            raise Refused(403, "timestamp missing or outside the freshness window")
        return timestamp

    def _verify_url(self, request: Request) -> HTTPResponse:
        timestamp = self._check_timestamp(request)
        nonce = request.args.get("nonce", "")
        if not _signed(request.args.get("signature", ""), self.token, timestamp, nonce):
            raise Refused(403, "bad signature on URL verification")
        return response.text(request.args.get("echostr", ""))

    async def _read_body(self, request: Request) -> bytes:
        if int(request.headers.get("content-length") or 0) > self.max_body_bytes:
            raise Refused(413, "body too large")
        body = b""
        while (chunk := await request.stream.read()) is not None:
            body += chunk
            if len(body) > self.max_body_bytes:
                raise Refused(413, "body too large")
        return body

    async def _open(self, request: Request) -> dict[str, str]:
        """The verified, decrypted message; Refused when anything is off."""
        body = await self._read_body(request)
        timestamp = self._check_timestamp(request)
        nonce = request.args.get("nonce", "")
        if request.args.get("encrypt_type", "raw") != "aes":
            if self.encrypt_mode == "safe":
                raise Refused(403, "plain request in safe mode")
            if not _signed(request.args.get("signature", ""), self.token, timestamp, nonce):
                raise Refused(403, "bad signature")
            return parse_xml(body)
        if self.crypto is None:
            raise Refused(400, "safe mode is not configured (no aes_key)")
        encrypted = parse_xml(body).get("Encrypt", "")
        signature = request.args.get("msg_signature", "")
        if not encrypted or not _signed(signature, self.token, timestamp, nonce, encrypted):
            raise Refused(403, "bad msg_signature")
        try:
            plain = self.crypto.decrypt_message({"Encrypt": encrypted}, signature, timestamp, nonce)
        except InvalidAppIdException:
            raise Refused(403, "message for another appid") from None
        except Exception as error:  # wechatpy leaves bad padding or base64 to whatever breaks first
            raise Refused(400, f"cannot decrypt ({type(error).__name__})") from None
        return parse_xml(plain.encode())

    def _reply(self, request: Request, message: dict[str, str], content: str | None) -> HTTPResponse:
        if not content:
            return response.text("success")
        xml = text_reply_xml(message.get("FromUserName", ""), message.get("ToUserName", ""), content)
        if request.args.get("encrypt_type") == "aes" and self.crypto is not None:
            xml = self.crypto.encrypt_message(xml, request.args.get("nonce", ""), str(int(time.time())))
        return response.text(xml, content_type="application/xml; charset=utf-8")

    async def _receive(self, request: Request, handler: Handler) -> HTTPResponse:
        started = time.monotonic()
        message = await self._open(request)
        openid = message.get("FromUserName", "")
        if not openid:
            raise Refused(400, "no FromUserName")
        # WeChat retries a message with its MsgId; events have none, so their sender and time stand in.
        key = message.get("MsgId") or f"{openid}:{message.get('CreateTime', '')}"
        await self._check_nonce(request, key)
        kind, event = message.get("MsgType", ""), message.get("Event", "").lower()
        if kind == "event":
            if event == "subscribe":
                return self._reply(request, message, response_text("utter_wechat_welcome"))
            if event == "unsubscribe":
                await self.menus.save(openid, [])
            return self._reply(request, message, None)
        text = message.get("Content", "") if kind == "text" else message.get("Recognition", "")
        picture = message.get("MediaId", "") if kind == "image" else ""
        if not picture and (kind not in ("text", "voice") or not text.strip()):
            return self._reply(request, message, response_text("utter_wechat_text_only"))

        turn = self._turns.get(key)
        if turn is None:
            # Shared state names the conversation (hashed), so that erasing it finds its keys.
            conversation = conversation_id(self.name(), openid)
            if not await self._claim(key, conversation):
                return self._reply(request, message, await self._reply_from_owner(key, conversation, started))
            work = (
                self._run_picture_turn(handler, openid, picture, key)
                if picture
                else self._run_turn(handler, openid, text, key, kind)
            )
            turn = self._start(key, conversation, work)
        remaining = self.reply_budget_seconds - (time.monotonic() - started)
        try:
            await asyncio.wait({turn.task}, timeout=max(remaining, 0))
        except asyncio.CancelledError:  # WeChat hung up: the reply still has to reach the user
            self._deliver_later(request.app, turn, openid, key)
            raise
        if turn.task.done():
            outcome = turn.task.result()
            if not outcome.by_customer_service:
                return self._reply(request, message, _passive_content(outcome))
        self._deliver_later(request.app, turn, openid, key)
        # Reading a picture takes longer than WeChat waits: say so now, the reading follows.
        meanwhile = response_text("utter_wechat_reading_picture") if picture else None
        return self._reply(request, message, meanwhile)

    async def _check_nonce(self, request: Request, key: str) -> None:
        """Refuses a ``(timestamp, nonce)`` pair that came with another message.

        A plain-mode signature covers the pair but not the body, so whoever saw one
        signed URL could otherwise post any message with it while it is fresh.
        """
        timestamp, nonce = request.args.get("timestamp", ""), request.args.get("nonce", "")
        # Kept until the timestamp is no longer fresh, and a second beyond.
        ttl_seconds = int(timestamp) + self.freshness_seconds - time.time() + 1
        try:
            first = await self.nonces.remember(timestamp, nonce, key, ttl_seconds)
        except redis.RedisError as error:
            if key in self._turns:  # a retry this process answers from memory: it starts nothing
                return
            # As in ``_claim``: WeChat retries a 5xx, and nothing has run.
            raise Refused(503, f"shared state unavailable ({type(error).__name__})") from None
        if first != key:
            raise Refused(403, "timestamp and nonce already used for another message")

    async def _claim(self, key: str, conversation: str) -> bool:
        """Whether this replica runs the turn for ``key`` (always, without Redis)."""
        if self.ledger is None:
            return True
        try:
            return await self.ledger.claim(key, conversation)
        except redis.RedisError as error:
            # Without the claim, running the turn here could run it twice (a retry on
            # another replica cannot see it), and any answer, even ``success``,
            # would make WeChat drop the message.
            # A 5xx makes WeChat retry in 5 s, up to three times: the turn has not run,
            # so that is safe, and a short outage (a Redis restart) costs the user
            # nothing. A longer one ends with WeChat's own notice to the user that
            # the account cannot answer right now.
            raise Refused(503, f"shared state unavailable ({type(error).__name__})") from None

    async def _reply_from_owner(self, key: str, conversation: str, started: float) -> str | None:
        """Another replica runs this message's turn: its passive reply if ready within the
        budget, else None (``success``), and the owner delivers it by 客服消息 as usual."""
        assert self.ledger is not None
        remaining = self.reply_budget_seconds - (time.monotonic() - started)
        outcome = await self.ledger.wait_for_outcome(key, max(remaining, 0), conversation)
        if outcome is None or outcome.by_customer_service:
            return None
        return _passive_content(outcome)

    def _start(self, key: str, conversation: str, work: Awaitable[list[str]]) -> Turn:
        now = time.monotonic()
        for old in [k for k, t in self._turns.items() if t.task.done() and now - t.started > DEDUPE_SECONDS]:
            del self._turns[old]
        turn = self._turns[key] = Turn()
        turn.task = asyncio.ensure_future(self._settle(key, conversation, turn, work))
        return turn

    async def _settle(
        self, key: str, conversation: str, turn: Turn, work: Awaitable[list[str]]
    ) -> TurnOutcome:
        """The turn's outcome, decided once, as it ends, and shared with other replicas.

        No ``await`` between reading ``by_customer_service`` and returning: a request
        that gives up waiting either sees the task done or changes the outcome.
        Publishing runs beside, so a slow Redis cannot delay this process's reply.
        """
        parts = await work
        outcome = TurnOutcome(tuple(parts), by_customer_service=turn.by_customer_service or len(parts) > 1)
        if self.ledger is not None:
            self._in_background(self.ledger.publish(key, outcome, conversation))
        return outcome

    async def _run_turn(self, handler: Handler, openid: str, text: str, key: str, kind: str) -> list[str]:
        output = WeChatOutput()
        choice = unicodedata.normalize("NFKC", text).strip()
        menu = await self.menus.load(openid)
        if choice.isdecimal() and 1 <= int(choice) <= len(menu):
            text = menu[int(choice) - 1]
        try:
            await handler(
                UserMessage(
                    text,
                    output,
                    conversation_id(self.name(), openid),
                    input_channel=self.name(),
                    message_id=key,
                    metadata={"wechat_msg_type": kind},
                )
            )
        except Exception as error:
            logger.error(
                "Rasa failed on WeChat message %s from %s: %s", key, user_ref(openid), describe(error)
            )
        await self.menus.save(openid, output.payloads)
        return output.reply_parts()

    async def _run_picture_turn(self, handler: Handler, openid: str, media_id: str, key: str) -> list[str]:
        """A picture: fetched from WeChat, read, cleaned and kept, then the turn that shows
        what was read (``bot/infra/receipt_intake.py``)."""
        conversation = conversation_id(self.name(), openid)
        try:
            data = await self.api.media(media_id, receipt_intake.MAX_IMAGE_BYTES)
        except PictureTooLarge:
            return [response_text("utter_receipt_too_large")]
        except Exception as error:
            logger.error("WeChat picture %s from %s not fetched: %s", key, user_ref(openid), describe(error))
            return [response_text("utter_wechat_picture_unavailable")]
        taken = await receipt_intake.take_in(process_store(), conversation, self.name(), data)
        if isinstance(taken, receipt_intake.Refusal):
            return [response_text(taken.response)]
        return await self._run_turn(handler, openid, receipt_intake.RECEIPT_SENT, key, "image")

    def _deliver_later(self, app: Sanic, turn: Turn, openid: str, key: str) -> None:
        if turn.by_customer_service:
            return
        turn.by_customer_service = True
        self._in_background(self._deliver(app, turn, openid, key))

    def _in_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _deliver(self, app: Sanic, turn: Turn, openid: str, key: str) -> None:
        outcome = await turn.task
        if not outcome.by_customer_service:
            return  # finished just before WeChat hung up: its retry gets the passive reply
        parts = outcome.parts
        for number, part in enumerate(parts, start=1):
            try:
                await self.api.send_text(openid, part)
            except Exception as error:
                logger.error(
                    "WeChat customer-service send failed: case %s, user %s, message %s, part %d/%d: %s",
                    await _case_id(app, conversation_id(self.name(), openid)),
                    user_ref(openid),
                    key,
                    number,
                    len(parts),
                    describe(error),
                )
                return


def _passive_content(outcome: TurnOutcome) -> str | None:
    return outcome.parts[0] if outcome.parts else None


async def _case_id(app: Sanic, sender: str) -> str | None:
    """The conversation's current case, for logs (from Rasa's tracker store when there is one)."""
    store = getattr(getattr(app.ctx, "agent", None), "tracker_store", None)
    try:
        tracker = await store.retrieve(sender) if store is not None else None
    except Exception:
        return None
    return tracker.get_slot("case_id") if tracker is not None else None
