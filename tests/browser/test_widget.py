"""The web widget in headless Chromium, against the real bot (see conftest.py).

Each test gets a fresh browser context, so a fresh localStorage and a new
conversation; the page is the demo page the Rasa server itself serves.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from accessibility import assert_accessible
from PIL import Image
from slip_pictures import Slip, slip_jpeg

from bot.infra.identity import conversation_id

try:
    from playwright.sync_api import Browser, Dialog, Locator, Page, expect
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("the playwright package is not installed", allow_module_level=True)

if TYPE_CHECKING:
    from conftest import Servers

pytestmark = pytest.mark.browser

SLIP = Slip(day="2026/11/24")
REPLY_MS = 30_000  # the first reply of a fresh server also warms the action server up
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


class Chat:
    """The demo page with the widget, and what went over the wire."""

    def __init__(self, page: Page, servers: Servers) -> None:
        self.page, self.servers = page, servers
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.sent: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        # The widget's socket.io runs over a WebSocket only; record what the
        # page sends over it and over any HTTP request.
        page.on("websocket", lambda socket: socket.on("framesent", self._record))
        page.on("request", lambda request: self._record(request.post_data_buffer or b""))
        self.input = page.locator("#wushua-input")
        self.send_button = page.get_by_role("button", name="发送")
        self.launcher = page.locator(".wushua-launcher")
        self.notice = page.locator(".wushua-status")
        self.user_bubbles = page.locator(".wushua-message--user .wushua-bubble")
        self.bot_bubbles = page.locator(".wushua-message--bot .wushua-bubble")

    def _record(self, sent: str | bytes) -> None:
        self.sent.append(sent.decode(errors="replace") if isinstance(sent, bytes) else sent)

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def load(self) -> None:
        self.page.goto(self.servers.demo_url)

    def open(self) -> None:
        self.load()
        self.launcher.click()
        self.wait_until_online()

    def wait_until_online(self) -> None:
        expect(self.send_button).to_be_enabled(timeout=20_000)

    def say(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def bot_reply(self, containing: str) -> Locator:
        reply = self.bot_bubbles.filter(has_text=containing).last
        expect(reply).to_be_visible(timeout=REPLY_MS)
        return reply

    def agree(self) -> None:
        """Agrees to the privacy notice a report is answered with, by its button."""
        self.page.get_by_role("button", name="同意", exact=True).click(timeout=REPLY_MS)

    def utterances(self) -> list[str]:
        return [frame for frame in self.sent if "user_uttered" in frame]

    def session_id(self) -> str:
        return json.loads(self.page.evaluate("localStorage.getItem('wushua-widget:session')"))


@pytest.fixture
def chat(browser: Browser, servers: Servers) -> Iterator[Chat]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    chat = Chat(context.new_page(), servers)
    yield chat
    context.close()
    assert chat.errors == [], "the widget threw in the page"


def test_the_widget_opens_on_the_input_and_esc_closes_it(chat: Chat) -> None:
    chat.load()
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")
    chat.launcher.focus()
    chat.page.keyboard.press("Enter")
    expect(chat.page.get_by_role("dialog", name="误刷助手")).to_be_visible()
    expect(chat.input).to_be_focused()
    expect(chat.input).to_have_attribute("placeholder", "请输入您的问题…")
    expect(chat.page.locator(".wushua-messages")).to_have_attribute("aria-live", "polite")
    chat.page.keyboard.press("Escape")
    expect(chat.page.get_by_role("dialog")).to_be_hidden()
    expect(chat.launcher).to_be_focused()
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")


def test_a_message_gets_a_reply_with_a_typing_indicator_meanwhile(chat: Chat) -> None:
    chat.open()
    chat.input.fill("你好")
    # Read the indicator in the same task as the send, before any reply can land.
    typing_label = chat.page.evaluate(
        """() => {
            document.querySelector('.wushua-composer').requestSubmit();
            const typing = document.querySelector('.wushua-typing');
            return typing.hidden ? null : typing.getAttribute('aria-label');
        }"""
    )
    assert typing_label == "正在输入"
    expect(chat.user_bubbles.last).to_have_text("你好")
    expect(chat.input).to_have_value("")
    chat.bot_reply("误刷助手")
    expect(chat.page.locator(".wushua-typing")).to_be_hidden()
    assert len(chat.utterances()) == 1


def test_the_privacy_notice_comes_first_and_its_button_agrees(chat: Chat) -> None:
    chat.open()
    chat.say("我在华联超市被重复扣款了3000元")
    notice = chat.bot_reply("为您登记案件前")
    assert "金额、商户已收到" in notice.inner_text()
    expect(chat.page.get_by_role("button", name="不同意", exact=True)).to_be_visible()
    expect(chat.page.get_by_role("button", name="工商银行", exact=True)).to_have_count(0)
    chat.agree()
    expect(chat.user_bubbles.last).to_have_text("同意")
    chat.bot_reply("哪家银行")
    expect(chat.page.get_by_role("button", name="工商银行", exact=True)).to_be_visible()


def test_a_button_sends_its_payload_and_shows_its_title(chat: Chat) -> None:
    chat.open()
    chat.say("我在华联超市被重复扣款了3000元")
    chat.agree()
    bank = chat.page.get_by_role("button", name="工商银行", exact=True)
    expect(bank).to_be_visible(timeout=REPLY_MS)
    bank.click()
    expect(chat.user_bubbles.last).to_have_text("工商银行")
    chat.bot_reply("哪天")
    expect(bank).to_be_disabled()  # old choices stay visible but are answered


def test_a_reload_shows_the_history_and_continues_the_conversation(chat: Chat) -> None:
    chat.open()
    chat.say("我在华联超市被重复扣款了3000元")
    chat.agree()
    expect(chat.page.get_by_role("button", name="工商银行", exact=True)).to_be_visible(timeout=REPLY_MS)
    before = chat.page.locator(".wushua-messages").inner_text()
    session = chat.session_id()

    chat.page.reload()
    chat.wait_until_online()  # the panel was open, so it opens again

    assert chat.session_id() == session
    assert chat.page.locator(".wushua-messages").inner_text() == before
    chat.page.get_by_role("button", name="工商银行", exact=True).click()
    chat.bot_reply("哪天")  # the form picked up where it was: same conversation on the server


def test_enter_while_an_input_method_is_composing_sends_nothing(chat: Chat) -> None:
    chat.open()
    chat.input.focus()

    # What Chrome reports while a pinyin IME is open: isComposing, keyCode 229.
    chat.page.evaluate(
        """() => {
            const input = document.getElementById('wushua-input');
            input.dispatchEvent(new CompositionEvent('compositionstart', {data: ''}));
            input.value = 'nihao';
            for (const init of [{isComposing: true}, {keyCode: 229}, {}]) {
                input.dispatchEvent(new KeyboardEvent('keydown',
                    {key: 'Enter', bubbles: true, cancelable: true, ...init}));
            }
        }"""
    )
    # And a real composition through the DevTools protocol, Enter pressed mid-way.
    chat.page.context.new_cdp_session(chat.page).send(
        "Input.imeSetComposition", {"text": "你好", "selectionStart": 2, "selectionEnd": 2}
    )
    chat.page.keyboard.press("Enter")
    chat.page.wait_for_timeout(1000)
    expect(chat.user_bubbles).to_have_count(0)
    assert chat.utterances() == []

    chat.page.evaluate(
        "document.getElementById('wushua-input').dispatchEvent(new CompositionEvent('compositionend'))"
    )
    chat.input.fill("你好")
    chat.input.press("Enter")  # composition over: now Enter sends
    expect(chat.user_bubbles).to_have_count(1)
    assert len(chat.utterances()) == 1


def test_shift_enter_makes_a_new_line(chat: Chat) -> None:
    chat.open()
    chat.input.fill("第一行")
    chat.input.press("Shift+Enter")
    chat.input.press_sequentially("第二行")
    expect(chat.input).to_have_value("第一行\n第二行")
    chat.input.press("Enter")
    expect(chat.user_bubbles.last).to_have_text("第一行\n第二行")


def test_markup_in_a_message_is_shown_as_text(chat: Chat) -> None:
    chat.open()
    chat.say("<script>alert(1)</script>")
    expect(chat.user_bubbles.last).to_have_text("<script>alert(1)</script>")
    expect(chat.bot_bubbles.first).to_be_visible(timeout=REPLY_MS)
    assert chat.page.locator(".wushua-root script, .wushua-root img").count() == 0
    assert chat.dialogs == []


def test_bot_text_is_rendered_safely_with_only_web_links(chat: Chat) -> None:
    """Stored history is rendered exactly like live bot messages: seed it, reload."""
    chat.open()
    session = chat.session_id()
    history = [
        {"role": "bot", "text": "<img src=x onerror=alert(1)>\n第二行", "buttons": []},
        {"role": "bot", "text": "详见 https://www.pbc.gov.cn/ 。也可以javascript:alert(2)"},
        {
            "role": "bot",
            "text": "☐ 联系商户\n☑ 收集凭证",
            "link": "https://evil.example/webhooks/widget/checklist/x",
        },
        {"role": "bot", "text": "清单", "link": "javascript:alert(3)"},
    ]
    chat.page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)",
        [f"wushua-widget:history:{session}", json.dumps(history)],
    )
    chat.page.reload()
    chat.wait_until_online()

    expect(chat.bot_bubbles.nth(0)).to_have_text("<img src=x onerror=alert(1)>\n第二行")
    expect(chat.bot_bubbles.nth(2)).to_have_text("☐ 联系商户\n☑ 收集凭证")
    links = chat.page.locator(".wushua-messages a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://www.pbc.gov.cn/")
    expect(links).to_have_attribute("target", "_blank")
    expect(links).to_have_attribute("rel", "noopener noreferrer")
    assert chat.page.locator(".wushua-root img").count() == 0
    assert chat.dialogs == []


def test_secrets_are_masked_in_the_bubble_and_in_local_storage(chat: Chat) -> None:
    chat.open()
    chat.say("我的卡号是4111 1111 1111 1111，被重复扣款了")
    expect(chat.user_bubbles.last).to_have_text("我的卡号是[卡号已隐藏，尾号1111]，被重复扣款了")
    chat.bot_reply("卡号")
    chat.say("验证码是834271，CVV 627")
    expect(chat.user_bubbles.last).not_to_contain_text("834271", timeout=REPLY_MS)
    chat.page.reload()
    chat.wait_until_online()
    stored = chat.page.evaluate("JSON.stringify(localStorage)")
    assert "4111" not in stored.replace("尾号1111", "") and "834271" not in stored and "627" not in stored
    expect(chat.user_bubbles).to_have_count(2)  # both kept, as the server stored them


def test_a_session_id_without_the_servers_signature_starts_a_new_conversation(chat: Chat) -> None:
    chat.open()
    chat.say("我在华联超市被重复扣款了3000元")
    chat.agree()
    expect(chat.page.get_by_role("button", name="工商银行", exact=True)).to_be_visible(timeout=REPLY_MS)
    owner = chat.session_id()
    # Another visitor's page that learnt this id (a screenshot, a log) and tries to use it.
    stranger = chat.page.context.browser.new_context(locale="zh-CN").new_page()
    stranger.goto(chat.servers.demo_url)
    stranger.evaluate(
        "id => { localStorage.setItem('wushua-widget:session', JSON.stringify(id));"
        " localStorage.setItem('wushua-widget:token', JSON.stringify('forged')); }",
        owner,
    )
    stranger.reload()
    stranger.locator(".wushua-launcher").click()
    expect(stranger.get_by_role("button", name="发送")).to_be_enabled(timeout=20_000)
    issued = json.loads(stranger.evaluate("localStorage.getItem('wushua-widget:session')"))
    assert issued != owner
    chat.page.get_by_role("button", name="工商银行", exact=True).click()
    chat.bot_reply("哪天")  # the owner's conversation goes on, and only the owner hears it
    expect(stranger.locator(".wushua-message")).to_have_count(0)
    stranger.context.close()


def test_the_checklist_link_opens_the_printable_checklist(chat: Chat) -> None:
    chat.open()
    chat.say("我在永辉超市被扣了两次，每次88元")
    chat.agree()
    chat.page.get_by_role("button", name="建设银行", exact=True).click(timeout=REPLY_MS)
    chat.bot_reply("哪天")
    chat.say("昨天")
    chat.bot_reply("案件号")
    chat.say("把我的清单再发一遍")
    link = chat.page.get_by_role("link", name="打印 / 保存清单")
    expect(link).to_be_visible(timeout=REPLY_MS)
    expect(link).to_have_attribute("target", "_blank")
    href = link.get_attribute("href") or ""
    assert href.startswith(f"{chat.servers.base_url}/webhooks/widget/checklist/")
    with chat.page.context.expect_page() as opened:
        link.click()
    checklist = opened.value
    checklist.wait_for_load_state()
    assert "☐" in checklist.locator("body").inner_text()
    assert requests.get(href, timeout=30).status_code == 200


def test_a_photo_of_the_slip_fills_the_case_after_confirmation(chat: Chat, tmp_path: Path) -> None:
    chat.open()
    chat.say("我在永辉超市被重复扣款了")
    chat.agree()
    chat.page.get_by_role("button", name="建设银行", exact=True).click(timeout=REPLY_MS)
    chat.bot_reply("金额")
    photo = tmp_path / "slip.jpg"
    photo.write_bytes(slip_jpeg(SLIP, exif_gps=True))
    expect(chat.page.get_by_role("button", name="上传凭证照片", exact=False)).to_be_enabled()
    chat.page.locator(".wushua-composer input[type=file]").set_input_files(photo)
    expect(chat.user_bubbles.last).to_have_text("［已发送一张凭证照片］")
    reading = chat.bot_reply("我从这张签购单上读到").inner_text()
    assert "金额：88元" in reading and "卡号尾号：4321" in reading and SLIP.ref_no in reading
    assert _case_rows(chat) == []  # nothing is filed before the user confirms

    chat.page.get_by_role("button", name="对，记下来", exact=True).click()
    chat.bot_reply("已记下图片上的信息")
    chat.bot_reply("案件号")
    [case] = _case_rows(chat)
    assert (case["amount"], case["txn_date"], case["card_last4"]) == (88.0, "2026-11-24", "4321")
    assert case["merchant"].startswith("永辉超市")
    with sqlite3.connect(chat.servers.case_db) as db:
        db.row_factory = sqlite3.Row
        [stored] = db.execute(
            "SELECT case_id, status, image FROM receipts WHERE case_id = ?", [case["case_id"]]
        ).fetchall()
    assert (stored["case_id"], stored["status"]) == (case["case_id"], "confirmed")
    picture = Image.open(io.BytesIO(stored["image"]))
    assert picture.format == "JPEG" and not picture.getexif()  # the GPS position stayed on the phone


def test_a_picture_is_refused_politely_without_a_session_or_when_it_is_no_picture(chat: Chat) -> None:
    chat.open()
    url = f"{chat.servers.base_url}/webhooks/socketio/receipt"
    no_session = requests.post(url, data=slip_jpeg(SLIP), timeout=30)
    assert no_session.status_code == 401 and "刷新页面" in no_session.json()["text"]
    session = {
        "X-Widget-Session": chat.session_id(),
        "X-Widget-Token": json.loads(chat.page.evaluate("localStorage.getItem('wushua-widget:token')")),
    }
    not_a_picture = requests.post(url, data=b"<svg onload=alert(1)>", headers=session, timeout=30)
    assert not_a_picture.status_code == 415 and "JPG或PNG" in not_a_picture.json()["text"]
    too_large = requests.post(url, data=b"\xff" * (10 * 1024 * 1024 + 1), headers=session, timeout=60)
    assert too_large.status_code == 413
    assert requests.get(f"{chat.servers.base_url}/webhooks/socketio/", timeout=30).status_code == 200


def _case_rows(chat: Chat) -> list[sqlite3.Row]:
    """This conversation's cases (the servers, and their store, serve every test of the module)."""
    with sqlite3.connect(chat.servers.case_db) as db:
        db.row_factory = sqlite3.Row
        return db.execute(
            "SELECT case_id, amount, txn_date, merchant, card_last4 FROM cases WHERE sender_id = ?",
            [conversation_id("socketio", chat.session_id())],
        ).fetchall()


