"""A staff member in a real (headless) Chromium (the ``page`` fixture, conftest.py) reviews a real
conversation with the bot.

The Rasa and action servers are the ones ``tests/test_rest_e2e.py`` starts (its
``bot`` fixture, reused here); the console reads their case store and tracker.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from console_support import PASSWORD, Console
from test_rest_e2e import Bot, new_sender
from test_rest_e2e import bot as bot

from bot.console.auth import StaffAuth
from bot.console.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture
def settings(bot: Bot) -> Settings:
    """The console over the live bot's own databases."""
    return Settings(case_db=bot.case_db, tracker_db=bot.tracker_db)


def test_staff_review_a_real_conversation_change_its_status_and_flag_a_message(
    bot: Bot, console: Console, page: object, tmp_path: Path
) -> None:
    user = new_sender()
    bot.text(user, "你好")
    bot.text(user, "我在华联超市刷卡被重复扣款了，多扣了3000元，卡号6222021234567890")
    bot.text(user, "同意")  # the privacy notice
    bot.text(user, "工商银行")
    case_id = re.search(r"WS-\d{8}-\d{4}", bot.text(user, "昨天"))[0]
    StaffAuth(console.store.db, console.settings).add_user("alice", PASSWORD, by="test")  # an agent

    page.goto(console.base_url + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_selector("h1:has-text('案件队列')")
    page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)

    page.click(f"a:has-text('{case_id}')")
    page.wait_for_selector(f"h1:has-text('{case_id}')")
    transcript = page.inner_text("#transcript")
    assert "我在华联超市刷卡被重复扣款了" in transcript and "report_misswipe" in transcript
    assert "6222021234567890" not in page.content() and "尾号7890" in transcript
    assert "工商银行" in transcript and "动作" in transcript  # bot turns name their action
    page.screenshot(path=str(tmp_path / "case.png"), full_page=True)

    page.select_option("select[name=status]", "waiting_merchant")
    page.click("button:has-text('更新状态')")
    page.wait_for_selector("h1 .badge:has-text('等待商户退款')")
    assert console.store.cases.get(case_id).status == "waiting_merchant"
    assert "alice" in page.inner_text("ul.audit") and "更改状态" in page.inner_text("ul.audit")

    first_user_turn = page.locator("li.turn.user").filter(has_text="工商银行").first
    first_user_turn.locator("summary").click()
    first_user_turn.locator("select[name=intent]").select_option("inform")
    first_user_turn.locator("button:has-text('保存')").click()
    page.wait_for_selector("text=已标注为")
    (example,) = console.store.flagged_examples(f"rest:{user}")
    assert (example.intent, example.text, example.flagged_by) == ("inform", "工商银行", "alice")
    page.goto(console.base_url + "/teach")
    assert "工商银行" in page.inner_text("main")
