"""The advice on the day it is given: every path, dated around weekends and holidays.

Every expected date below was worked out by hand from the State Council's
2026 schedule (国办发明电〔2025〕, published 2025-11-04: National Day 10月1日～7日
off, 9月20日 (Sun) and 10月10日 (Sat) worked) and, for 2027, from the statutory
days of the 2024 放假办法 (元旦 1 day; 春节 除夕～初三 = 2027-02-05～08, with the
weekend days 02-06/07 made up on 02-09/10), which no official 2027 schedule
confirms yet: those dates say 约. Nothing here is computed with the code under
test.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.domain import knowledge
from bot.domain.business_days import add_business_days, is_estimated, is_workday, warn_about_estimated_years
from bot.domain.cases import Facts
from bot.domain.checklist import (
    Checklist,
    build_checklist,
    general_steps,
    hotline_phrase,
    render_html,
    render_step,
    render_text,
)
from bot.domain.consent import received_note
from bot.domain.knowledge import PROJECT_ROOT
from bot.storage import open_store
from bot.storage.cases import SQLCaseStore


@pytest.fixture
def store(tmp_path: Path) -> SQLCaseStore:
    return open_store(str(tmp_path / "cases.db"))


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str
    opened: date
    facts: Facts
    # step id -> the text after ｜ on its checklist line
    due: dict[str, str]
    # step id -> phrases its text must contain
    says: dict[str, tuple[str, ...]] = field(default_factory=dict)
    estimated: tuple[str, ...] = ()
    viewed: date | None = None  # the day the checklist is shown, if not the day it was opened


ICBC = dict(bank="中国工商银行", card_type="debit")
SCENARIOS = [
    Scenario(
        "mis-swipe reported on a Saturday: the merchant today, the bank on business days",
        "misswipe",
        date(2026, 11, 28),
        Facts(**ICBC, amount=3000.0, txn_date=date(2026, 11, 27), merchant="华联超市"),
        due={
            "contact_merchant": "今天办理",
            "gather_evidence": "建议11月29日（周日）前完成",
            "file_application": "建议12月1日（周二）前完成",
            "follow_up": "12月7日（周一）前应到账",
            "contact_bank": "建议12月8日（周二）前完成",
            "escalate": "需要时办理",
        },
        says={
            "contact_merchant": ("我11月27日在贵店刷卡，这笔3000元的交易扣错了",),
            "follow_up": ("12月7日（周一）前应能看到退款",),
            "contact_bank": ("中国工商银行官方客服电话95588（以卡背面号码为准）", "储蓄卡交易请尽早提出"),
            "escalate": ("15日内作出处理决定", "可延长至30日", "可再延长30日"),
        },
    ),
    Scenario(
        "mis-swipe on the eve of National Day 2026: seven days off, then a make-up Saturday",
        "misswipe",
        date(2026, 9, 30),
        Facts(
            bank="中国银行", card_type="credit", amount=580.0, correct_amount=58.0, txn_date=date(2026, 9, 30)
        ),
        due={
            "contact_merchant": "今天办理",
            "gather_evidence": "建议10月1日（周四）前完成",
            "follow_up": "10月13日（周二）前应到账",
            "contact_bank": "建议10月14日（周三）前完成",
        },
        says={
            "contact_merchant": (
                "我今天在贵店刷卡",
                "应付58元，实际扣了580元，多扣了522元",
                "请尽快联系商户",
            ),
            "contact_bank": ("中国银行信用卡客服电话40066-95566（以卡背面号码为准）",),
        },
    ),
    Scenario(
        "fraud on National Day: freeze and police at once, the dispute on the make-up Saturday",
        "unauthorized",
        date(2026, 10, 1),
        Facts(bank="招商银行", amount=800.0, txn_date=date(2026, 10, 1)),
        due={
            "freeze_card": "立即办理",
            "keep_card": "今天办理",
            "report_police": "立即办理",
            "secure_card": "今天办理",
            "contact_bank": "建议10月10日（周六，调休上班）前完成",
            "escalate": "需要时办理",
        },
        says={
            "freeze_card": ("招商银行官方客服电话95555（以卡背面号码为准）", "这笔800元的交易不是您本人做的"),
            "keep_card": ("ATM", "保留凭条"),
            "secure_card": ("修改银行卡密码", "小额免密", "快捷支付"),
            "contact_bank": ("按时还款", "暂缓还款"),
        },
    ),
    Scenario(
        "failed charge on 9月30日: the reversal is counted in calendar days, holidays included",
        "failed_charge",
        date(2026, 9, 30),
        Facts(bank="宁波银行", amount=120.0, txn_date=date(2026, 9, 30), merchant="便利店"),
        due={
            "contact_merchant": "今天办理",
            "follow_up": "最晚等到10月3日（周六）",
            "contact_bank": "10月3日（周六）后仍未退回再办理",
        },
        says={
            "contact_merchant": ("请商户把多收的那笔办理退货",),
            "follow_up": ("如果10月3日（周六）仍未退回",),
            "contact_bank": ("卡背面印的宁波银行官方客服电话", "95516"),
        },
    ),
    Scenario(
        "the same failed charge looked at after the holiday: no more waiting",
        "failed_charge",
        date(2026, 9, 30),
        Facts(bank="宁波银行", amount=120.0, txn_date=date(2026, 9, 30)),
        viewed=date(2026, 10, 8),
        due={
            "contact_merchant": "尽快办理",
            "gather_evidence": "请尽快办理，原建议10月1日（周四）前完成",
            "contact_bank": "尽快办理",
        },
        says={"follow_up": ("这笔交易已超过3天，通常不用再等了",)},
    ),
    Scenario(
        "mis-swipe before New Year 2027: dates in the new year are estimates and show the year",
        "misswipe",
        date(2026, 12, 30),
        Facts(amount=200.0, txn_date=date(2026, 12, 29), unknown=frozenset({"merchant", "bank"})),
        due={
            "gather_evidence": "建议12月31日（周四）前完成",
            "file_application": "建议2027年1月2日（周六）前完成",
            "follow_up": "约2027年1月7日（周四）前应到账",
            "contact_bank": "约2027年1月8日（周五）前完成",
        },
        estimated=("follow_up", "contact_bank"),
        says={
            "contact_merchant": (
                "请尽快联系商户",
                "商户名称，可以在银行的扣款短信或App交易明细里查到",
                "卡片正面",
            ),
            "contact_bank": ("卡背面印的官方客服电话",),
        },
    ),
    Scenario(
        "mis-swipe on the eve of Spring Festival 2027: 除夕 to 正月初五 off (estimated)",
        "misswipe",
        date(2027, 2, 4),
        Facts(bank="平安银行", txn_date=date(2027, 2, 3), unknown=frozenset({"amount"})),
        due={
            "contact_merchant": "今天办理",
            "follow_up": "约2月17日（周三）前应到账",
            "contact_bank": "约2月18日（周四）前完成",
        },
        estimated=("follow_up", "contact_bank"),
        says={
            "contact_bank": ("平安银行官方客服电话95511（以卡背面号码为准）",),
            "contact_merchant": ("您不确定的金额，可以在银行的扣款短信或App交易明细里查到",),
        },
    ),
    Scenario(
        "a merchant's same-day void on a Sunday is today, not Monday",
        "merchant",
        date(2026, 11, 29),
        Facts(amount=100.0, txn_date=date(2026, 11, 29)),
        due={
            "void_or_refund": "今天办理",
            "gather_evidence": "今天办理",
            "contact_merchant": "今天办理",
            "contact_bank": "建议12月1日（周二）前完成",
            "escalate": "需要时办理",
        },
        says={
            "void_or_refund": ("撤销", "凭证号", "储蓄卡的钱交易时已经扣走，撤销后会退回"),
            "contact_merchant": ("必须顾客在场并同意",),
            "escalate": ("先按收单协议里的投诉渠道", "12378", "12363"),
        },
    ),
    Scenario(
        "a merchant's refund after settlement",
        "merchant",
        date(2026, 11, 25),
        Facts(amount=100.0, txn_date=date(2026, 11, 20)),
        due={"void_or_refund": "今天办理", "contact_bank": "建议11月26日（周四）前完成"},
        says={"void_or_refund": ("11月20日的交易已经结算", "参考号")},
    ),
    Scenario(
        "a failed charge reported after the reversal wait: the wait is over, not a date still to come",
        "failed_charge",
        date(2026, 11, 25),
        Facts(bank="中国农业银行", amount=89.0, txn_date=date(2026, 11, 18)),
        due={"follow_up": "已过11月21日（周六），不用再等"},
        says={"follow_up": ("这笔交易已超过3天",)},
    ),
    Scenario(
        "a merchant who does not know the date: both 撤销 (same day) and 退货 (later) are explained",
        "merchant",
        date(2026, 11, 25),
        Facts(amount=100.0),
        due={"void_or_refund": "今天办理"},
        says={"void_or_refund": ("签购单或POS的交易查询", "主管密码", "参考号", "退货")},
    ),
    Scenario(
        "a mis-swipe viewed after the expected refund date: the date is not shown as still to come",
        "misswipe",
        date(2026, 11, 20),
        Facts(bank="中国工商银行", amount=88.0, txn_date=date(2026, 11, 20)),
        due={"follow_up": "原预计11月27日（周五）前到账，请查看是否已到账"},
        viewed=date(2026, 12, 6),
    ),
    Scenario(
        "fraud reported months later at a bank without a known number: the deadline may have passed",
        "unauthorized",
        date(2026, 12, 6),
        Facts(bank="某某农商银行", amount=3000.0, txn_date=date(2026, 5, 1)),
        due={
            "freeze_card": "立即办理",
            "report_police": "立即办理",
            "contact_bank": "建议12月9日（周三）前完成",
        },
        says={
            "freeze_card": ("卡背面印的某某农商银行官方客服电话",),
            "contact_bank": ("已过去219天", "可能已过", "仍可以向发卡行提出异议"),
        },
    ),
]


def open_and_view(
    store: SQLCaseStore, monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> tuple[Checklist, str]:
    monkeypatch.setenv("WUSHUA_TODAY", scenario.opened.isoformat())
    case = store.open_case("someone", "rest", scenario.kind, scenario.facts)
    monkeypatch.setenv("WUSHUA_TODAY", (scenario.viewed or scenario.opened).isoformat())
    checklist = build_checklist(case)
    return checklist, render_text(checklist)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_each_path_is_dated_by_hand(
    store: SQLCaseStore, monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> None:
    checklist, text = open_and_view(store, monkeypatch, scenario)
    items = {item.step_id: item for item in checklist.items}
    lines = text.splitlines()
    for step_id, due in scenario.due.items():
        item = items[step_id]
        assert f"☐ {item.number}. {item.title}｜{due}" in lines
        assert item.due_estimated == (step_id in scenario.estimated)
    for step_id, phrases in scenario.says.items():
        for phrase in phrases:
            assert phrase in items[step_id].detail


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_sentence_is_well_formed(
    store: SQLCaseStore, monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> None:
    checklist, text = open_and_view(store, monkeypatch, scenario)
    steps = [render_step(checklist, item) for item in checklist.items]
    for rendered in (text, page_text(render_html(checklist)), *steps):
        assert_well_formed(rendered)
    for line in text.splitlines():
        assert not NESTED_BRACKETS.search(line), line


NESTED_BRACKETS = re.compile(r"（[^）]*（")
# A word said twice in a row, across a label's colon too ("期限：期限可能已过").
STUTTER = re.compile(r"([\u4e00-\u9fff]{2})[：:]?\1")
BROKEN = (
    "{",
    "}",
    "None",
    "（）",
    "，，",
    "。。",
    "、、",
    "：。",
    "：，",
    "拨打，",
    "拨打。",
    "前前",
    "约约",
)


def assert_well_formed(rendered: str) -> None:
    for broken in BROKEN:
        assert broken not in rendered, (broken, rendered)
    assert not re.search(r"[\u4e00-\u9fff][ \t]+[\u4e00-\u9fff]", rendered)
    assert not STUTTER.search(rendered), STUTTER.search(rendered)
    for clause in re.split(r"[。；，\n]", rendered):
        assert not doubled_phrase(clause), (doubled_phrase(clause), clause)


def page_text(page: str) -> str:
    """What the printable page shows: its text without style and markup."""
    return re.sub(r"<[^>]+>", "\n", re.sub(r"<style>.*?</style>", "", page, flags=re.S))


def doubled_phrase(sentence: str) -> str | None:
    """A phrase of four or more Chinese characters said twice in one clause (官方客服…官方客服)."""
    seen: set[str] = set()
    for start in range(len(sentence) - 3):
        window = sentence[start : start + 4]
        if not re.fullmatch(r"[\u4e00-\u9fff]{4}", window):
            continue
        if window in seen:
            return window
        seen.add(window)
    return None


def test_the_doubled_phrase_check_catches_the_old_hotline_sentence() -> None:
    assert doubled_phrase("请拨打华夏银行官方客服卡背面的官方客服电话") == "官方客服"
    assert doubled_phrase("请拨打华夏银行官方客服电话95577") is None


@pytest.mark.parametrize(
    ("bank", "card_type", "expected"),
    [
        ("中国工商银行", None, "中国工商银行官方客服电话95588（以卡背面号码为准）"),
        ("华夏银行", "credit", "华夏银行官方客服电话95577（以卡背面号码为准）"),
        ("北京银行", None, "北京银行官方客服电话95526（以卡背面号码为准）"),
        ("上海银行", None, "上海银行官方客服电话95594（以卡背面号码为准）"),
        ("浙商银行", None, "浙商银行官方客服电话95527（以卡背面号码为准）"),
        ("渤海银行", None, "渤海银行官方客服电话95541（以卡背面号码为准）"),
        ("恒丰银行", None, "恒丰银行官方客服电话95395（以卡背面号码为准）"),
        ("中国银行", "credit", "中国银行信用卡客服电话40066-95566（以卡背面号码为准）"),
        ("中国银行", "debit", "中国银行官方客服电话95566（以卡背面号码为准）"),
        ("中国银行", None, "中国银行官方客服电话95566，信用卡也可拨40066-95566（以卡背面号码为准）"),
        ("宁波银行", None, "卡背面印的宁波银行官方客服电话"),
        (None, None, "卡背面印的官方客服电话"),
    ],
)
def test_the_hotline_reads_naturally_for_every_kind_of_bank(
    bank: str | None, card_type: str | None, expected: str
) -> None:
    assert hotline_phrase(bank, card_type) == expected
    assert_well_formed(f"请马上拨打{expected}，或在银行App里冻结、挂失这张卡。")


@pytest.mark.parametrize(
    ("opened", "txn", "cross_border", "card_type", "expected"),
    [
        (
            date(2026, 11, 25),
            date(2026, 11, 20),
            True,
            None,
            "这是境外或外币交易，按银联国际规则，拒付期限是交易日起120个自然日，即2027年3月20日（周六），请在此之前提出。",
        ),
        (
            date(2026, 12, 6),
            date(2026, 5, 1),
            True,
            None,
            "120天拒付期限已于8月29日（周六）届满。仍可以向发卡行说明情况",
        ),
        (date(2026, 12, 6), date(2026, 5, 1), False, "credit", "这笔交易已过去219天，账单到期还款日可能已过"),
        (
            date(2026, 11, 25),
            date(2026, 11, 20),
            False,
            "credit",
            "境内交易通常应在账单到期还款日前提出，具体以发卡行为准。",
        ),
        (
            date(2026, 11, 25),
            date(2026, 11, 20),
            False,
            "debit",
            "储蓄卡交易请尽早提出，具体时限以发卡行为准。",
        ),
        (date(2026, 11, 25), date(2026, 11, 20), None, None, "境外或外币交易另有120天的拒付期限"),
        (
            date(2026, 12, 6),
            date(2026, 5, 1),
            None,
            None,
            "这笔交易已过去219天，发卡行规定的提出期限可能已过",
        ),
    ],
)
def test_the_dispute_deadline_is_dated_only_for_cross_border_and_says_when_it_passed(
    store: SQLCaseStore,
    monkeypatch: pytest.MonkeyPatch,
    opened: date,
    txn: date,
    cross_border: bool | None,
    card_type: str | None,
    expected: str,
) -> None:
    monkeypatch.setenv("WUSHUA_TODAY", opened.isoformat())
    facts = Facts(bank="中国工商银行", txn_date=txn, cross_border=cross_border, card_type=card_type)
    for kind in ("misswipe", "unauthorized"):
        case = store.open_case(kind, "rest", kind, facts)
        bank_step = next(item for item in build_checklist(case).items if item.step_id == "contact_bank")
        assert expected in bank_step.detail
        assert bank_step.asks_cross_border


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        (date(2026, 9, 20), True),  # Sunday worked for National Day
        (date(2026, 10, 7), False),
        (date(2026, 10, 10), True),  # Saturday worked
        (date(2027, 1, 1), False),  # 元旦, estimated year
        (date(2027, 2, 5), False),  # 除夕
        (date(2027, 2, 10), False),  # 补假 for 初一 on a Saturday
        (date(2027, 2, 11), True),
    ],
)
def test_the_calendar_knows_2026_officially_and_2027_by_its_statutory_days(day: date, workday: bool) -> None:
    assert is_workday(day) == workday
    assert is_estimated(day) == (day.year == 2027)


def test_business_days_run_across_2027_spring_festival() -> None:
    assert add_business_days(date(2027, 2, 4), 1) == date(2027, 2, 11)
    assert add_business_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def response_texts() -> dict[str, str]:
    with open(PROJECT_ROOT / "domain.yml", encoding="utf-8") as handle:
        responses = yaml.safe_load(handle)["responses"]
    return {name: variant["text"] for name, variants in responses.items() for variant in variants}


class SampleValue(dict):
    """Any placeholder reads as a plausible value of its kind, so a sentence can be checked."""

    def __missing__(self, key: str) -> str:
        if key.endswith("case_id"):
            return "WS-20261125-0001"
        return {"step_number": "5", "number": "1"}.get(key, "（示例）")


@pytest.mark.parametrize("name", sorted(response_texts()))
def test_every_response_reads_well(name: str) -> None:
    notice = knowledge.privacy_notice()
    whole_sentences = {  # placeholders that are sentences of their own: their real text
        "notice": notice["text"],
        "received_note": received_note(["amount", "merchant"]),
        "declined": notice["declined"],
        "steps": general_steps("misswipe"),
    }
    text = response_texts()[name].format_map(
        SampleValue(hotline_phrase=hotline_phrase("中国银行", None), **whole_sentences)
    )
    assert_well_formed(text.replace("（示例）", "示例"))
    assert "商家" not in text  # one term: 商户
    assert "说出案件号" not in text  # a chat sends it
    numbers = re.sub(r"WS-\d{8}-\d{4}|40066-95566", "", text)
    assert not re.search(r"\d[-–]\d", numbers)  # ranges take ～
    assert "5位" not in text and "处理完毕" not in text


def test_estimated_years_are_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    warn_about_estimated_years.cache_clear()
    with caplog.at_level(logging.WARNING, logger="bot.domain.business_days"):
        warn_about_estimated_years()
        warn_about_estimated_years()
    assert [record.getMessage()[:60] for record in caplog.records] == [
        "Holiday calendar: the official schedule (chinesecalendar) en"
    ]
    assert "ends with 2026" in caplog.records[0].getMessage()