def test_a_visitor_downloads_a_copy_of_their_data_then_deletes_it(chat: Chat) -> None:
    chat.open()
    chat.say("我在永辉超市被扣了两次，每次88元")
    chat.page.get_by_role("button", name="同意", exact=True).click(timeout=REPLY_MS)
    chat.page.get_by_role("button", name="建设银行", exact=True).click(timeout=REPLY_MS)
    chat.bot_reply("哪天")
    chat.say("昨天")
    chat.bot_reply("案件号")
    old_session = chat.session_id()

    chat.say("导出我的信息")
    download = chat.page.get_by_role("link", name="下载我的信息副本")
    expect(download).to_be_visible(timeout=REPLY_MS)
    href = download.get_attribute("href") or ""
    assert href.startswith(f"{chat.servers.base_url}/webhooks/widget/export/")
    copy = requests.get(href, timeout=30)
    assert copy.status_code == 200 and copy.json()["cases"][0]["facts"]["merchant"] == "永辉超市"

    chat.say("删除我的信息")
    chat.page.get_by_role("button", name="确认删除", exact=True).click(timeout=REPLY_MS)
    chat.bot_reply("已为您删除")
    # Only the notice is left on screen, in a new session; this page keeps nothing of the old one.
    expect(chat.page.locator(".wushua-message")).to_have_count(1)
    expect(chat.page.locator(".wushua-messages")).not_to_contain_text("永辉超市")
    assert chat.session_id() not in (None, old_session)
    assert chat.page.evaluate(f"localStorage.getItem('wushua-widget:history:{old_session}')") is None
    for _ in range(60):  # the server erases once the turn has let go of the conversation
        if requests.get(href, timeout=30).status_code == 404:
            break
        chat.page.wait_for_timeout(500)
    assert requests.get(href, timeout=30).status_code == 404
    chat.say("查询进度")
    chat.bot_reply("目前没有进行中的案件")


