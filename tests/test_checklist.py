from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from bot.domain.business_days import add_business_days, format_day, is_workday
from bot.domain.cases import Facts
from bot.domain.checklist import build_checklist, render_html, render_step, render_text
from bot.domain.clock import CHINA
from bot.domain.progress import advance, complete_steps
from bot.storage import open_store
from bot.storage.cases import SQLCaseStore

FACTS = Facts(
    bank="中国工商银行", amount=3000.0, txn_date=date(2026, 11, 20), merchant="华联超市", card_last4="6228"
)


@pytest.fixture
def store(tmp_path: Path) -> SQLCaseStore:
    return open_store(str(tmp_path / "cases.db"))


def test_business_days_skip_weekends_and_national_holidays() -> None:
    assert add_business_days(date(2026, 11, 25), 3) == date(2026, 11, 30)  # Wed + 3 → Mon
    assert not is_workday(date(2025, 10, 8))  # National Day and Mid-Autumn, 2025
    assert is_workday(date(2025, 9, 28))  # a Sunday made a workday
    assert add_business_days(date(2025, 9, 30), 1) == date(2025, 10, 9)


def test_business_days_beyond_the_published_calendar_skip_the_statutory_holidays() -> None:
    assert add_business_days(date(2030, 1, 4), 1) == date(2030, 1, 7)  # Fri → Mon
    assert add_business_days(date(2027, 9, 30), 1) == date(2027, 10, 6)  # 国庆 10月1日～3日 and 补假 4、5日


def test_format_day_is_chinese_with_weekday() -> None:
    assert format_day(date(2026, 11, 27)) == "11月27日（周五）"
    assert format_day(date(2027, 3, 1)) == "2027年3月1日（周一）"


