"""Which follow-ups a case should have, and what they say.

The expected dates are worked out by hand from the State Council's 2026
schedule (National Day 10月1日～7日 off, 10月10日 (Sat) worked; 中秋 9月25日
(Fri) off), as in test_advice_dates.py; nothing here is computed with the code
under test.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from bot.domain.cases import Case, Facts
from bot.domain.clock import CHINA
from bot.domain.follow_ups import PlannedFollowUp, message, not_received_target, plan, still_wanted

FACTS = Facts(bank="中国工商银行", amount=3000.0, txn_date=date(2026, 11, 20), merchant="华联超市")


def case(
    kind: str = "misswipe",
    opened: date = date(2026, 11, 25),
    facts: Facts = FACTS,
    status: str = "open",
    steps_done: tuple[str, ...] = (),
) -> Case:
    created = datetime.combine(opened, time(15, 30), CHINA)
    return Case(
        case_id="WS-20261125-0001",
        kind=kind,
        role="merchant" if kind == "merchant" else "cardholder",
        sender_id="rest:alice",
        channel="rest",
        status=status,
        facts=facts,
        steps_done=steps_done,
        handoff_requested=False,
        created_at=created,
        updated_at=created,
    )


def at_ten(day: date) -> datetime:
    return datetime.combine(day, time(10), CHINA)


def test_a_mis_swipe_is_followed_up_on_the_fifth_business_day_at_ten() -> None:
    # Opened Wednesday 11-25: Thu 26, Fri 27, Mon 30, Tue 12-01, Wed 12-02.
    assert plan(case()) == [PlannedFollowUp("follow_up", at_ten(date(2026, 12, 2)))]


def test_a_mis_swipe_before_national_day_counts_past_the_holiday_and_the_make_up_saturday() -> None:
    # Opened Tuesday 09-29: Wed 09-30 (1), 10-01～07 off, Thu 10-08 (2), Fri 10-09 (3),
    # Sat 10-10 worked (4), Sun 10-11 off, Mon 10-12 (5).
    opened = date(2026, 9, 29)
    facts = Facts(amount=50.0, txn_date=opened)
    assert plan(case(opened=opened, facts=facts)) == [
        PlannedFollowUp("follow_up", at_ten(date(2026, 10, 12)))
    ]


def test_a_mis_swipe_before_mid_autumn_skips_the_holiday_friday_and_the_weekend() -> None:
    # Opened Thursday 09-24: Fri 09-25 中秋 off, Mon 28 (1), Tue 29 (2), Wed 30 (3), 10-08 (4), 10-09 (5).
    opened = date(2026, 9, 24)
    facts = Facts(amount=50.0, txn_date=opened)
    assert plan(case(opened=opened, facts=facts)) == [PlannedFollowUp("follow_up", at_ten(date(2026, 10, 9)))]


def test_a_failed_charge_is_followed_up_in_calendar_days_even_on_a_sunday() -> None:
    # 冲正 runs on holidays too: Thursday 11-26 + 3 days is Sunday 11-29.
    facts = Facts(amount=88.0, txn_date=date(2026, 11, 26))
    planned = plan(case("failed_charge", opened=date(2026, 11, 26), facts=facts))
    assert planned == [PlannedFollowUp("follow_up", at_ten(date(2026, 11, 29)))]


@pytest.mark.parametrize(
    "changed",
    [
        {"status": "resolved"},
        {"status": "closed"},
        {"status": "with_bank"},  # the wait is no longer needed once the bank has the case
        {"steps_done": ("contact_merchant", "follow_up")},
    ],
)
def test_no_follow_up_when_the_wait_is_over(changed: dict) -> None:
    assert plan(case(**changed)) == []


def test_paths_without_a_wait_or_without_a_date_have_none() -> None:
    assert plan(case("unauthorized")) == []
    assert plan(case("merchant")) == []
    assert plan(case("failed_charge", facts=Facts(amount=88.0))) == []


def test_still_wanted_follows_the_plan() -> None:
    assert still_wanted(case(), "follow_up")
    assert not still_wanted(case(status="resolved"), "follow_up")
    assert not still_wanted(None, "follow_up")


def test_the_question_names_the_case_the_day_and_offers_the_three_answers() -> None:
    asked = message(case(), "follow_up")
    assert asked.text.startswith(
        "您好，这里是误刷助手。您的案件WS-20261125-0001（误刷（重复扣款或金额错误）：3000元｜11月20日｜华联超市）"
        "按通常时效，12月2日（周三）前应能看到退款。您的退款到账了吗？"
    )
    assert asked.text.endswith("不需要提醒的话，回复“不用提醒我了”。")
    assert asked.buttons == [
        {"title": "到账了", "payload": "/refund_received"},
        {"title": "还没有", "payload": "/refund_not_yet"},
        {"title": "商户拒绝了", "payload": "/merchant_refused"},
    ]


def test_a_failed_charge_is_asked_about_the_reversal_without_a_merchant_button() -> None:
    facts = Facts(amount=88.0, txn_date=date(2026, 11, 26))
    asked = message(case("failed_charge", opened=date(2026, 11, 26), facts=facts), "follow_up")
    assert "11月29日（周日）前应自动退回。您的钱退回来了吗？" in asked.text
    assert [button["title"] for button in asked.buttons] == ["到账了", "还没有"]


def test_a_wait_that_ends_without_the_money_goes_to_the_bank() -> None:
    assert not_received_target("follow_up", "misswipe") == "contact_bank"
    assert not_received_target("follow_up", "failed_charge") == "contact_bank"
    assert not_received_target("contact_merchant", "misswipe") is None
