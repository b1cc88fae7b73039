"""The real bot over the WeChat channel in safe mode: Rasa server + action server, started here.

WeChat's side is simulated as in test_wechat.py (``tests/wechat_fakes.py``):
messages are encrypted and signed as WeChat's servers send them, and replies
that do not come back in the HTTP answer are collected from the fake 客服消息
API, as the user would see them. The bot's wording is still changing, so the
checks are on stable markers (the case number, the numbered menu, the bank's
hotline, the masked card number, the checklist's boxes), not on sentences.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext
from dataclasses import dataclass

import pytest
from server_env import BotServers, bot_servers
from slip_pictures import Slip, slip_jpeg
from wechat_fakes import CustomerServiceApi, WeChatClient, serving_in_thread

from bot.domain.cases import Facts
from bot.domain.delivery import WECHAT_WINDOW_CLOSED
from bot.domain.responses import response_text
from bot.infra import server_secret, staff_bridge
from bot.storage import open_store

pytestmark = pytest.mark.e2e

TOKEN = "e2e-token"
APPID = "wx00e2e00e2e00e2e0"
APPSECRET = "e2e-secret"
AES_KEY = base64.b64encode(os.urandom(32)).decode()[:43]
FIRST_PART_SECONDS = 120
# The parts of one reply by 客服消息 are sent one after another as soon as the turn ends.
QUIET_SECONDS = 1.5
CASE_ID = re.compile(r"WS-\d{8}-\d{4}")
CARD = "6222021234567890128"
MASKED_CARD = "[卡号已隐藏，尾号0128]"


@dataclass
class WeChat:
    servers: BotServers
    client: WeChatClient
    api: CustomerServiceApi


@pytest.fixture(scope="module")
def wechat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeChat]:
    with serving_in_thread(CustomerServiceApi(APPID, APPSECRET)) as api:
        environment = {
            "WECHAT_TOKEN": TOKEN,
            "WECHAT_APPID": APPID,
            "WECHAT_AES_KEY": AES_KEY,
            "WECHAT_APPSECRET": APPSECRET,
            "WECHAT_ENCRYPT_MODE": "safe",
            "WECHAT_API_BASE": api.base_url,
        }
        with bot_servers(tmp_path_factory.mktemp("servers"), "/webhooks/wechat/", **environment) as servers:
            yield WeChat(servers, WeChatClient(servers.base_url, TOKEN, AES_KEY, APPID), api)


class User:
    """One WeChat user: what they send, and every reply they see, passive or by 客服消息."""

    def __init__(self, wechat: WeChat) -> None:
        self.wechat = wechat
        self.openid = f"oE2E-{uuid.uuid4().hex[:20]}"
        self.by_customer_service = 0  # replies that came by 客服消息

    def _sent_to_me(self) -> list[str]:
        return [m["text"]["content"] for m in self.wechat.api.sent if m["touser"] == self.openid]

    def say(self, text: str, while_waiting: AbstractContextManager[None] | None = None) -> str:
        """The reply to ``text``; ``while_waiting`` holds while WeChat waits for the HTTP answer."""
        return self._reply_to(self.wechat.client.text(self.openid, text), while_waiting)

    def send_picture(self, media_id: str) -> str:
        """The reply to a picture (put in the fake API's ``media`` first), however it comes."""
        msg_id = str(uuid.uuid4().int % 10**12)
        message = self.wechat.client.message(
            self.openid, "image", MsgId=msg_id, PicUrl="http://x/y.jpg", MediaId=media_id
        )
        return self._reply_to(message, None, meanwhile=response_text("utter_wechat_reading_picture"))

    def _reply_to(
        self, message: str, while_waiting: AbstractContextManager[None] | None, meanwhile: str | None = None
    ) -> str:
        client = self.wechat.client
        before = len(self._sent_to_me())
        with while_waiting or nullcontext():
            answer = asyncio.run(client.post(message, safe=True))
        assert answer.status == 200, answer
        if answer.text != "success" and client.open_reply(answer)["Content"] != meanwhile:
            return client.open_reply(answer)["Content"]
        deadline = time.monotonic() + FIRST_PART_SECONDS
        while len(self._sent_to_me()) == before:
            assert time.monotonic() < deadline, f"no reply to {message!r}"
            time.sleep(0.1)
        while True:
            count = len(self._sent_to_me())
            time.sleep(QUIET_SECONDS)
            if len(self._sent_to_me()) == count:
                self.by_customer_service += 1
                return "\n\n".join(self._sent_to_me()[before:])


@contextmanager
def slow_actions(servers: BotServers) -> Iterator[None]:
    """The action server paused, so a turn outlasts the passive reply's budget (4.5 s)."""
    os.killpg(servers.action_server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(servers.action_server.pid, signal.SIGCONT)


def menu_number(reply: str, title: str) -> str:
    match = re.search(rf"^回复 (\d+)：{title}$", reply, re.MULTILINE)
    assert match, f"no menu line for {title} in {reply!r}"
    return match.group(1)


def stored_rows(wechat: WeChat, sender: str) -> list[str]:
    """The tracker store's rows of a conversation, as stored."""
    with closing(sqlite3.connect(wechat.servers.tracker_db)) as db:
        return [data for (data,) in db.execute("SELECT data FROM events WHERE sender_id = ?", (sender,))]


def test_a_mis_swipe_conversation_from_report_to_checklist(wechat: WeChat) -> None:
    user = User(wechat)
    replies: list[str] = []

    def say(text: str, while_waiting: AbstractContextManager[None] | None = None) -> str:
        replies.append(user.say(text, while_waiting))
        return replies[-1]

    notice = say("我在华联超市被重复扣了3000元")
    # The privacy notice's buttons are a numbered menu; its number is the /affirm payload.
    assert "为您登记案件前" in notice and "回复 2：不同意" in notice
    banks = say(menu_number(notice, "同意"))
    assert "回复 1：" in banks
    say(menu_number(banks, "工商银行"))
    created = say("昨天")
    assert CASE_ID.search(created) and "回复 1：" in created  # the case, and its first step's options
    assert "回复 1：" in say("好的，下一步")
    masked = say(f"我的卡号是{CARD}")
    assert "0128" in masked
    assert "95588" in say("商家不同意退款")  # 工商银行's hotline: menu number 1 was read as that bank
    checklist = say("把我的清单再发一遍", slow_actions(wechat.servers))
    assert "☐" in checklist and "☑" in checklist and CASE_ID.search(checklist)

    assert not any("没能识别" in reply for reply in replies)
    assert not any(CARD in reply for reply in replies)
    # The checklist came by 客服消息, to the raw OpenID: that API knows nothing of Rasa's wechat: prefix.
    assert user.by_customer_service >= 1
    assert not any(message["touser"].startswith("wechat:") for message in wechat.api.sent)
    stored = stored_rows(wechat, f"wechat:{user.openid}")
    assert stored and stored_rows(wechat, user.openid) == []
    assert CARD not in "".join(stored)
    texts = [json.loads(row).get("text") or "" for row in stored]
    assert any(MASKED_CARD in text for text in texts)


def test_a_photo_of_the_slip_fills_the_case_after_confirmation(wechat: WeChat) -> None:
    user = User(wechat)
    notice = user.say("我在永辉超市被重复扣款了")
    banks = user.say(menu_number(notice, "同意"))
    assert "金额" in user.say(menu_number(banks, "建设银行"))
    wechat.api.media["slip-1"] = slip_jpeg(Slip(day="2026/11/24", card=CARD))
    reading = user.send_picture("slip-1")
    assert "我从这张签购单上读到" in reading and "88元" in reading and "0128" in reading
    assert CARD not in reading
    assert open_store(f"sqlite:///{wechat.servers.case_db}").current_case(f"wechat:{user.openid}") is None

    created = user.say(menu_number(reading, "对，记下来"))
    assert "已记下图片上的信息" in created and CASE_ID.search(created)
    store = open_store(f"sqlite:///{wechat.servers.case_db}")
    case = store.current_case(f"wechat:{user.openid}")
    assert case is not None
    facts = case.facts
    assert (facts.amount, str(facts.txn_date), facts.card_last4) == (88.0, "2026-11-24", "0128")
    [receipt] = store.receipts.of_case(case.case_id)
    assert (receipt.channel, receipt.status, receipt.numbers_covered) == ("wechat", "confirmed", 1)


def test_a_typed_agreement_answers_the_notice(wechat: WeChat) -> None:
    user = User(wechat)
    assert "回复 1：同意" in user.say("刷卡机显示交易失败，但是钱被扣了")
    assert "哪家银行的卡" in user.say("同意")


def test_a_plain_request_gets_403_from_the_bot_in_safe_mode(wechat: WeChat) -> None:
    user = User(wechat)
    client = wechat.client
    answer = asyncio.run(client.post(client.text(user.openid, "我在华联超市被重复扣了3000元")))
    assert answer.status == 403
    assert stored_rows(wechat, f"wechat:{user.openid}") == []


def _wait_for_message_to(wechat: WeChat, openid: str, containing: str) -> None:
    deadline = time.monotonic() + 30
    while not any(
        containing in message["text"]["content"] for message in wechat.api.sent if message["touser"] == openid
    ):
        assert time.monotonic() < deadline, f"no 客服消息 with {containing!r} to {openid}"
        time.sleep(0.1)


def _conversation_from_the_past(wechat: WeChat, openid: str, hours_ago: float) -> str:
    """A conversation whose last user message was ``hours_ago`` hours ago, written to the tracker store."""
    sender, at = f"wechat:{openid}", time.time() - hours_ago * 3600
    events = [
        {"event": "action", "name": "action_session_start"},
        {"event": "session_started"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "你好", "parse_data": {"intent": {"name": "greet", "confidence": 0.99}}},
        {"event": "bot", "text": "您好，我是误刷助手。", "data": {}, "metadata": {}},
        {"event": "action", "name": "action_listen"},
    ]
    with closing(sqlite3.connect(wechat.servers.tracker_db)) as db, db:
        db.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (sender, event["event"], at, None, event.get("name"), json.dumps({**event, "timestamp": at}))
                for event in events
            ],
        )
    return sender


