"""The WeChat channel against a simulated WeChat server, a fake 客服消息 API and a fake Rasa.

Known-answer vectors come from Tencent's official WXBizMsgCrypt samples, so
the crypto is checked against WeChat itself, not only round trips.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rasa.core.channels.channel import register
from rasa.core.run import create_http_input_channels
from sanic import Sanic
from wechatpy.crypto import PrpCrypto

from bot.domain.responses import response_text
from bot.infra import ocr, server_secret
from bot.rasa.channels import wechat
from bot.rasa.channels.wechat import (
    InMemoryMenuStore,
    InMemoryNonceStore,
    WeChatInput,
    cdata,
    split_text,
    user_ref,
)
from bot.storage import process_store, redis_state
from bot.storage.cases import SQLCaseStore
from bot.storage.redis_state import RedisMenuStore, RedisNonceStore
from scripts.rasa_env import WECHAT_DEFAULTS
from scripts.redis_service import RedisService
from tests.slip_pictures import Slip, slip_jpeg
from tests.wechat_fakes import (
    Answer,
    CustomerServiceApi,
    FakeRasa,
    Script,
    WeChatClient,
    echo,
    eventually,
    free_port,
    safe_body,
    sha1_signature,
    xml_fields,
)

pytest_plugins = ["tests.redis_fixtures"]

TOKEN = "test-token"
APPID = "wx0123456789abcdef"
APPSECRET = "test-secret"
AES_KEY = base64.b64encode(os.urandom(32)).decode()[:43]
OPENID = "oUser-0000000000000000000001"

# Tencent's 公众平台 Python sample (WXBizMsgCrypt, "Copyright (c) 1998-2014 Tencent Inc.").
SAMPLE_TOKEN = "spamtest"
SAMPLE_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SAMPLE_APPID = "wx2c2769f8efd9abc2"
SAMPLE_TIMESTAMP = "1409735669"
SAMPLE_NONCE = "1320562132"
SAMPLE_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJ"
    "F9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5"
    "VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpX"
    "gCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu"
    "9GhglF2PE="
)
SAMPLE_PLAIN = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    "<CreateTime>1409735668</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[abcdteT]]></Content>\n"
    "<MsgId>6054768590064713728</MsgId>\n"
    "</xml>"
)
# Tencent's C# sample (token QDG6eK, receiver id wx5823bf96d3bd56c7).
CS_TOKEN = "QDG6eK"
CS_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CS_APPID = "wx5823bf96d3bd56c7"
CS_TIMESTAMP = "1409659813"
CS_NONCE = "1372623149"
CS_MSG_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
CS_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYY"
    "vuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYu"
    "R+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUca"
    "llcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5"
    "Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
# Tencent's Java sample test (WXBizMsgCryptTest): encryption with a fixed random prefix.
JAVA_RANDOM = "aaaabbbbccccdddd"
JAVA_APPID = "wxb11529c136998cb6"
JAVA_REPLY = "我是中文abcd123"
JAVA_ENCRYPTED = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="

# Until domain.yml has these responses, the tests read them from here.
FALLBACK_RESPONSES = {
    "utter_wechat_welcome": "您好，欢迎关注误刷助手！",
    "utter_wechat_text_only": "抱歉，我目前只能看懂文字消息，请用文字描述您遇到的情况。",
}


@pytest.fixture(autouse=True)
def wechat_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    def text(name: str) -> str:
        try:
            return response_text(name)
        except KeyError:
            return FALLBACK_RESPONSES[name]

    monkeypatch.setattr(wechat, "response_text", text)


@dataclass
class Setup:
    channel: WeChatInput
    rasa: FakeRasa
    api: CustomerServiceApi
    client: WeChatClient

    async def say(self, text: str, *, safe: bool = True, openid: str = OPENID) -> str:
        """What the user sees in the passive reply ("" for none)."""
        answer = await self.client.post(self.client.text(openid, text), safe=safe)
        return "" if answer.text == "success" else self.client.open_reply(answer)["Content"]


Start = Callable[..., Awaitable[Setup]]


@pytest.fixture
async def start(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Start]:
    # Lets one process start many Sanic apps (what sanic-testing does).
    monkeypatch.setattr(Sanic, "test_mode", True)
    running: list[Any] = []

    async def _start(
        script: Script = echo,
        delay: float = 0.0,
        *,
        rasa: FakeRasa | None = None,
        api: CustomerServiceApi | None = None,
        **options: Any,
    ) -> Setup:
        """A channel on its own server; pass another Setup's ``rasa`` and ``api`` for a replica."""
        if api is None:
            api = CustomerServiceApi(APPID, APPSECRET)
            await api.start()
            running.append(api)
        settings = {"token": TOKEN, "appid": APPID, "aes_key": AES_KEY, "appsecret": APPSECRET}
        channel = WeChatInput(**{**settings, "api_base": api.base_url, **options})
        channel.api.backoff_seconds = 0.01
        rasa = rasa if rasa is not None else FakeRasa(script, delay)
        app = Sanic(f"wechat_test_{uuid.uuid4().hex}")
        app.ctx.agent = rasa
        register([channel], app, route="/webhooks/")
        port = free_port()
        server = await app.create_server(
            host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
        )
        await server.startup()
        running.append(server)
        client = WeChatClient(
            f"http://127.0.0.1:{port}",
            channel.token,
            options.get("aes_key") or AES_KEY,
            channel.appid,
        )
        return Setup(channel, rasa, api, client)

    yield _start
    for thing in reversed(running):
        if isinstance(thing, CustomerServiceApi):
            await thing.stop()
        else:
            await thing.before_stop()
            thing.close()
            await thing.wait_closed()
            await thing.after_stop()


