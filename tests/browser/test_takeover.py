"""Staff take over a widget conversation live from the console, and hand it back.

Two pages in one Chromium: a visitor in the widget (the real bot behind the
proxy of ``conftest.py``) and a staff member in the console, which runs here
over the bot's own databases and calls the Rasa server's staff channel.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from server_env import ServerThread
from test_widget import Chat

from bot.console.app import create_app
from bot.console.auth import StaffAuth
from bot.console.settings import Settings
from bot.infra import server_secret

if TYPE_CHECKING:
    from conftest import Servers
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

PASSWORD = "a long staff password 7"
REPLY_MS = 30_000


@pytest.fixture
def console_url(servers: Servers) -> Iterator[str]:
    server_secret.server_secret.cache_clear()  # the secret the servers got (tests/conftest.py)
    app = create_app(
        Settings(case_db=servers.case_db, tracker_db=servers.tracker_db, rasa_url=servers.base_url)
    )
    StaffAuth(app.ctx.store.db, app.ctx.settings).add_user("alice", PASSWORD, role="agent", by="test")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = ServerThread(app, sock)
    thread.start()
    assert thread.ready.wait(timeout=30), "console did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        thread.stop()
        app.ctx.store.close()


def signed_in(browser: Browser, console_url: str) -> Page:
    page = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900}).new_page()
    page.goto(console_url + "/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_selector("h1:has-text('案件队列')")
    return page


def test_staff_take_over_reply_see_the_answer_live_and_hand_back(
    browser: Browser, servers: Servers, console_url: str
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    visitor = Chat(context.new_page(), servers)
    visitor.open()
    visitor.say("我在华联超市被重复扣款了3000元")
    visitor.agree()
    visitor.bot_reply("哪家银行")
    conversation = "web:" + visitor.session_id()

    staff = signed_in(browser, console_url)
    staff.goto(f"{console_url}/conversation?sender={conversation}")
    staff.click("#takeover button:has-text('接手')")
    expect(staff.locator("#takeover-state")).to_contain_text("人工服务中")
    visitor.bot_reply("人工客服alice已接入")

    staff.fill("#takeover textarea[name=text]", "您好，我是客服小王，请问扣款的是哪家银行的卡？")
    staff.click("#takeover button:has-text('发送')")
    reply = visitor.bot_reply("我是客服小王")
    expect(visitor.page.locator(".wushua-staff").last).to_have_text("人工客服 alice")
    assert reply.is_visible()

    # The visitor answers; the bot stays silent and the console shows the answer without a reload.
    staff.evaluate("window.stillTheSamePage = true")
    bot_messages_before = visitor.bot_bubbles.count()
    visitor.say("是招商银行的信用卡")
    expect(staff.locator("#chat .turn.user").last).to_contain_text("是招商银行的信用卡", timeout=REPLY_MS)
    assert staff.evaluate("window.stillTheSamePage") is True
    staff.wait_for_timeout(2_000)
    assert visitor.bot_bubbles.count() == bot_messages_before  # the bot did not answer

    staff.click("#takeover button:has-text('交还助手')")
    expect(staff.locator("#takeover-state")).to_contain_text("助手服务中")
    visitor.bot_reply("智能助手继续为您服务")
    # The form still stands: its question comes again, and the next answer fills it.
    handed_back = visitor.bot_bubbles.last.inner_text()
    assert "哪家银行" in handed_back
    visitor.say("招商银行")
    visitor.bot_reply("这笔交易是哪天")
    context.close()
    assert visitor.errors == []
