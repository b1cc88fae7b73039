"""Conversations around the case form, against the real Rasa and action servers.

Test stories cannot see these: they never run the form's validation, so a
question read as a failed answer ("没能识别金额") only shows up here.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from contextlib import closing
from datetime import datetime

import pytest
from test_rest_e2e import (  # noqa: F401  (bot: the shared servers)
    NOTICE,
    Bot,
    bot,
    case_rows,
    new_sender,
    report_and_agree,
    user_texts,
)

from bot.domain import knowledge

pytestmark = pytest.mark.e2e

NOT_UNDERSTOOD = ("没能识别", "没太明白")


def events_of(bot: Bot, case_id: str) -> list[tuple[str, dict]]:  # noqa: F811
    with closing(sqlite3.connect(bot.case_db)) as db:
        rows = db.execute("SELECT event, detail FROM case_events WHERE case_id = ? ORDER BY id", (case_id,))
        return [(event, json.loads(detail)) for event, detail in rows]


def assert_understood(reply: str) -> None:
    assert not any(marker in reply for marker in NOT_UNDERSTOOD), reply


def test_a_merchant_asks_how_then_asks_what_changes_a_day_later(bot: Bot) -> None:  # noqa: F811
    user = new_sender()
    first = bot.text(user, "我是商户，收银员给顾客多刷了一笔，怎么退给他？")
    assert first.index("撤销") < first.index(NOTICE), "the short answer comes before the notice"
    assert "金额" in bot.text(user, "同意")
    late = bot.text(user, "那要是已经过了一天了呢？")
    assert_understood(late)
    assert "退货" in late and "金额" in late.splitlines()[-1]
    assert "哪天" in bot.text(user, "580元")
    created = bot.text(user, "昨天")
    assert "案件号 WS-" in created and "退货" in created


def test_a_fraud_victim_asks_what_now_at_the_bank_question(bot: Bot) -> None:  # noqa: F811
    user = new_sender()
    warned = bot.text(user, "我的卡一直在身上，刚收到短信说在外地消费了，不是我刷的")
    assert "冻结" in warned and NOTICE in warned
    assert "哪家银行" in bot.text(user, "同意")
    now = bot.text(user, "我现在到底该怎么办？")
    assert_understood(now)
    assert "冻结" in now and "卡背面" in now and "哪家银行" in now
    assert "金额" in bot.text(user, "招商")
    skipped = bot.text(user, "不记得具体多少钱了")
    assert_understood(skipped)
    assert "短信" in skipped and "哪天" in skipped
    created = bot.text(user, "今天凌晨")
    assert "案件号 WS-" in created
    (row,) = case_rows(bot, user)
    assert (row["kind"], row["bank"], row["amount"]) == ("unauthorized", "招商银行", None)
    assert json.loads(row["unknown_facts"]) == ["amount"]


def test_a_wrong_amount_asks_what_it_should_have_been(bot: Bot) -> None:  # noqa: F811
    user = new_sender()
    report_and_agree(bot, user, "收银员把金额刷错了，多输了一个零")
    asked = bot.text(user, "工行")
    assert "实际刷了多少钱" in asked
    assert "本来应该是多少" in bot.text(user, "3000")
    why = bot.text(user, "问这个干嘛")
    assert_understood(why)
    assert "多扣" in why and "本来应该是多少" in why
    assert "哪天" in bot.text(user, "300")
    bot.text(user, "前天")
    assert "案件号 WS-" in bot.text(user, "华联超市")
    (row,) = case_rows(bot, user)
    assert (row["amount"], row["correct_amount"]) == (3000, 300)


def test_markup_in_the_middle_of_a_case_changes_nothing_and_a_second_problem_asks_first(
    bot: Bot,  # noqa: F811
) -> None:
    user = new_sender()
    report_and_agree(bot, user, "我在华联超市刷卡被重复扣款了，多扣了3000元")
    bot.text(user, "工商银行")
    created = bot.text(user, "昨天")
    first_case = re.search(r"WS-\d{8}-\d{4}", created)[0]
    assert "第1步（共6步）" in created
    stray = bot.text(user, "<img src=x onerror=alert(1)>")
    assert "没太明白" in stray and "<img" not in stray
    assert [row["kind"] for row in case_rows(bot, user)] == ["misswipe"]
    # Nothing but its creation with the consent (and the follow-up its waiting step got)
    # happened to the case.
    events = [event for event, _ in events_of(bot, first_case) if not event.startswith("follow_up")]
    assert events == ["created", "consent_given"]

    asked = bot.text(user, "还有一件事，另一张卡在加油站刷卡显示交易失败，但是钱被扣了")
    assert first_case in asked and "另一笔" in asked
    opened = bot.text(user, "是的")
    assert "另开案件" in opened and "哪家银行" in opened and NOTICE not in opened
    progress = bot.text(user, "查询进度")
    assert_understood(progress)
    assert first_case in progress and progress.rstrip().endswith("银行名称。")
    replies = [bot.text(user, answer) for answer in ("建行", "200元", "今天", "中石化加油站")]
    assert not any(marker in reply for reply in replies for marker in NOT_UNDERSTOOD)
    assert any("案件号 WS-" in reply for reply in replies)
    rows = case_rows(bot, user)
    assert sorted(row["kind"] for row in rows) == ["failed_charge", "misswipe"]
    listing = bot.text(user, "查询进度")
    assert all(row["case_id"] in listing for row in rows)


def test_a_change_of_kind_needs_a_yes_and_is_logged(bot: Bot) -> None:  # noqa: F811
    user = new_sender()
    report_and_agree(bot, user, "我在永辉超市被扣了两次，每次88元")
    bot.text(user, "建设银行")
    created = bot.text(user, "昨天")
    case_id = re.search(r"WS-\d{8}-\d{4}", created)[0]
    assert "另一笔" in bot.text(user, "哦不对，其实是刷卡显示失败了，但钱还是扣了")
    assert "改为" in bot.text(user, "不是，还是那一笔")
    changed = bot.text(user, "行，就这么办")
    assert "交易失败但已扣款" in changed
    (row,) = case_rows(bot, user)
    assert row["kind"] == "failed_charge"
    assert ("kind_changed", {"from": "misswipe", "to": "failed_charge"}) in events_of(bot, case_id)


def test_short_replies_and_an_ordinary_word_that_names_a_bank(bot: Bot) -> None:  # noqa: F811
    user = new_sender()
    report_and_agree(bot, user, "我在永辉超市被扣了两次，每次88元")
    bot.text(user, "建设银行")
    bot.text(user, "昨天")
    assert "第2步" in bot.text(user, "好嘞，下一个")
    bot.text(user, "商户不肯退，我要去工商投诉")
    assert bot.tracker(user)["slots"]["bank"] == "中国建设银行"
    (row,) = case_rows(bot, user)
    assert row["bank"] == "中国建设银行"
    assert "还有什么需要" in bot.text(user, "不需要了，谢谢")


def test_the_consent_is_recorded_on_the_case_with_its_version_time_and_channel(bot: Bot) -> None:  # noqa: F811
    user = new_sender()
    notice = bot.text(user, "昨天在永辉超市刷建行卡，88块扣了我两次")
    assert NOTICE in notice and "发卡行、金额、日期、商户已收到" in notice and "永辉" not in notice
    assert case_rows(bot, user) == []
    assert "案件号 WS-" in bot.text(user, "同意")
    (row,) = case_rows(bot, user)
    [consent] = [detail for event, detail in events_of(bot, row["case_id"]) if event == "consent_given"]
    assert consent["version"] == knowledge.privacy_notice()["version"] and consent["channel"] == "rest"
    agreed_at = [event["timestamp"] for event in bot.tracker(user)["events"] if event.get("text") == "同意"]
    assert datetime.fromisoformat(consent["at"]).timestamp() == pytest.approx(agreed_at[-1], abs=1)


def test_declining_keeps_no_case_gives_the_steps_and_asks_for_the_erase(bot: Bot) -> None:  # noqa: F811
    user = new_sender()
    bot.text(user, "昨天在永辉超市刷建行卡，88块扣了我两次")
    declined = bot.text(user, "不同意")
    assert "不为您登记案件" in declined and "1. 联系商户" in declined
    assert "永辉" not in declined and "88" not in declined
    assert case_rows(bot, user) == []
    # The Rasa server erases the conversation once the turn is over: nothing of it is left.
    deadline = time.monotonic() + 30
    while bot.tracker(user)["slots"].get("merchant") or user_texts(bot.tracker(user)):
        assert time.monotonic() < deadline, "the conversation was not erased"
        time.sleep(0.5)