# --- known answers from Tencent's samples -----------------------------------------


def test_the_official_sample_message_decrypts_and_its_signature_matches() -> None:
    crypto = WeChatInput(SAMPLE_TOKEN, SAMPLE_APPID, SAMPLE_AES_KEY).crypto
    assert (
        sha1_signature(SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT) == SAMPLE_MSG_SIGNATURE
    )
    plain = crypto.decrypt_message(
        {"Encrypt": SAMPLE_ENCRYPT}, SAMPLE_MSG_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE
    )
    assert plain == SAMPLE_PLAIN
    simulator = WeChatClient("", SAMPLE_TOKEN, SAMPLE_AES_KEY, SAMPLE_APPID)
    assert simulator.decrypt(SAMPLE_ENCRYPT) == (SAMPLE_PLAIN, SAMPLE_APPID)


def test_the_qdg6ek_sample_decrypts_and_its_signature_matches() -> None:
    crypto = WeChatInput(CS_TOKEN, CS_APPID, CS_AES_KEY).crypto
    assert sha1_signature(CS_TOKEN, CS_TIMESTAMP, CS_NONCE, CS_ENCRYPT) == CS_MSG_SIGNATURE
    fields = xml_fields(
        crypto.decrypt_message({"Encrypt": CS_ENCRYPT}, CS_MSG_SIGNATURE, CS_TIMESTAMP, CS_NONCE)
    )
    assert fields["FromUserName"] == "mycreate"
    assert fields["Content"] == "hello"
    assert fields["MsgId"] == "4561255354251345929"


def test_reply_encryption_matches_the_official_vector_byte_for_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: JAVA_RANDOM)
    crypto = WeChatInput("pamtest", JAVA_APPID, SAMPLE_AES_KEY).crypto
    sealed = xml_fields(crypto.encrypt_message(JAVA_REPLY, "xxxxxx", "1409304348"))
    assert sealed["Encrypt"] == JAVA_ENCRYPTED
    assert sealed["MsgSignature"] == sha1_signature("pamtest", "1409304348", "xxxxxx", JAVA_ENCRYPTED)
    simulator = WeChatClient("", "pamtest", SAMPLE_AES_KEY, JAVA_APPID)
    assert simulator.encrypt(JAVA_REPLY, random=JAVA_RANDOM.encode()) == JAVA_ENCRYPTED