def test_offline_shows_a_notice_keeps_the_text_and_recovers(chat: Chat) -> None:
    chat.open()
    proxy = chat.servers.proxy

    proxy.stop()
    expect(chat.notice).to_be_visible(timeout=10_000)
    expect(chat.notice).to_contain_text("暂时连不上服务器")
    expect(chat.send_button).to_be_disabled()
    chat.say("你好")  # typed while offline: not sent, not lost
    expect(chat.input).to_have_value("你好")
    expect(chat.user_bubbles).to_have_count(0)

    proxy.start()
    chat.page.get_by_role("button", name="重试").click()  # no waiting for socket.io's back-off
    expect(chat.notice).to_be_hidden(timeout=10_000)
    chat.input.press("Enter")
    chat.bot_reply("误刷助手")  # the new socket rejoined the conversation's room

    proxy.stop()
    expect(chat.notice).to_be_visible(timeout=10_000)
    proxy.start()
    expect(chat.notice).to_be_hidden(timeout=20_000)  # socket.io retries by itself too


@pytest.mark.parametrize(
    ("name", "viewport"),
    [("widget-phone", {"width": 360, "height": 740}), ("widget-desktop", {"width": 1280, "height": 800})],
)
def test_screenshots_of_a_conversation(browser: Browser, servers: Servers, name: str, viewport: dict) -> None:
    context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=1)
    chat = Chat(context.new_page(), servers)
    try:
        chat.open()
        panel = chat.page.locator(".wushua-panel").bounding_box()
        assert panel is not None
        if viewport["width"] <= 480:  # full-screen on a phone
            assert (panel["width"], panel["height"]) == (viewport["width"], viewport["height"])
        else:
            assert panel["width"] < viewport["width"] / 2
        chat.say("你好")
        chat.bot_reply("误刷助手")
        chat.say("我在华联超市被重复扣款了3000元")
        chat.agree()
        expect(chat.page.get_by_role("button", name="工商银行", exact=True)).to_be_visible(timeout=REPLY_MS)
        chat.page.mouse.move(0, 0)  # no hover highlight in the picture
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path: Path = SCREENSHOTS / f"{name}.png"
        chat.page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000
    finally:
        context.close()


