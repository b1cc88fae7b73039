"""The real bot over the REST channel: Rasa server + action server, started here.

Needs the trained model (``make test`` trains it first). Slow to start (~1
minute), so every conversation test shares one pair of servers.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import requests
import socketio
from server_env import bot_servers

from bot.domain.delivery import WIDGET_OFFLINE
from bot.infra import staff_bridge

pytestmark = pytest.mark.e2e


class Bot:
    def __init__(self, base_url: str, case_db: Path, tracker_db: Path) -> None:
        self.base_url = base_url
        self.case_db = case_db
        self.tracker_db = tracker_db

    def post(self, body: object, **kwargs: object) -> requests.Response:
        return requests.post(f"{self.base_url}/webhooks/rest/webhook", json=body, timeout=60, **kwargs)

    def say(self, sender: str, text: str) -> list[dict]:
        reply = self.post({"sender": sender, "message": text})
        assert reply.status_code == 200, reply.text
        return reply.json()

    def text(self, sender: str, text: str) -> str:
        return "\n".join(message.get("text", "") for message in self.say(sender, text))

    def tracker(self, sender: str) -> dict:
        """A REST sender's conversation (``rest:<sender>``), or any conversation by its full id."""
        conversation = sender if sender.startswith(("rest:", "web:", "wechat:")) else f"rest:{sender}"
        return requests.get(f"{self.base_url}/conversations/{conversation}/tracker", timeout=30).json()


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    with bot_servers(tmp_path_factory.mktemp("servers"), "/webhooks/rest/") as servers:
        yield Bot(servers.base_url, servers.case_db, servers.tracker_db)


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


# A phrase of the privacy notice (data/knowledge/privacy.yml), asked before the first fact.
NOTICE = "为您登记案件前"


def report_and_agree(bot: Bot, sender: str, report: str) -> str:
    """Reports a problem and agrees to the notice; the reply to the agreement."""
    assert NOTICE in bot.text(sender, report)
    return bot.text(sender, "同意")


def test_a_mis_swipe_conversation_from_report_to_refund(bot: Bot) -> None:
    user = new_sender()
    assert "误刷助手" in bot.text(user, "你好")
    notice = bot.say(user, "我在华联超市刷卡被重复扣款了，多扣了3000元")
    assert any(NOTICE in message.get("text", "") for message in notice)
    assert [button for message in notice for button in message.get("buttons", [])] == [
        {"title": "同意", "payload": "/affirm"},
        {"title": "不同意", "payload": "/deny"},
    ]
    assert case_rows(bot, user) == []
    first = bot.say(user, "/affirm")
    assert any("银行" in message.get("text", "") for message in first)
    assert any(button["title"] == "工商银行" for message in first for button in message.get("buttons", []))
    assert "哪天" in bot.text(user, "工商银行")
    created = bot.text(user, "昨天")
    assert "案件号 WS-" in created
    assert "第1步（共6步）：联系商户" in created
    assert "第2步（共6步）：收集凭证" in bot.text(user, "好的，下一步")
    assert "金额改为2500元" in bot.text(user, "金额说错了，是2500元")
    refused = bot.text(user, "商家不同意退款")
    assert "95588" in refused and "联系发卡行" in refused
    answer = bot.text(user, "退款一般多久能到账？")
    assert "工作日" in answer and "我们接着处理您的案件" in answer
    checklist = bot.say(user, "把我的清单再发一遍")
    assert "☐" in checklist[0]["text"]
    link = next(reply["custom"]["data"]["checklist_url"] for reply in checklist if "custom" in reply)
    page = requests.get(bot.base_url + link, timeout=30)
    assert page.status_code == 200 and "误刷处理清单" in page.text and "2500元" in page.text
    tampered = requests.get(bot.base_url + link[:-3] + "xyz", timeout=30)
    assert tampered.status_code == 404 and "2500" not in tampered.text
    assert "链接无效或已过期" in tampered.text  # utter_link_not_found, read from domain.yml
    assert "已为您转接人工" in bot.text(user, "转人工")
    assert "已标记为已解决" in bot.text(user, "钱已经退回来了")