async def test_the_channel_answers_the_official_sample_request(start: Start) -> None:
    bot = await start(
        token=SAMPLE_TOKEN, appid=SAMPLE_APPID, aes_key=SAMPLE_AES_KEY, freshness_seconds=10**10
    )
    body = safe_body("gh_10f6c3c3ac5a", SAMPLE_ENCRYPT)
    query = {
        "timestamp": SAMPLE_TIMESTAMP,
        "nonce": SAMPLE_NONCE,
        "encrypt_type": "aes",
        "msg_signature": SAMPLE_MSG_SIGNATURE,
    }
    reply = bot.client.open_reply(await bot.client.post_raw(body, query), nonce=SAMPLE_NONCE)
    assert bot.rasa.texts == ["abcdteT"]
    assert bot.rasa.messages[0].sender_id == "wechat:oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert bot.rasa.messages[0].input_channel == "wechat"
    assert reply["ToUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert reply["FromUserName"] == "gh_10f6c3c3ac5a"
    assert (reply["MsgType"], reply["Content"]) == ("text", "收到：abcdteT")


async def test_the_channel_answers_the_qdg6ek_sample_request(start: Start) -> None:
    bot = await start(token=CS_TOKEN, appid=CS_APPID, aes_key=CS_AES_KEY, freshness_seconds=10**10)
    body = safe_body(CS_APPID, CS_ENCRYPT)
    query = {
        "timestamp": CS_TIMESTAMP,
        "nonce": CS_NONCE,
        "encrypt_type": "aes",
        "msg_signature": CS_MSG_SIGNATURE,
    }
    reply = bot.client.open_reply(await bot.client.post_raw(body, query))
    assert bot.rasa.texts == ["hello"]
    assert reply["Content"] == "收到：hello"


# --- URL verification and modes ----------------------------------------------------


async def test_url_verification_echoes_echostr_only_when_signed(start: Start) -> None:
    bot = await start()
    now = str(int(time.time()))
    signed = {
        "signature": sha1_signature(TOKEN, now, "42"),
        "timestamp": now,
        "nonce": "42",
        "echostr": "e-123",
    }
    assert await bot.client.get(signed) == Answer(200, "e-123")
    assert (await bot.client.get({**signed, "signature": "0" * 40})).status == 403
    stale = str(int(time.time()) - 3600)
    old = {**signed, "timestamp": stale, "signature": sha1_signature(TOKEN, stale, "42")}
    assert (await bot.client.get(old)).status == 403


async def test_plain_mode_gets_a_plain_reply(start: Start) -> None:
    bot = await start(encrypt_mode="compat")
    answer = await bot.client.post(bot.client.text(OPENID, "我被重复扣款了"))
    assert "<Encrypt>" not in answer.text
    reply = bot.client.open_reply(answer)
    assert (reply["ToUserName"], reply["FromUserName"]) == (OPENID, "gh_test")
    assert reply["Content"] == "收到：我被重复扣款了"
    assert bot.rasa.messages[0].sender_id == f"wechat:{OPENID}"


async def test_safe_mode_gets_an_encrypted_signed_reply(start: Start) -> None:
    bot = await start()
    answer = await bot.client.post(bot.client.text(OPENID, "我被重复扣款了"), safe=True, nonce="777")
    assert set(xml_fields(answer.text)) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert bot.client.open_reply(answer, nonce="777")["Content"] == "收到：我被重复扣款了"


async def test_compatible_mode_trusts_only_the_encrypted_copy(start: Start) -> None:
    bot = await start()
    encrypted = bot.client.encrypt(bot.client.text(OPENID, "真正的内容"))
    decoy = bot.client.text("oSomeoneElse", "明文副本")
    body = decoy.replace("</xml>", f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
    answer = await bot.client.post_raw(body, bot.client.signed_query(safe=True, body=body))
    assert bot.client.open_reply(answer)["Content"] == "收到：真正的内容"
    assert [(m.sender_id, m.text) for m in bot.rasa.messages] == [(f"wechat:{OPENID}", "真正的内容")]


# --- encryption modes ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["", "safe"])
async def test_with_an_aes_key_a_plain_request_is_refused_in_safe_mode(start: Start, mode: str) -> None:
    bot = await start(encrypt_mode=mode)
    assert bot.channel.encrypt_mode == "safe"
    # Correctly signed: in plain mode the signature covers no body, so that proves nothing.
    answer = await bot.client.post(bot.client.text("oSomeoneElse", "钱已经退回来了"))
    assert answer.status == 403
    assert bot.rasa.messages == []
    assert await bot.say("你好") == "收到：你好"


async def test_compat_mode_accepts_plain_and_encrypted_requests(start: Start) -> None:
    bot = await start(encrypt_mode="compat")
    assert await bot.say("明文消息", safe=False) == "收到：明文消息"
    assert await bot.say("加密消息", safe=True) == "收到：加密消息"
    assert bot.rasa.texts == ["明文消息", "加密消息"]


async def test_plain_mode_accepts_plain_requests(start: Start) -> None:
    bot = await start(aes_key="", encrypt_mode="plain")
    assert await bot.say("明文消息", safe=False) == "收到：明文消息"
    assert (await bot.client.post(bot.client.text(OPENID, "你好"), signature="0" * 40)).status == 403


@pytest.mark.parametrize(("mode", "aes_key"), [("safe", AES_KEY), ("compat", AES_KEY), ("plain", "")])
async def test_url_verification_works_in_every_mode(start: Start, mode: str, aes_key: str) -> None:
    bot = await start(encrypt_mode=mode, aes_key=aes_key)
    now = str(int(time.time()))
    signed = {"signature": sha1_signature(TOKEN, now, "9"), "timestamp": now, "nonce": "9", "echostr": "e-9"}
    assert await bot.client.get(signed) == Answer(200, "e-9")
    assert (await bot.client.get({**signed, "signature": "0" * 40})).status == 403


def test_the_mode_comes_from_credentials_yml_and_one_it_cannot_keep_stops_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def channel(**environment: str) -> WeChatInput:
        for name, value in {**WECHAT_DEFAULTS, "WECHAT_TOKEN": TOKEN, **environment}.items():
            monkeypatch.setenv(name, value)
        (wechat_input,) = create_http_input_channels(
            "bot.rasa.channels.wechat.WeChatInput", "credentials.yml"
        )
        return wechat_input

    assert channel(WECHAT_AES_KEY=AES_KEY).encrypt_mode == "safe"
    assert channel().encrypt_mode == "plain"
    assert channel(WECHAT_AES_KEY=AES_KEY, WECHAT_ENCRYPT_MODE="compat").encrypt_mode == "compat"
    assert channel(WECHAT_AES_KEY=AES_KEY, WECHAT_ENCRYPT_MODE="Plain").encrypt_mode == "plain"
    for mode in ("safe", "compat"):
        with pytest.raises(ValueError, match="needs WECHAT_AES_KEY"):
            channel(WECHAT_ENCRYPT_MODE=mode)
    with pytest.raises(ValueError, match="must be one of safe, compat, plain"):
        channel(WECHAT_AES_KEY=AES_KEY, WECHAT_ENCRYPT_MODE="aes")


# --- replayed (timestamp, nonce) pairs ------------------------------------------------------

Pair = tuple[Setup, Setup]


@pytest.fixture(params=["in memory", "in Redis"])
async def two_doors(request: pytest.FixtureRequest, start: Start) -> Callable[..., Awaitable[Pair]]:
    """Where a request and its replay arrive: the same process, or two replicas sharing Redis."""

    async def _doors(**options: Any) -> Pair:
        if request.param == "in memory":
            bot = await start(**options)
            return bot, bot
        return await request.getfixturevalue("replicas")(**options)

    return _doors


def signed(bot: Setup, message: str, safe: bool, **pair: str) -> tuple[str, dict]:
    """A body and its signed query (with ``timestamp`` and ``nonce`` from ``pair`` when given)."""
    body = bot.client.seal(message) if safe else message
    return body, bot.client.signed_query(safe=safe, body=body, **pair)


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "encrypted"])
async def test_a_nonce_reused_for_another_message_is_refused(
    two_doors: Callable[..., Awaitable[Pair]], safe: bool
) -> None:
    first, second = await two_doors(encrypt_mode="compat")
    body, query = signed(first, first.client.text(OPENID, "我被重复扣款了", msg_id=111), safe)
    answer = await first.client.post_raw(body, query)
    assert first.client.open_reply(answer)["Content"] == "收到：我被重复扣款了"
    pair = {"timestamp": query["timestamp"], "nonce": query["nonce"]}
    forgeries = [
        second.client.text(OPENID, "钱已经退回来了", msg_id=112),
        second.client.text("oSomeoneElse", "查询进度", msg_id=113),
        second.client.message(OPENID, "event", Event="unsubscribe"),
    ]
    for forged in forgeries:
        # Plain: the observed query as it was, its signature covering no body; encrypted: signed anew.
        forged_body, forged_query = signed(second, forged, True, **pair) if safe else (forged, query)
        assert (await second.client.post_raw(forged_body, forged_query)).status == 403
    assert [(m.sender_id, m.text) for m in first.rasa.messages] == [(f"wechat:{OPENID}", "我被重复扣款了")]


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "encrypted"])
async def test_a_retry_with_the_same_nonce_is_one_turn_with_one_answer(
    two_doors: Callable[..., Awaitable[Pair]], safe: bool
) -> None:
    first, second = await two_doors(encrypt_mode="compat")
    body, query = signed(first, first.client.text(OPENID, "重复扣款", msg_id=222), safe)
    answers = [await door.client.post_raw(body, query) for door in (first, second, first)]
    assert [first.client.open_reply(answer)["Content"] for answer in answers] == ["收到：重复扣款"] * 3
    assert first.rasa.texts == ["重复扣款"]


