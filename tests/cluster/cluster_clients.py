"""Simulated users for the fault test: scripted conversations over REST and socket.io, with retries.

A turn is *acknowledged* when the server confirmed it had finished with the
message: a 200 from the REST webhook, or the socket.io ack of the
``user_uttered`` event (python-socketio on the server sends it when Rasa's
handler returns, after the tracker was saved). Only acknowledged messages are promised to be
in the tracker.

When the balancer answers 502/503/504 (a replica killed; 503 is also a
replica's own answer when PostgreSQL or Redis cannot be reached), the
connection fails, the websocket drops (its replica was killed), or the ack
says the turn failed, the client sends the same message again, like a user
pressing "send" again. The first attempt may have been
processed before the failure, so a retried message may appear twice in the
tracker; a message that was never retried may not.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

from bench.load import Conversation

RETRIED_STATUSES = frozenset({502, 503, 504})
MAX_ATTEMPTS = 12
# Longer than the balancer's 300 s read timeout, so a slow turn ends as the
# balancer's 504 (counted) rather than a client-side guess.
REQUEST_TIMEOUT_SECONDS = 330
CONNECT_TIMEOUT_SECONDS = 20
# utter_case_created: the id somewhere on its first line, then the kind and its facts line.
CASE_CONFIRMATION = re.compile(r"案件号 (WS-\d{8}-\d{4})[^\n]*\n([^\n：]+)(?:：([^\n]*))?")


@dataclass
class SentMessage:
    """One message the user sent, however many attempts it took."""

    text: str
    request_id: str = ""  # sent as X-Request-Id, with the attempt number, for the balancer's log
    attempts: int = 0
    failures: list[str] = field(default_factory=list)  # "502", "ClientOSError", "disconnect", …
    # Each failed attempt's (sent, failed) time.time(), to tell which fault it met.
    failed_at: list[tuple[float, float]] = field(default_factory=list)
    acknowledged: bool = False
    replies: list[str] = field(default_factory=list)
    expect: str | None = None

    def failed(self, reason: str, sent_at: float) -> None:
        self.failures.append(reason)
        self.failed_at.append((sent_at, time.time()))

    @property
    def retried(self) -> bool:
        return self.attempts > 1

    @property
    def off_script(self) -> bool:
        return self.acknowledged and self.expect is not None and self.expect not in "\n".join(self.replies)


@dataclass(frozen=True)
class ToldCase:
    """A case id the user was given, with the kind and facts line they were shown."""

    case_id: str
    kind_label: str
    facts: tuple[str, ...]


@dataclass
class ConversationRun:
    sender: str  # the conversation's id in Rasa: rest:<the client's sender>, web:<the server's session id>
    transport: str  # "rest" or "socketio"
    script: str
    messages: list[SentMessage] = field(default_factory=list)
    double_greeting: bool = False
    resumed_elsewhere: bool = False  # socket.io only: a reconnect was given a new session

    @property
    def completed(self) -> bool:
        return all(message.acknowledged for message in self.messages)

    def told_cases(self) -> list[ToldCase]:
        told = []
        for message in self.messages:
            for match in CASE_CONFIRMATION.finditer("\n".join(message.replies)):
                facts = tuple(part for part in (match[3] or "").split("｜") if part)
                told.append(ToldCase(match[1], match[2], facts))
        return told


@dataclass
class Progress:
    """Acknowledged messages so far, across all users; the fault test kills replicas by it."""

    acknowledged: int = 0


def _backoff(attempt: int) -> float:
    return min(0.25 * 2**attempt, 5.0)


class RestUser:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, progress: Progress) -> None:
        self.session = session
        self.progress = progress
        self.webhook = f"{base_url}/webhooks/rest/webhook"

    async def send(self, sender: str, message: SentMessage) -> None:
        while message.attempts < MAX_ATTEMPTS:
            message.attempts += 1
            sent_at = time.time()
            try:
                async with self.session.post(
                    self.webhook,
                    json={"sender": sender.removeprefix("rest:"), "message": message.text},
                    headers={"X-Request-Id": f"{message.request_id}/{message.attempts}"},
                ) as reply:
                    body = await reply.text()
                    if reply.status == 200:
                        message.replies = [item.get("text", "") for item in json.loads(body)]
                        message.acknowledged = True
                        self.progress.acknowledged += 1
                        return
                    message.failed(str(reply.status), sent_at)
                    if reply.status not in RETRIED_STATUSES:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                message.failed(type(error).__name__, sent_at)
            await asyncio.sleep(_backoff(message.attempts))


class WebsocketClosed(ConnectionError):
    pass


class TurnFailed(Exception):
    """The server acknowledged the message with an error: the turn failed, nothing was promised."""


class SocketIOUser:
    """One widget-like client: socket.io over websocket only, session persistence, reconnects.

    It speaks the protocol itself (Engine.IO 4 packets over an aiohttp
    websocket: ``0`` open, ``2``/``3`` ping/pong, ``40`` namespace connect,
    ``42[event, data]``, ``42<id>[…]`` with an ack that comes back as
    ``43<id>[…]``) because python-engineio's websocket transport needs aiohttp
    3.10, and Rasa 3.6 pins 3.9.
    """

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, run: ConversationRun, progress: Progress
    ) -> None:
        self.session = session
        self.url = f"{base_url}/socket.io/?EIO=4&transport=websocket"
        self.run = run
        # Issued by the server on the first connection; shown again to resume after a reconnect.
        self.resume: dict[str, str] = {}
        self.progress = progress
        self.websocket: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task | None = None
        self.replies: list[str] = []
        self.acks: dict[int, asyncio.Future] = {}
        self.next_ack = 0
        self.confirmed = asyncio.Event()

    async def _connect(self) -> None:
        self.websocket = await self.session.ws_connect(self.url, timeout=CONNECT_TIMEOUT_SECONDS)
        self.confirmed = asyncio.Event()
        self.reader = asyncio.ensure_future(self._read(self.websocket))
        await self.websocket.send_str("40")
        await self.websocket.send_str("42" + json.dumps(["session_request", self.resume]))
        await asyncio.wait_for(self.confirmed.wait(), CONNECT_TIMEOUT_SECONDS)

    async def _read(self, websocket: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for frame in websocket:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    break
                packet: str = frame.data
                if packet == "2":
                    await websocket.send_str("3")
                elif packet.startswith("42"):
                    # "42<id>[…]": the server asks for an ack (a message outside a turn); the widget gives it.
                    ack_id = re.match(r"\d*", packet[2:])[0]
                    name, *data = json.loads(packet[2 + len(ack_id) :])
                    if ack_id:
                        await websocket.send_str(f"43{ack_id}[]")
                    if name == "bot_uttered" and data:
                        self.replies.append(
                            data[0].get("text", "") if isinstance(data[0], dict) else str(data[0])
                        )
                    elif name == "session_confirm" and data and isinstance(data[0], dict):
                        self._confirmed(data[0])
                elif packet.startswith("43"):
                    ack_id = re.match(r"\d+", packet[2:])[0]
                    if (waiting := self.acks.pop(int(ack_id), None)) and not waiting.done():
                        waiting.set_result(json.loads(packet[2 + len(ack_id) :]))
        finally:
            for waiting in self.acks.values():
                if not waiting.done():
                    waiting.set_exception(WebsocketClosed("websocket closed before the ack"))
            self.acks.clear()

    def _confirmed(self, session: dict[str, str]) -> None:
        conversation = f"web:{session['session_id']}"
        if self.resume and conversation != self.run.sender:
            # The server refused to resume: the rest of the script would land in
            # another conversation, which the tracker checks would report as lost.
            self.run.resumed_elsewhere = True
        self.run.sender = conversation
        self.resume = session
        self.confirmed.set()

    async def close(self) -> None:
        websocket, self.websocket = self.websocket, None
        if websocket is not None:
            await websocket.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)
            self.reader = None

    async def send(self, message: SentMessage) -> None:
        while message.attempts < MAX_ATTEMPTS:
            message.attempts += 1
            sent_at = time.time()
            try:
                if self.websocket is None or self.websocket.closed:
                    await self.close()
                    await self._connect()
                assert self.websocket is not None
                self.replies = []
                self.next_ack += 1
                acknowledged = self.acks[self.next_ack] = asyncio.get_running_loop().create_future()
                payload = ["user_uttered", {"message": message.text}]
                await self.websocket.send_str(f"42{self.next_ack}" + json.dumps(payload))
                ack = await asyncio.wait_for(acknowledged, REQUEST_TIMEOUT_SECONDS)
                if ack and isinstance(ack[0], dict) and ack[0].get("error"):
                    raise TurnFailed(ack[0]["error"])
                message.replies = list(self.replies)
                message.acknowledged = True
                self.progress.acknowledged += 1
                return
            except WebsocketClosed:
                message.failed("disconnect", sent_at)
            except TurnFailed:
                message.failed("turn failed", sent_at)
            except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as error:
                message.failed(type(error).__name__, sent_at)
            await self.close()
            await asyncio.sleep(_backoff(message.attempts))


def conversation_run(transport: str, script: Conversation, double_greeting: bool = False) -> ConversationRun:
    # A REST client names its sender; a widget's session id comes from the server when it connects.
    sender = f"rest:fault-rest-{uuid.uuid4().hex[:12]}" if transport == "rest" else "web:"
    texts = [*(["你好", "你好"] if double_greeting else []), *(turn.say for turn in script.turns)]
    expects = [*([None, None] if double_greeting else []), *(turn.expect for turn in script.turns)]
    messages = [
        SentMessage(text, request_id=f"{sender}/{position}", expect=expect)
        for position, (text, expect) in enumerate(zip(texts, expects, strict=True))
    ]
    return ConversationRun(sender, transport, script.name, messages, double_greeting)


async def run_rest_conversation(
    user: RestUser, script: Conversation, *, double_greeting: bool = False
) -> ConversationRun:
    """The script, one message at a time; with ``double_greeting``, first a greeting sent twice at once.

    The double send is a user tapping "send" twice: both requests reach the
    balancer together and usually different replicas, so only the lock store
    keeps the two turns from being processed at the same time.
    """
    run = conversation_run("rest", script, double_greeting)
    if double_greeting:
        greetings = run.messages[:2]
        await asyncio.gather(*(user.send(run.sender, greeting) for greeting in greetings))
        if not all(greeting.acknowledged for greeting in greetings):
            return run
    for message in run.messages:
        if message.acknowledged:
            continue
        await user.send(run.sender, message)
        if not message.acknowledged:
            break
    return run


async def run_socketio_conversation(
    session: aiohttp.ClientSession, base_url: str, script: Conversation, progress: Progress
) -> ConversationRun:
    run = conversation_run("socketio", script)
    user = SocketIOUser(session, base_url, run, progress)
    try:
        for message in run.messages:
            await user.send(message)
            if not message.acknowledged:
                break
    finally:
        await user.close()
    return run


async def run_conversations(
    base_url: str,
    scripts: list[Conversation],
    progress: Progress,
    *,
    rest: int,
    socketio_clients: int,
    double_greeting_every: int,
) -> list[ConversationRun]:
    """``rest`` + ``socketio_clients`` conversations at once, cycling through ``scripts``."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        user = RestUser(session, base_url, progress)
        return list(
            await asyncio.gather(
                *(
                    run_rest_conversation(
                        user,
                        scripts[index % len(scripts)],
                        double_greeting=index % double_greeting_every == 0,
                    )
                    for index in range(rest)
                ),
                *(
                    run_socketio_conversation(session, base_url, scripts[index % len(scripts)], progress)
                    for index in range(socketio_clients)
                ),
            )
        )