def test_staff_write_by_customer_service_message_and_not_to_a_user_silent_for_48_hours(
    wechat: WeChat,
) -> None:
    server_secret.server_secret.cache_clear()  # the secret the servers got (tests/conftest.py)
    rasa = wechat.servers.base_url
    user = User(wechat)
    user.say("你好")
    conversation = f"wechat:{user.openid}"

    joined = asyncio.run(staff_bridge.call(rasa, "takeover", conversation, "alice"))
    assert joined.ok and joined.delivered, joined
    _wait_for_message_to(wechat, user.openid, "人工客服alice已接入")
    replied = asyncio.run(
        staff_bridge.call(rasa, "reply", conversation, "alice", "您好，请问是哪家银行的卡？")
    )
    assert replied.ok and replied.delivered, replied
    _wait_for_message_to(wechat, user.openid, "请问是哪家银行的卡")
    handed_back = asyncio.run(staff_bridge.call(rasa, "handback", conversation, "alice"))
    assert handed_back.ok and handed_back.delivered
    _wait_for_message_to(wechat, user.openid, "智能助手继续为您服务")

    silent_openid = f"oOLD-{uuid.uuid4().hex[:20]}"
    silent = _conversation_from_the_past(wechat, silent_openid, hours_ago=49)
    store = open_store(f"sqlite:///{wechat.servers.case_db}")
    case = store.open_case(silent, "wechat", "misswipe", Facts(bank="工商银行"))
    refused = asyncio.run(staff_bridge.call(rasa, "takeover", silent, "alice"))
    assert refused.ok and not refused.delivered and refused.reason == WECHAT_WINDOW_CLOSED
    assert not any(message["touser"] == silent_openid for message in wechat.api.sent)
    undelivered = [event for event in store.events(case.case_id) if event["event"] == "message_undelivered"]
    assert len(undelivered) == 1 and undelivered[0]["detail"]["reason"] == WECHAT_WINDOW_CLOSED
    assert "人工客服alice已接入" in undelivered[0]["detail"]["text"]
    store.close()
