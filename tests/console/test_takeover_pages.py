"""The console's side of live takeover: the card, the forms, the live stream and the automatic hand-back.

The Rasa server's staff channel is replaced by a recording fake of
``bot.infra.staff_bridge.call``; ``tests/browser/test_takeover.py`` and
``tests/test_wechat_e2e.py`` run the real one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from console_support import Console
from tracker_events import reply, session, user, write_events

from bot.console.pages import takeover
from bot.domain.cases import Facts
from bot.domain.clock import CHINA
from bot.domain.delivery import WIDGET_OFFLINE
from bot.infra import staff_bridge
from bot.infra.staff_bridge import BridgeAnswer

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=CHINA)


def pause() -> dict[str, Any]:
    return {"event": "pause"}


def resume() -> dict[str, Any]:
    return {"event": "resume"}


def staff_reply(text: str, staff: str) -> dict[str, Any]:
    return {"event": "bot", "text": text, "data": {}, "metadata": {"staff": staff}}


@pytest.fixture
def bridge_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    calls: list[tuple[str, ...]] = []

    async def call(
        rasa_url: str, operation: str, conversation_id: str, staff: str, text: str = ""
    ) -> BridgeAnswer:
        calls.append((operation, conversation_id, staff, text))
        if conversation_id.endswith("offline"):
            return BridgeAnswer(True, False, WIDGET_OFFLINE)
        return BridgeAnswer(True, True)

    monkeypatch.setattr(staff_bridge, "call", call)
    return calls


def test_a_taken_over_conversation_silent_too_long_is_handed_back_with_a_note(
    console: Console, bridge_calls: list[tuple[str, ...]]
) -> None:
    store, settings = console.store, console.settings
    assert settings.takeover_idle_timeout == timedelta(minutes=15)
    silent = store.cases.open_case("rest:silent", "rest", "misswipe", Facts(bank="工商银行"))
    conversations = {
        "rest:silent": (NOW - timedelta(minutes=20), [*session(), user("转人工", "request_human"), pause()]),
        "rest:busy": (NOW - timedelta(minutes=20), [*session(), pause()]),
        "rest:handed-back": (NOW - timedelta(hours=2), [*session(), pause(), resume()]),
        "rest:never": (NOW - timedelta(hours=2), [*session(), user("你好", "greet")]),
    }
    for sender_id, (start, events) in conversations.items():
        write_events(settings.tracker_db, sender_id, events, start)
    # Someone still writes in the busy one: five minutes ago.
    write_events(settings.tracker_db, "rest:busy", [user("还在吗", "affirm")], NOW - timedelta(minutes=5))

    handed_back = asyncio.run(takeover.hand_back_silent_conversations(console.app, NOW))

    assert handed_back == ["rest:silent"]
    assert bridge_calls == [("handback", "rest:silent", takeover.AUTOMATIC, "")]
    notes = store.notes(silent.case_id)
    assert [note.text for note in notes] == ["人工接管后15分钟无人发言，已自动交还助手。"]
    entries = store.audit_log(sender_id="rest:silent")
    assert [entry.action for entry in entries] == ["conversation_handed_back_automatically"]


def test_take_over_reply_and_hand_back_are_audited_and_undelivered_is_said(
    console: Console, bridge_calls: list[tuple[str, ...]]
) -> None:
    store, settings = console.store, console.settings
    write_events(
        settings.tracker_db, "web:abc", [*session(), user("你好", "greet")], NOW - timedelta(minutes=1)
    )
    write_events(settings.tracker_db, "web:offline", [*session(), pause()], NOW - timedelta(minutes=1))
    staff = console.signed_in("bob", role="agent")
    page = staff.get("/conversation", params={"sender": "web:abc"})
    assert "接手" in page.text and 'src="/static/takeover.js"' in page.text

    taken = staff.submit(
        "/conversation/takeover", {"sender": "web:abc", "next": "/conversation?sender=web:abc"}
    )
    assert taken.status_code == 200 and taken.url.endswith("/conversation?sender=web:abc#takeover")
    sent = staff.submit("/conversation/reply", {"sender": "web:abc", "text": "  您好，我来帮您处理  "})
    assert sent.status_code == 200
    assert staff.submit("/conversation/reply", {"sender": "web:abc", "text": "   "}).status_code == 400
    assert staff.submit("/conversation/reply", {"sender": "web:abc", "text": "长" * 2001}).status_code == 400
    staff.submit("/conversation/handback", {"sender": "web:abc"})
    offline = staff.submit("/conversation/reply", {"sender": "web:offline", "text": "在吗"})
    assert offline.status_code == 200 and "没有送达" in offline.text and "不在线" in offline.text

    assert [call[0] for call in bridge_calls] == ["takeover", "reply", "handback", "reply"]
    assert bridge_calls[1] == ("reply", "web:abc", "bob", "您好，我来帮您处理")
    changes = store.audit_log(sender_id="web:abc", views=False)
    actions = [(entry.action, entry.username) for entry in reversed(changes)]
    assert actions == [
        ("conversation_taken_over", "bob"),
        ("staff_replied", "bob"),
        ("conversation_handed_back", "bob"),
    ]
    [undelivered] = store.audit_log(sender_id="web:offline")
    assert undelivered.detail == {"delivered": False, "reason": WIDGET_OFFLINE, "text": "在吗"}


def test_the_page_shows_the_takeover_and_staff_turns_with_their_name(console: Console) -> None:
    settings = console.settings
    events = [*session(), user("转人工", "request_human"), pause(), staff_reply("您好，我是客服", "carol")]
    write_events(settings.tracker_db, "wechat:oSTALE", events, NOW - timedelta(hours=50))
    page = console.signed_in().get("/conversation", params={"sender": "wechat:oSTALE"}).text
    assert "人工服务中" in page and "交还助手" in page and "发送" in page
    assert "人工客服 carol" in page and "人工客服接管" in page
    assert "超过48小时" in page  # a WeChat user who cannot be written to any more


def test_the_stream_sends_new_turns_after_the_one_asked_for(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(takeover, "STREAM_SECONDS", 0.5)
    events = [*session(), user("第一句", "greet"), *reply("utter_greet", "您好"), user("第二句", "affirm")]
    write_events(console.settings.tracker_db, "web:live", events, NOW)
    staff = console.signed_in()
    everything = staff.get("/conversation/stream", params={"sender": "web:live"})
    assert everything.headers["Content-Type"].startswith("text/event-stream")
    assert (
        "第一句" in everything.text
        and "第二句" in everything.text
        and '"taken_over": false' in everything.text
    )
    first_id = next(
        int(block.split("\n", 1)[0].removeprefix("id: "))
        for block in everything.text.split("\n\n")
        if block.startswith("id: ") and "第一句" in block
    )
    later = staff.get(
        "/conversation/stream", headers={"Last-Event-ID": str(first_id)}, params={"sender": "web:live"}
    )
    assert "第一句" not in later.text and "第二句" in later.text
    assert staff.get("/conversation/stream", params={"sender": "web:nobody"}).status_code == 404
    assert requests.get(console.base_url + "/conversation/stream?sender=web:live", timeout=10).url.endswith(
        "/login?next=%2Fconversation%2Fstream%3Fsender%3Dweb%3Alive"
    )