async def test_a_pair_is_remembered_while_its_timestamp_is_fresh() -> None:
    store = InMemoryNonceStore(max_pairs=3)
    assert await store.remember("1", "a", "m1", ttl_seconds=0.05) == "m1"
    assert await store.remember("1", "a", "m2", ttl_seconds=0.05) == "m1"
    assert await store.remember("1", "b", "m2", ttl_seconds=0.05) == "m2"
    await asyncio.sleep(0.06)
    assert await store.remember("1", "a", "m3", ttl_seconds=60) == "m3"
    for nonce in "cde":
        await store.remember("2", nonce, "m", ttl_seconds=60)
    assert len(store._pairs) == 3
    assert await store.remember("2", "e", "other", ttl_seconds=60) == "m"


# --- rejections --------------------------------------------------------------------


async def test_a_bad_signature_is_refused_logged_and_never_reaches_rasa(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start(encrypt_mode="compat")
    caplog.set_level(logging.WARNING)
    plain = await bot.client.post(bot.client.text(OPENID, "机密内容"), signature="0" * 40)
    safe = await bot.client.post(bot.client.text(OPENID, "机密内容"), safe=True, msg_signature="0" * 40)
    assert (plain.status, safe.status) == (403, 403)
    assert bot.rasa.messages == []
    refusals = [record.getMessage() for record in caplog.records if "refused" in record.getMessage()]
    assert len(refusals) == 2
    assert not any("机密内容" in line or OPENID in line for line in caplog.messages)


@pytest.mark.parametrize("age", [3600, -3600])
async def test_a_timestamp_outside_the_window_is_refused(start: Start, age: int) -> None:
    bot = await start(freshness_seconds=300)
    answer = await bot.client.post(
        bot.client.text(OPENID, "你好"), safe=True, timestamp=str(int(time.time()) - age)
    )
    assert answer.status == 403
    assert bot.rasa.messages == []


DOCTYPES = [
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x "boom">]><xml><Content>&x;</Content></xml>',
    '<!DOCTYPE xml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><xml><Content>&b;</Content></xml>',
    '<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/evil.dtd"><xml><Content>x</Content></xml>',
]


@pytest.mark.parametrize("body", DOCTYPES)
async def test_doctype_and_entities_are_rejected_in_either_mode(start: Start, body: str) -> None:
    bot = await start(encrypt_mode="compat")
    assert (await bot.client.post(body)).status == 400
    assert (await bot.client.post(body, safe=True)).status == 400
    assert bot.rasa.messages == []


@pytest.mark.parametrize("body", ["<xml><Content>hi</xml", "", "not xml at all", "<html><body/></html>"])
async def test_unparsable_xml_is_a_400(start: Start, body: str) -> None:
    bot = await start(encrypt_mode="compat")
    assert (await bot.client.post(body)).status == 400
    assert bot.rasa.messages == []


async def test_bodies_over_the_limit_get_413_even_when_chunked(start: Start) -> None:
    bot = await start(max_body_bytes=4096)
    big = bot.client.text(OPENID, "多" * 3000)
    assert (await bot.client.post(big)).status == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    assert (await bot.client.post_raw(chunks(), bot.client.signed_query(safe=False))).status == 413
    assert bot.rasa.messages == []


async def test_a_message_for_another_appid_is_refused(start: Start) -> None:
    bot = await start()
    body = bot.client.seal(bot.client.text(OPENID, "你好"), appid="wxffffffffffffffff")
    answer = await bot.client.post_raw(body, bot.client.signed_query(safe=True, body=body))
    assert answer.status == 403
    assert bot.rasa.messages == []


async def test_undecryptable_ciphertext_is_a_400(start: Start) -> None:
    bot = await start()
    body = "<xml><Encrypt><![CDATA[bm90IGNpcGhlcnRleHQ=]]></Encrypt></xml>"
    answer = await bot.client.post_raw(body, bot.client.signed_query(safe=True, body=body))
    assert answer.status == 400


async def test_an_encrypted_request_without_an_aes_key_is_a_400(start: Start) -> None:
    bot = await start(aes_key="")
    assert bot.channel.encrypt_mode == "plain"
    answer = await bot.client.post(bot.client.text(OPENID, "你好"), safe=True)
    assert answer.status == 400
    assert (await bot.client.post(bot.client.text(OPENID, "你好"))).status == 200


# --- the 5-second rule --------------------------------------------------------------