def case_rows(bot: Bot, sender: str) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(bot.case_db)) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM cases WHERE sender_id = ?", (f"rest:{sender}",)).fetchall()


def test_greetings_and_questions_open_no_case(bot: Bot) -> None:
    user = new_sender()
    bot.text(user, "你好")
    answer = bot.text(user, "退款一般多久能到账？")
    assert "工作日" in answer
    assert "我们接着处理您的案件" not in answer
    bot.text(user, "拜拜")
    assert case_rows(bot, user) == []


def test_goodbye_leaves_a_resolved_case_resolved(bot: Bot) -> None:
    user = new_sender()
    report_and_agree(bot, user, "我在华联超市刷卡被重复扣款了，多扣了300元")
    bot.text(user, "工商银行")
    assert "案件号 WS-" in bot.text(user, "昨天")
    assert "已标记为已解决" in bot.text(user, "钱已经退回来了")
    bot.text(user, "拜拜")
    assert [row["status"] for row in case_rows(bot, user)] == ["resolved"]


def test_the_fraud_path_says_freeze_the_card_first(bot: Bot) -> None:
    user = new_sender()
    reply = bot.text(user, "我的卡一直在身上，今天突然收到一条陌生的消费扣款短信，不是我刷的")
    assert "盗刷" in reply and "冻结" in reply and "110" in reply


def test_the_failed_charge_path_explains_the_reversal(bot: Bot) -> None:
    assert "冲正" in bot.text(new_sender(), "POS机显示交易失败，但是钱被扣了")


def test_the_merchant_path_asks_only_amount_and_date(bot: Bot) -> None:
    user = new_sender()
    assert "商户" in bot.text(user, "我是商户，收银员给顾客多刷了一笔")
    assert "金额" in bot.text(user, "同意")
    assert "哪天" in bot.text(user, "500元")
    assert "撤销" in bot.text(user, "今天")


def test_a_case_is_not_shown_to_another_conversation(bot: Bot) -> None:
    owner = new_sender()
    report_and_agree(bot, owner, "我在永辉超市被扣了两次，每次88元")
    bot.text(owner, "建设银行")
    created = bot.text(owner, "昨天")
    case_id = re.search(r"案件号 (WS-\d{8}-\d{4})", created)[1]
    assert case_id.startswith("WS-")
    assert case_id in bot.text(owner, f"查一下{case_id}的进度")
    stranger = bot.text(new_sender(), f"查一下{case_id}的进度")
    assert "没有找到" in stranger and "永辉" not in stranger and "88" not in stranger


def test_secrets_are_masked_before_rasa_stores_them(bot: Bot) -> None:
    user = new_sender()
    card, code = "4111 1111 1111 1111", "834271"
    replies = bot.say(user, f"我的卡号是{card}，验证码{code}，被重复扣款了")
    assert "不会索要完整卡号" in replies[0]["text"]
    stored = str(bot.tracker(user))
    assert "4111 1111 1111 1111" not in stored and code not in stored
    assert "尾号1111" in stored
    assert card.replace(" ", "") not in "".join(str(reply) for reply in replies).replace(" ", "")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "😀😀😀",
        "好" * 5000,
        "<script>alert('x')</script><img src=x onerror=alert(1)>",
        "'; DROP TABLE cases; --",
        "\x00\x01\x1b[31m控制字符\x7f",
        "POS机double charge了，ka卡被扣两次 help!!!",
    ],
)
def test_odd_input_gets_a_polite_reply(bot: Bot, text: str) -> None:
    replies = bot.say(new_sender(), text)
    assert isinstance(replies, list)
    assert all("<script>" not in reply.get("text", "") for reply in replies)


@pytest.mark.parametrize(
    "body",
    [
        {"sender": "x", "message": "好" * 5001},
        {"sender": "", "message": "你好"},
        {"message": "你好"},
        {"sender": "x", "message": 42},
        {"sender": "x", "message": "你好", "metadata": "nope"},
        ["not", "an", "object"],
    ],
)
def test_malformed_requests_get_400_and_the_server_keeps_serving(bot: Bot, body: object) -> None:
    assert bot.post(body).status_code == 400
    assert bot.say(new_sender(), "你好")