def test_the_widget_has_no_wcag_violations_closed_in_a_conversation_and_offline(chat: Chat) -> None:
    chat.load()
    expect(chat.launcher).to_be_visible()
    assert_accessible(chat.page, "the demo page with the widget closed")

    chat.open()
    chat.say("我在永辉超市被扣了两次，每次88元")
    chat.agree()
    expect(chat.page.get_by_role("button", name="建设银行", exact=True)).to_be_visible(timeout=REPLY_MS)
    assert_accessible(chat.page, "the widget offering bank buttons")
    chat.page.get_by_role("button", name="建设银行", exact=True).click()
    chat.bot_reply("哪天")
    chat.say("昨天")
    chat.bot_reply("案件号")
    chat.say("把我的清单再发一遍")
    link = chat.page.get_by_role("link", name="打印 / 保存清单")
    expect(link).to_be_visible(timeout=REPLY_MS)
    assert_accessible(chat.page, "the widget after a conversation with answered buttons and a link")

    with chat.page.context.expect_page() as opened:
        link.click()
    checklist = opened.value
    checklist.wait_for_load_state()
    assert_accessible(checklist, "the printable checklist the widget links to")
    checklist.close()

    proxy = chat.servers.proxy
    proxy.stop()
    try:
        expect(chat.notice).to_be_visible(timeout=10_000)
        assert_accessible(chat.page, "the widget offline, with its notice and retry button")
    finally:
        proxy.start()
    expect(chat.notice).to_be_hidden(timeout=20_000)