async def test_concurrent_retries_share_one_rasa_turn_and_all_get_the_reply(start: Start) -> None:
    bot = await start(delay=0.4, reply_budget_seconds=3)
    message = bot.client.text(OPENID, "重复扣款", msg_id=1234567890)

    async def retry(after: float) -> Answer:
        await asyncio.sleep(after)
        return await bot.client.post(message, safe=True)

    answers = await asyncio.gather(retry(0), retry(0.1), retry(0.2))
    assert len(bot.rasa.messages) == 1
    assert [bot.client.open_reply(answer)["Content"] for answer in answers] == ["收到：重复扣款"] * 3
    later = await bot.client.post(message, safe=True)
    assert bot.client.open_reply(later)["Content"] == "收到：重复扣款"
    assert len(bot.rasa.messages) == 1
    assert bot.api.sent == []


async def test_events_are_deduplicated_by_sender_and_create_time(start: Start) -> None:
    bot = await start(delay=0.2)
    voice = bot.client.message(OPENID, "voice", Recognition="我被扣了两次")
    await asyncio.gather(*(bot.client.post(voice, safe=True) for _ in range(3)))
    assert bot.rasa.texts == ["我被扣了两次"]


async def test_a_slow_turn_answers_success_then_sends_by_customer_service(start: Start) -> None:
    bot = await start(delay=1.0, reply_budget_seconds=0.2)
    message = bot.client.text(OPENID, "慢慢说", msg_id=42)
    first = await bot.client.post(message, safe=True)
    assert first == Answer(200, "success")
    retry = await bot.client.post(message, safe=True)
    assert retry == Answer(200, "success")
    sent = await bot.api.wait_for(1)
    await asyncio.sleep(0.2)
    assert sent == [{"touser": OPENID, "msgtype": "text", "text": {"content": "收到：慢慢说"}}]
    assert len(bot.rasa.messages) == 1
    assert bot.api.token_requests == 1


async def test_the_access_token_is_cached_between_sends(start: Start) -> None:
    bot = await start(delay=0.3, reply_budget_seconds=0.05)
    for text in ("第一条", "第二条", "第三条"):
        assert await bot.say(text) == ""
        await bot.api.wait_for(len(bot.rasa.messages))
    assert [message["text"]["content"] for message in bot.api.sent] == [
        "收到：第一条",
        "收到：第二条",
        "收到：第三条",
    ]
    assert bot.api.token_requests == 1


@pytest.mark.parametrize("errcode", [40001, 42001])
async def test_an_expired_token_is_refreshed_and_the_send_repeated(start: Start, errcode: int) -> None:
    bot = await start(delay=0.2, reply_budget_seconds=0.05)
    bot.api.failures = [errcode]
    await bot.say("你好")
    assert len(await bot.api.wait_for(1)) == 1
    assert bot.api.token_requests == 2
    assert bot.api.send_tokens == ["token-1", "token-2"]


async def test_two_senders_share_the_stable_token_and_never_invalidate_each_other() -> None:
    """Two replicas (or a replica and the scheduler) each with a client of their own."""
    fake = CustomerServiceApi(APPID, APPSECRET)
    await fake.start()
    senders = [wechat.CustomerServiceApi(fake.base_url, APPID, APPSECRET) for _ in range(2)]
    try:
        for round_number in range(3):
            for number, sender in enumerate(senders):
                await sender.send_text(OPENID, f"第{round_number}轮，发送方{number}")
    finally:
        for sender in senders:
            await sender.close()
        await fake.stop()
    assert len(fake.sent) == 6 and fake.send_tokens == ["token-1"] * 6
    assert fake.tokens_issued == 1 and fake.token_requests == 2  # one fetch each, then cached


async def test_transient_failures_are_retried_with_backoff(start: Start) -> None:
    bot = await start(delay=0.1, reply_budget_seconds=0.05)
    bot.api.failures = [502, -1]
    await bot.say("你好")
    assert len(await bot.api.wait_for(1)) == 1
    assert len(bot.api.send_tokens) == 3
    assert bot.api.token_requests == 1