def test_invalid_json_gets_400(bot: Bot) -> None:
    reply = requests.post(
        f"{bot.base_url}/webhooks/rest/webhook",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 400


class Visitor:
    """A widget visitor: a real socket.io client (long-polling, which needs no extra packages)."""

    def __init__(
        self, bot: Bot, resume: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.client = socketio.Client(reconnection=False)
        self.received: list[str] = []
        self.confirmed: dict[str, str] = {}
        self._confirmation = threading.Event()
        self.client.on("bot_uttered", lambda data: self.received.append(str(data.get("text", ""))))
        self.client.on("session_confirm", self._on_confirm)
        self.client.connect(bot.base_url, headers=headers or {}, transports=["polling"], wait_timeout=30)
        self.request_session(resume or {})

    def _on_confirm(self, data: dict[str, str]) -> None:
        self.confirmed = data
        self._confirmation.set()

    def request_session(self, asked: dict[str, str]) -> dict[str, str]:
        self._confirmation.clear()
        self.client.emit("session_request", asked)
        assert self._confirmation.wait(30)
        return self.confirmed

    @property
    def conversation(self) -> str:
        return f"web:{self.confirmed['session_id']}"

    def say(self, text: str, **extra: str) -> str:
        """Sends a message; the acknowledgement's text (as stored) once the turn is over."""
        self.received.clear()
        stored = self.client.call("user_uttered", {"message": text, **extra}, timeout=60)
        return stored["text"]

    def close(self) -> None:
        self.client.eio.disconnect(abort=True)  # a clean disconnect waits out a long-poll (30 s)


def user_texts(tracker: dict) -> list[str]:
    return [event.get("text") or "" for event in tracker.get("events", []) if event.get("event") == "user"]


def test_the_server_issues_widget_sessions_and_resumes_only_signed_ones(bot: Bot) -> None:
    visitor = Visitor(bot)
    first = dict(visitor.confirmed)
    assert len(first["session_id"]) == 32 and first["session_token"]
    visitor.say("你好")
    assert any("误刷助手" in text for text in visitor.received)
    assert visitor.request_session(first) == first  # shown its signature, the session resumes
    for forged in ({"session_id": first["session_id"]}, {**first, "session_token": "x" * 43}, {}):
        assert visitor.request_session(forged)["session_id"] != first["session_id"]
    visitor.close()


def test_knowing_a_visitors_session_id_grants_nothing(bot: Bot) -> None:
    owner = Visitor(bot)
    owner.say("我在华联超市被重复扣款了，多扣了3000元")
    owner.say("同意")
    owner.say("工商银行")
    owner.say("昨天")
    case_id = case_id_in(bot.tracker(owner.conversation))
    session_id = owner.confirmed["session_id"]

    stranger = Visitor(bot, resume={"session_id": session_id})
    assert stranger.confirmed["session_id"] != session_id
    stranger.say("查询进度", session_id=session_id)  # a session id in the payload is ignored
    owner.say("查看清单")  # the owner's replies go to the owner's room only
    heard = "".join(stranger.received)
    assert case_id not in heard and "华联" not in heard and "3000" not in heard
    assert stranger.say(f"查一下{case_id}的进度") and case_id not in "".join(stranger.received)

    for sender in (session_id, f"web:{session_id}", owner.conversation):
        replies = bot.text(sender, "钱已经退回来了")
        assert case_id not in replies
    assert "查询进度" not in user_texts(bot.tracker(owner.conversation))
    assert "钱已经退回来了" not in user_texts(bot.tracker(owner.conversation))
    assert case_rows_by_id(bot, case_id)["status"] != "resolved"
    owner.close()
    stranger.close()


def test_the_widget_is_told_the_masked_text_it_may_keep(bot: Bot) -> None:
    visitor = Visitor(bot)
    stored = visitor.say("卡号6222021234567890，验证码834271")
    assert "6222021234567890" not in stored and "834271" not in stored and "尾号7890" in stored
    visitor.close()


def case_id_in(tracker: dict) -> str:
    texts = " ".join(event.get("text") or "" for event in tracker["events"] if event.get("event") == "bot")
    return re.search(r"WS-\d{8}-\d{4}", texts)[0]


def case_rows_by_id(bot: Bot, case_id: str) -> sqlite3.Row:
    with closing(sqlite3.connect(bot.case_db)) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()


def test_a_page_of_another_site_cannot_open_the_widgets_connection(bot: Bot) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        Visitor(bot, headers={"Origin": "https://evil.example"})
    Visitor(bot, headers={"Origin": "http://localhost:8000"}).close()
    Visitor(bot, headers={"Origin": bot.base_url}).close()  # the demo page the bot serves itself


def test_a_message_outside_the_turn_counts_as_delivered_only_when_the_widget_acknowledges_it(
    bot: Bot,
) -> None:
    visitor = Visitor(bot)
    visitor.say("你好")
    visitor.received.clear()
    taken = asyncio.run(staff_bridge.call(bot.base_url, "takeover", visitor.conversation, "alice"))
    assert taken.ok and taken.delivered, taken
    assert any("人工客服alice已接入" in text for text in visitor.received), visitor.received
    conversation = visitor.conversation
    visitor.close()
    answer = asyncio.run(staff_bridge.call(bot.base_url, "reply", conversation, "alice", "还在吗？"))
    assert answer.ok and not answer.delivered and answer.reason == WIDGET_OFFLINE, answer
    assert "还在吗？" in [event.get("text") for event in bot.tracker(conversation)["events"]]
    assert asyncio.run(staff_bridge.call(bot.base_url, "handback", conversation, "alice")).ok


def open_a_case(bot: Bot, user: str) -> str:
    """A mis-swipe reported, the notice agreed to, the facts answered: the case id."""
    report_and_agree(bot, user, "我在华联超市刷卡被重复扣款了，多扣了3456元")
    bot.say(user, "工商银行")
    return re.search(r"WS-\d{8}-\d{4}", bot.text(user, "昨天"))[0]


def test_a_user_takes_a_copy_of_their_data_then_deletes_it(bot: Bot) -> None:
    user, bystander = new_sender(), new_sender()
    case_id, kept_id = open_a_case(bot, user), open_a_case(bot, bystander)

    copy = bot.say(user, "导出我的信息")
    link = next(reply["custom"]["data"]["export_url"] for reply in copy if "custom" in reply)
    download = requests.get(bot.base_url + link, timeout=30)
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    exported = download.json()
    assert [case["case_id"] for case in exported["cases"]] == [case_id]
    assert "我在华联超市刷卡被重复扣款了，多扣了3456元" in [turn["text"] for turn in exported["transcript"]]

    assert "确认要删除" in bot.text(user, "删除我的信息")
    assert "已取消" in bot.text(user, "先不删了")
    assert "确认要删除" in bot.text(user, "确认删除")  # the confirmation is asked again first
    assert "已为您删除" in bot.text(user, "确认删除")
    deadline = time.monotonic() + 30
    while user_texts(bot.tracker(user)) and time.monotonic() < deadline:
        time.sleep(0.5)  # the server erases once the turn has let go of the conversation
    assert user_texts(bot.tracker(user)) == []  # what Rasa's API makes of an unknown conversation
    assert case_rows(bot, f"rest:{user}") == []
    tombstone = case_rows_by_id(bot, case_id)  # that a case existed, with nothing personal
    assert tombstone["erased_at"] and tombstone["merchant"] is None and tombstone["amount"] is None
    assert requests.get(bot.base_url + link, timeout=30).status_code == 404
    assert "3456" not in bot.text(user, "查询进度")

    assert case_rows_by_id(bot, kept_id)["merchant"] == "华联超市"
    assert "我在华联超市刷卡被重复扣款了，多扣了3456元" in user_texts(bot.tracker(bystander))