def test_checklist_names_the_bank_hotline_and_facts(store: SQLCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    text = render_text(build_checklist(case))
    assert text.startswith(f"【处理清单】案件号 {case.case_id}")
    assert "3000元｜11月20日｜华联超市｜尾号6228" in text
    assert "联系发卡行：拨打中国工商银行官方客服电话95588（以卡背面号码为准）" in text
    assert text.count("☐") == 6
    assert "☑" not in text


def test_each_checklist_item_says_what_it_needs(store: SQLCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    lines = render_text(build_checklist(case)).splitlines()
    first = lines.index("☐ 1. 联系商户｜今天办理")
    assert lines[first + 1] == (
        "   · 对商户说：“您好，我11月20日在贵店刷卡，这笔3000元的交易扣错了，麻烦帮我办理撤销或退货。”"
    )
    evidence = lines.index("☐ 2. 收集凭证｜建议11月26日（周四）前完成")
    assert lines[evidence + 1 : evidence + 5] == [
        "   · 签购单/小票",
        "   · 短信或App交易明细截图",
        "   · 账单/流水",
        "   · 和商户的聊天截图",
    ]
    assert "   · 电话：中国工商银行官方客服电话95588（以卡背面号码为准）" in lines
    assert lines[-1].startswith("提醒：退款只会原路退回您的卡")


def test_the_printable_page_has_every_detail(store: SQLCaseStore) -> None:
    checklist = build_checklist(store.open_case("alice", "rest", "misswipe", FACTS))
    page = render_html(checklist)
    for item in checklist.items:
        assert item.detail in page
        for line in item.needs:
            assert f"<li>{line}</li>" in page
    assert "凡是以退款为名" in page


def test_done_steps_are_ticked_and_lose_their_due_date(store: SQLCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    case = store.mark_steps_done(case.case_id, ["contact_merchant"])
    lines = render_text(build_checklist(case)).splitlines()
    assert "☑ 1. 联系商户" in lines
    assert "☐ 2. 收集凭证｜建议11月26日（周四）前完成" in lines


def test_steps_have_concrete_dates_and_windows(store: SQLCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    checklist = build_checklist(case)
    follow_up = next(item for item in checklist.items if item.step_id == "follow_up")
    bank = next(item for item in checklist.items if item.step_id == "contact_bank")
    assert "12月2日（周三）前应能看到退款" in follow_up.detail  # 5 business days after 11-25
    assert follow_up.due == date(2026, 12, 2)  # the step's date and its text's are one
    assert "境外或外币交易另有120天的拒付期限" in bank.detail  # not dated until asked
    assert "95588" in bank.detail


def test_boc_credit_cards_get_the_credit_card_hotline(store: SQLCaseStore) -> None:
    case = store.open_case("bob", "rest", "misswipe", Facts(bank="中国银行", card_type="credit"))
    assert "拨打中国银行信用卡客服电话40066-95566（以卡背面号码为准）" in render_text(build_checklist(case))


def test_unknown_facts_read_politely(store: SQLCaseStore) -> None:
    case = store.open_case("carol", "rest", "failed_charge", Facts())
    text = render_text(build_checklist(case))
    assert "联系发卡行：拨打卡背面印的官方客服电话" in text
    assert "None" not in text and "{" not in text


def test_fraud_checklist_starts_with_freezing_the_card(store: SQLCaseStore) -> None:
    case = store.open_case("dave", "rest", "unauthorized", Facts(bank="招商银行", amount=800.0))
    first = build_checklist(case).items[0]
    assert first.step_id == "freeze_card"
    assert "95555" in first.detail and "不是误刷" in first.detail
    assert first.due_label == "立即办理" and first.due is None


def test_merchant_checklist_voids_today_and_refunds_later(store: SQLCaseStore, pinned_today: date) -> None:
    today_case = store.open_case("shop-a", "rest", "merchant", Facts(amount=100.0, txn_date=pinned_today))
    later_case = store.open_case(
        "shop-b", "rest", "merchant", Facts(amount=100.0, txn_date=date(2026, 11, 20))
    )
    assert "撤销" in build_checklist(today_case).items[0].detail
    assert "凭证号" in build_checklist(today_case).items[0].detail
    assert "参考号" in build_checklist(later_case).items[0].detail
    assert "收单机构" in render_text(build_checklist(later_case))


def test_html_checklist_escapes_user_text(store: SQLCaseStore) -> None:
    facts = Facts(merchant="<script>alert(1)</script>", bank="<b>银行")
    case = store.open_case("eve", "rest", "misswipe", facts)
    page = render_html(build_checklist(case))
    assert "<script>alert(1)</script>" not in page and "<b>银行" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "卡背面印的&lt;b&gt;银行官方客服电话" in page
    assert page.count('class="pending"') == 6


def test_advancing_ticks_the_current_step_and_moves_the_status(store: SQLCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    for _ in range(3):
        case, checklist = advance(store, case)
    assert case.status == "open"
    assert checklist.next_item.step_id == "follow_up"
    case, checklist = advance(store, case)
    assert checklist.next_item.step_id == "contact_bank"
    assert case.status == "with_bank"
    case, checklist = advance(store, case)
    assert case.status == "escalated"
    case, checklist = advance(store, case)
    assert checklist.next_item is None


def test_render_step_numbers_the_step(store: SQLCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    case, checklist = complete_steps(store, case, ["contact_merchant"])
    assert render_step(checklist, checklist.next_item).startswith(
        "第2步（共6步）：收集凭证｜建议11月26日（周四）前完成\n"
    )


def test_case_created_in_china_time(store: SQLCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    assert case.created_at.utcoffset() == datetime(2026, 1, 1, tzinfo=CHINA).utcoffset()


def test_steps_of_another_kind_are_not_recorded(store: SQLCaseStore) -> None:
    case = store.open_case("dave", "rest", "unauthorized", Facts())
    case, _ = complete_steps(store, case, ["contact_merchant", "freeze_card"])
    assert case.steps_done == ("freeze_card",)


def test_after_a_refusal_the_merchant_steps_are_no_longer_needed(store: SQLCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    case, _ = complete_steps(store, case, ["contact_merchant"])
    case = store.set_status(case.case_id, "with_bank")
    checklist = build_checklist(case)
    lines = render_text(checklist).splitlines()
    assert "☑ 1. 联系商户" in lines
    assert lines.count("☐ 2. 收集凭证｜建议11月26日（周四）前完成") == 1
    assert "－ 3. 确认商户办理｜已无需办理" in lines
    assert "－ 4. 跟进到账｜已无需办理" in lines
    case, checklist = advance(store, case)
    assert checklist.next_item.step_id == "contact_bank"
    assert 'class="not-needed"' in render_html(checklist)


def test_step_texts_have_no_spaces_between_chinese_characters(store: SQLCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    for item in build_checklist(case).items:
        assert "， " not in item.detail and "。 " not in item.detail