async def test_a_failed_send_is_logged_with_the_case_id_never_the_text(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start(delay=0.1, reply_budget_seconds=0.05)
    bot.rasa.slots[f"wechat:{OPENID}"] = {"case_id": "WS-20261125-0001"}
    bot.api.failures = [45015]  # the user has not written for 48 hours: not worth retrying
    caplog.set_level(logging.ERROR)
    await bot.say("卡号尾号1234，金额3000")
    await eventually(lambda: any("customer-service" in line for line in caplog.messages))
    (line,) = [line for line in caplog.messages if "customer-service" in line]
    assert "WS-20261125-0001" in line
    assert user_ref(OPENID) in line
    assert "45015" in line
    assert OPENID not in line and "3000" not in line and APPSECRET not in line
    assert len(bot.api.send_tokens) == 1


async def test_without_an_appsecret_a_slow_reply_is_logged_not_sent(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start(delay=0.1, reply_budget_seconds=0.05, appsecret="")
    caplog.set_level(logging.ERROR)
    assert await bot.say("你好") == ""
    await eventually(lambda: any("no appsecret" in line for line in caplog.messages))
    assert any("no appsecret" in line for line in caplog.messages)
    assert bot.api.token_requests == 0


# --- replicas sharing state through Redis ------------------------------------------------

Replicas = Callable[..., Awaitable[tuple[Setup, Setup]]]


@pytest.fixture
def replicas(start: Start, redis_url: str) -> Replicas:
    """Two channels on two servers (two replicas) with one Rasa and one 客服消息 API
    between them, each with its own connection to the same Redis."""

    async def _replicas(script: Script = echo, delay: float = 0.0, **options: Any) -> tuple[Setup, Setup]:
        first = await start(script, delay, redis_client=redis_state.async_client(redis_url), **options)
        second = await start(
            rasa=first.rasa, api=first.api, redis_client=redis_state.async_client(redis_url), **options
        )
        return first, second

    return _replicas


@pytest.mark.parametrize("stagger", [0.0, 0.1])
async def test_a_message_and_its_retry_on_two_replicas_run_one_turn(
    replicas: Replicas, stagger: float
) -> None:
    first, second = await replicas(delay=0.4, reply_budget_seconds=3)
    message = first.client.text(OPENID, "重复扣款", msg_id=1234567890)

    async def post(replica: Setup, after: float) -> str:
        await asyncio.sleep(after)
        return replica.client.open_reply(await replica.client.post(message, safe=True))["Content"]

    assert await asyncio.gather(post(first, 0), post(second, stagger)) == ["收到：重复扣款"] * 2
    # A retry after the turn (the first answer lost on the way) is answered from the outcome.
    assert await asyncio.gather(post(second, 0), post(first, 0)) == ["收到：重复扣款"] * 2
    assert first.rasa.texts == ["重复扣款"]
    assert first.api.sent == []


async def test_a_slow_turn_retried_on_another_replica_is_sent_once_by_its_owner(replicas: Replicas) -> None:
    first, second = await replicas(delay=1.0, reply_budget_seconds=0.2)
    message = first.client.text(OPENID, "慢慢说", msg_id=42)
    assert await first.client.post(message, safe=True) == Answer(200, "success")
    assert await second.client.post(message, safe=True) == Answer(200, "success")
    sent = await first.api.wait_for(1)
    for replica in (second, first):  # after the turn too: only the owner delivers, and only once
        assert await replica.client.post(message, safe=True) == Answer(200, "success")
    await asyncio.sleep(0.2)
    assert sent == [{"touser": OPENID, "msgtype": "text", "text": {"content": "收到：慢慢说"}}]
    assert first.rasa.texts == ["慢慢说"]


async def test_a_long_reply_retried_on_another_replica_is_sent_once_in_parts(replicas: Replicas) -> None:
    paragraphs = [f"第{n}段：" + "退款到账时间以发卡行为准。" * 30 for n in range(1, 8)]
    first, second = await replicas(script=lambda text: [{"text": paragraph} for paragraph in paragraphs])
    message = first.client.text(OPENID, "多久到账", msg_id=77)
    assert await first.client.post(message, safe=True) == Answer(200, "success")
    assert await second.client.post(message, safe=True) == Answer(200, "success")
    sent = await first.api.wait_for(5)
    await asyncio.sleep(0.2)
    assert "\n\n".join(part["text"]["content"] for part in sent) == "\n\n".join(paragraphs)
    assert len(first.rasa.messages) == 1


async def test_a_menu_shown_by_one_replica_is_answered_on_another(replicas: Replicas) -> None:
    first, second = await replicas(script=step_script)
    assert await first.say("下一步") == STEP_REPLY
    assert await second.say("2") == "好的（/merchant_agreed）"
    assert await first.say("2") == STEP_REPLY  # the second replica's reply had no menu
    assert first.rasa.texts == ["下一步", "/merchant_agreed", "2"]


def test_menus_nonces_and_turns_are_in_redis_only_with_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    alone = WeChatInput.from_credentials({"token": "t"})
    assert isinstance(alone.menus, InMemoryMenuStore) and alone.ledger is None
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6390/0")
    replica = WeChatInput.from_credentials({"token": "t"})
    assert isinstance(replica.menus, RedisMenuStore) and replica.ledger is not None
    assert isinstance(replica.nonces, RedisNonceStore) and isinstance(alone.nonces, InMemoryNonceStore)
    assert replica.redis_client is not None
    assert replica.redis_client.connection_pool.connection_kwargs["port"] == 6390


async def test_without_redis_a_message_gets_a_503_and_never_reaches_rasa(
    start: Start, unreachable_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start(redis_client=redis_state.async_client(unreachable_redis_url))
    caplog.set_level(logging.WARNING)
    answer = await bot.client.post(bot.client.text(OPENID, "重复扣款"), safe=True)
    assert answer.status == 503  # WeChat retries in 5 s; the turn has not run
    assert bot.rasa.messages == []
    assert any("refused (503): shared state unavailable" in line for line in caplog.messages)
    # Nor can an event's (timestamp, nonce) be checked against the other replicas'.
    welcome = await bot.client.post(bot.client.message(OPENID, "event", Event="subscribe"), safe=True)
    assert welcome.status == 503


async def test_redis_lost_during_a_turn_still_gets_the_reply_to_the_user(
    start: Start, private_redis: RedisService, caplog: pytest.LogCaptureFixture
) -> None:
    def script(text: str) -> list[dict[str, Any]]:
        private_redis.stop()
        return [{"text": f"收到：{text}", "buttons": [{"title": "是", "payload": "/affirm"}]}]

    bot = await start(script=script, redis_client=redis_state.async_client(private_redis.url))
    caplog.set_level(logging.ERROR)
    message = bot.client.text(OPENID, "重复扣款")
    for _ in range(2):  # the retry reaches the same process, which still has the outcome
        answer = await bot.client.post(message, safe=True)
        assert bot.client.open_reply(answer)["Content"] == "收到：重复扣款\n\n回复 1：是"
    await eventually(lambda: any("turn's outcome" in line for line in caplog.messages))
    assert any("Could not save a WeChat menu" in line for line in caplog.messages)
    assert bot.rasa.texts == ["重复扣款"]


# --- rendering ------------------------------------------------------------------------

STEP_BUTTONS = [
    {"title": "已完成，下一步", "payload": "/affirm"},
    {"title": "商家同意退款", "payload": "/merchant_agreed"},
    {"title": "商家拒绝", "payload": "/merchant_refused"},
]
STEP_REPLY = "第1步：联系商户。\n\n完成后告诉我。\n\n" + "\n".join(
    ["回复 1：已完成，下一步", "回复 2：商家同意退款", "回复 3：商家拒绝"]
)


def step_script(text: str) -> list[dict[str, Any]]:
    if text.startswith("/"):
        return [{"text": f"好的（{text}）"}]
    return [{"text": "第1步：联系商户。"}, {"text": "完成后告诉我。", "buttons": STEP_BUTTONS}]


async def test_buttons_become_a_numbered_menu_and_numbers_become_payloads(start: Start) -> None:
    bot = await start(script=step_script)
    reply = await bot.say("下一步")
    assert reply == STEP_REPLY
    assert await bot.say("2") == "好的（/merchant_agreed）"
    assert await bot.say("2") == STEP_REPLY
    assert await bot.say(" ３ ") == "好的（/merchant_refused）"
    await bot.say("下一步")
    await bot.say("7")
    assert bot.rasa.texts == ["下一步", "/merchant_agreed", "2", "/merchant_refused", "下一步", "7"]


async def test_menus_are_kept_per_user(start: Start) -> None:
    bot = await start(script=step_script)
    await bot.say("下一步", openid="oAlice")
    await bot.say("1", openid="oBob")
    await bot.say("1", openid="oAlice")
    assert [(m.sender_id, m.text) for m in bot.rasa.messages[1:]] == [
        ("wechat:oBob", "1"),
        ("wechat:oAlice", "/affirm"),
    ]


async def test_a_long_reply_is_split_into_customer_service_messages(start: Start) -> None:
    paragraphs = [f"第{n}段：" + "退款到账时间以发卡行为准。" * 30 for n in range(1, 8)]
    bot = await start(script=lambda text: [{"text": paragraph} for paragraph in paragraphs])
    assert await bot.say("多久到账") == ""
    sent = await bot.api.wait_for(5)
    await asyncio.sleep(0.1)
    parts = [message["text"]["content"] for message in sent]
    assert len(parts) > 1
    assert all(len(part.encode()) < 2048 for part in parts)
    assert "\n\n".join(parts) == "\n\n".join(paragraphs)


async def test_user_typed_cdata_terminators_cannot_break_the_reply(start: Start) -> None:
    bot = await start(encrypt_mode="compat")
    tricky = "金额]]><Content>0</Content><![CDATA[ 和 ]]]]>"
    assert await bot.say(tricky, safe=False) == f"收到：{tricky}"
    assert await bot.say(tricky, safe=True) == f"收到：{tricky}"


async def test_secrets_are_masked_and_the_warning_is_part_of_the_reply(start: Start) -> None:
    bot = await start()
    reply = await bot.say("卡号4111111111111111，验证码 834271")
    assert bot.rasa.texts == ["卡号[卡号已隐藏，尾号1111]，验证码 [已隐藏]"]
    warning = response_text("utter_secret_never_needed")
    assert reply == f"{warning}\n\n收到：卡号[卡号已隐藏，尾号1111]，验证码 [已隐藏]"


async def test_custom_json_for_the_widget_is_not_shown(start: Start) -> None:
    bot = await start(script=lambda text: [{"text": "清单如下", "custom": {"data": {"checklist_url": "/x"}}}])
    assert await bot.say("清单") == "清单如下"


# --- message types ----------------------------------------------------------------------


async def test_subscribing_gets_the_welcome_and_unsubscribing_nothing(start: Start) -> None:
    bot = await start()
    welcome = await bot.client.post(bot.client.message(OPENID, "event", Event="subscribe"), safe=True)
    assert bot.client.open_reply(welcome)["Content"] == wechat.response_text("utter_wechat_welcome")
    bye = await bot.client.post(bot.client.message(OPENID, "event", Event="unsubscribe"), safe=True)
    click = await bot.client.post(bot.client.message(OPENID, "event", Event="CLICK", EventKey="x"), safe=True)
    assert bye == click == Answer(200, "success")
    assert bot.rasa.messages == []


async def test_voice_uses_the_recognition_text(start: Start) -> None:
    bot = await start()
    answer = await bot.client.post(
        bot.client.message(OPENID, "voice", MediaId="m1", Recognition="我被扣了两次"), safe=True
    )
    assert bot.client.open_reply(answer)["Content"] == "收到：我被扣了两次"


@pytest.mark.parametrize(
    ("kind", "fields"),
    [("image", {"PicUrl": "http://x/y.jpg"}), ("voice", {"MediaId": "m"}), ("location", {})],
)
async def test_other_messages_are_asked_for_text(start: Start, kind: str, fields: dict[str, str]) -> None:
    bot = await start()
    answer = await bot.client.post(bot.client.message(OPENID, kind, MsgId="99", **fields), safe=True)
    assert bot.client.open_reply(answer)["Content"] == wechat.response_text("utter_wechat_text_only")
    assert bot.rasa.messages == []


# --- pictures ------------------------------------------------------------------------------


@pytest.fixture
def case_store_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SQLCaseStore]:
    """The Rasa server's store (``process_store``) on a file of this test's own."""
    monkeypatch.setenv("CASE_STORE_URL", f"sqlite:///{tmp_path / 'cases.db'}")
    process_store.cache_clear()
    yield process_store()
    process_store.cache_clear()
    ocr.shutdown()


async def test_a_picture_is_fetched_read_kept_and_its_turn_runs(
    start: Start, case_store_here: SQLCaseStore
) -> None:
    bot = await start()
    bot.api.media["media-1"] = slip_jpeg(Slip())
    message = bot.client.message(OPENID, "image", MsgId="501", PicUrl="http://x/y.jpg", MediaId="media-1")
    answer = await bot.client.post(message, safe=True)
    reply = bot.client.open_reply(answer)["Content"]
    if reply == wechat.response_text("utter_wechat_reading_picture"):  # longer than WeChat waits
        [sent] = await bot.api.wait_for(1)
        reply = sent["text"]["content"]
    assert reply == "收到：/send_receipt"  # the fake Rasa's echo: the turn ran
    assert bot.rasa.texts == ["/send_receipt"]
    assert bot.rasa.messages[0].sender_id == f"wechat:{OPENID}"
    [receipt] = case_store_here.receipts.of_conversation(f"wechat:{OPENID}")
    read = receipt.reading
    assert (receipt.channel, read.amount, read.card_last4) == ("wechat", Decimal("88.00"), "4321")


async def test_a_picture_wechat_no_longer_has_is_an_apology_not_a_turn(
    start: Start, case_store_here: SQLCaseStore
) -> None:
    bot = await start()
    message = bot.client.message(OPENID, "image", MsgId="502", PicUrl="http://x/y.jpg", MediaId="expired")
    answer = await bot.client.post(message, safe=True)
    apology = wechat.response_text("utter_wechat_picture_unavailable")
    assert bot.client.open_reply(answer)["Content"] == apology
    assert bot.rasa.messages == [] and case_store_here.receipts.of_conversation(f"wechat:{OPENID}") == []


async def test_a_file_that_is_no_picture_is_refused_politely(
    start: Start, case_store_here: SQLCaseStore
) -> None:
    bot = await start()
    bot.api.media["media-2"] = b"%PDF-1.7 not a picture"
    message = bot.client.message(OPENID, "image", MsgId="503", PicUrl="http://x/y.jpg", MediaId="media-2")
    answer = await bot.client.post(message, safe=True)
    assert bot.client.open_reply(answer)["Content"] == wechat.response_text("utter_receipt_not_a_picture")
    assert bot.rasa.messages == []


# --- configuration ---------------------------------------------------------------------


async def test_an_empty_token_disables_the_channel(start: Start) -> None:
    bot = await start(token="")
    assert (await bot.client.get({"echostr": "x"})).status == 404
    assert (await bot.client.post(bot.client.text(OPENID, "你好"))).status == 404
    assert bot.rasa.messages == []


def test_credentials_from_the_environment_may_be_empty_or_missing() -> None:
    for credentials in (None, {}, {"token": None}, {"token": "", "appid": "", "aes_key": "", "api_base": ""}):
        channel = WeChatInput.from_credentials(credentials)
        assert channel.token == "" and channel.crypto is None
        assert channel.api.api_base == wechat.DEFAULT_API_BASE
    channel = WeChatInput.from_credentials(
        {
            "token": "t",
            "appid": APPID,
            "aes_key": AES_KEY,
            "reply_budget_seconds": "2.5",
            "max_body_bytes": "100",
        }
    )
    assert (channel.reply_budget_seconds, channel.max_body_bytes, channel.freshness_seconds) == (
        2.5,
        100,
        300,
    )
    assert channel.crypto is not None and WeChatInput.name() == "wechat"
    assert channel.encrypt_mode == "safe"


# --- helpers --------------------------------------------------------------------------------


def test_split_text_prefers_paragraphs_then_lines_then_sentences() -> None:
    assert split_text("甲" * 10 + "\n\n" + "乙" * 10, limit=40) == ["甲" * 10, "乙" * 10]
    assert split_text("甲" * 10 + "\n" + "乙" * 10, limit=40) == ["甲" * 10, "乙" * 10]
    assert split_text("甲" * 10 + "。" + "乙" * 10, limit=40) == ["甲" * 10 + "。", "乙" * 10]
    assert split_text("甲" * 30, limit=40) == ["甲" * 13, "甲" * 13, "甲" * 4]
    assert split_text("short") == ["short"]
    assert split_text("  \n ") == []


def test_cdata_survives_terminators_and_drops_illegal_characters() -> None:
    text = "a]]>b]]]]>c\x00\x1bd"
    assert xml_fields(f"<xml><C>{cdata(text)}</C></xml>")["C"] == "a]]>b]]]]>cd"


async def test_the_menu_store_forgets_old_menus_and_old_users() -> None:
    store = InMemoryMenuStore(ttl_seconds=0.05, max_users=2)
    await store.save("a", ["/x"])
    assert await store.load("a") == ["/x"]
    await asyncio.sleep(0.06)
    assert await store.load("a") == []
    for user in "bcd":
        await store.save(user, ["/y"])
    assert await store.load("b") == []
    assert await store.load("d") == ["/y"]
    await store.save("d", [])
    assert await store.load("d") == []


def test_user_refs_in_logs_are_keyed_not_plain_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WUSHUA_SECRET", "one-secret")
    server_secret.server_secret.cache_clear()
    first = user_ref(OPENID)
    assert first == user_ref(OPENID) and first != user_ref(OPENID + "x")
    assert first not in hashlib.sha256(OPENID.encode()).hexdigest()
    monkeypatch.setenv("WUSHUA_SECRET", "another-secret")
    server_secret.server_secret.cache_clear()
    assert user_ref(OPENID) != first
    server_secret.server_secret.cache_clear()
