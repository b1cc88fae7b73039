"""Reading receipt photos from OCR lines (bot.domain.receipts), with hand-written OCR output.

Each fixture is what the OCR engine returns for a picture: text lines with their boxes. The
boxes matter: rows are rebuilt from them, so a tilted photo is written as tilted boxes.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import pytest

from bot.domain.receipts import OcrLine, ReceiptReading, duplicate_of, read_receipt, rows, secret_lines

TODAY = date(2026, 11, 25)
CHAR = 24  # a character's width and a line's height, in pixels


def line(text: str, x: float, y: float, tilt_degrees: float = 0.0, width: float | None = None) -> OcrLine:
    """A box around ``text`` with its top-left corner at (x, y), turned by ``tilt_degrees``."""
    width = width or CHAR * len(text) * 0.8
    angle = math.radians(tilt_degrees)
    along, down = (math.cos(angle), math.sin(angle)), (-math.sin(angle), math.cos(angle))
    corners = [(0, 0), (width, 0), (width, CHAR), (0, CHAR)]
    box = tuple((x + a * along[0] + b * down[0], y + a * along[1] + b * down[1]) for a, b in corners)
    return OcrLine(text, box, 0.99)  # type: ignore[arg-type]


def page(texts: list[str | tuple[str, str]], tilt_degrees: float = 0.0) -> list[OcrLine]:
    """Rows of a slip, one under the other; a pair is a label on the left and a value on the right."""
    slope = math.tan(math.radians(tilt_degrees))
    lines = []
    for number, text in enumerate(texts):
        y = 100 + number * 40
        if isinstance(text, tuple):
            lines.append(line(text[0], 50, y, tilt_degrees))
            lines.append(line(text[1], 600, y + slope * 550, tilt_degrees))
        else:
            lines.append(line(text, 50, y, tilt_degrees))
    return lines


CHINESE_SLIP = [
    "银联商务 签购单",
    "商户名:杭州恒泰超市有限公司",
    "商户号:898330170110123",
    "终端号:12345678",
    "卡号:622202******1234",
    "卡类别:借记卡",
    "交易类型:消费",
    "批次号:000123  凭证号:000456",
    "参考号:123456789012",
    "授权码:654321",
    "日期:2026-11-20  时间:14:32:10",
    "金额:¥1,299.00",
]


def test_a_slip_with_labels_and_values_on_one_row() -> None:
    reading = read_receipt(page(CHINESE_SLIP), TODAY)
    assert reading == ReceiptReading(
        kind="slip",
        amount=Decimal("1299.00"),
        date="2026-11-20",
        time="14:32:10",
        merchant_name="杭州恒泰超市有限公司",
        merchant_id="898330170110123",
        terminal_id="12345678",
        ref_no="123456789012",
        voucher_no="000456",
        batch_no="000123",
        card_type="debit",
        card_last4="1234",
        transaction_type="消费",
    )


BILINGUAL_SLIP = [
    "商户名称(MERCHANT NAME):",
    "上海永辉商贸有限公司",
    "MERCHANTNO.商户编号:",  # OCR drops the spaces of English labels
    "898310048161234",
    "终端编号(TERMINAL NO.):87654321",
    "卡号(CARD NO.):",
    "6222 02** **** 5678 /C",
    "交易类型(TRANS TYPE):",
    "撤销/VOID",
    "批次号(BATCH NO.):000777",
    "凭证号(VOUCHER NO.):001234",
    "授权码(AUTH NO.):A1B2C3",
    "参考号(REFER NO.):3O0123456789",  # OCR reads a 0 as O
    "日期/时间(DATE/TIME):",
    "2026/11/03 09:05:44",
    "金额(AMOUNT):",
    "RMB 88.50",
]


def test_values_under_their_labels_and_english_labels_without_spaces() -> None:
    reading = read_receipt(page(BILINGUAL_SLIP), TODAY)
    assert (reading.merchant_name, reading.merchant_id, reading.terminal_id) == (
        "上海永辉商贸有限公司",
        "898310048161234",
        "87654321",
    )
    assert (reading.batch_no, reading.voucher_no, reading.ref_no) == ("000777", "001234", "300123456789")
    assert (reading.date, reading.time, reading.amount) == ("2026-11-03", "09:05:44", Decimal("88.50"))
    assert (reading.card_last4, reading.transaction_type) == ("5678", "撤销")


def test_right_aligned_values_in_a_tilted_photo_stay_with_their_labels() -> None:
    """Tilted 6°, each value stands about a row higher than its label at the left edge."""
    slip = [
        ("MERCHANT NO. 商户编号", "898310048161234"),
        ("TERMINAL NO. 终端编号", "87654321"),
        ("TXN TYPE 交易类型", "REFUND 退货"),
        ("BATCH NO. 批次号", "000111"),
        ("TRACE NO. 流水号", "000222"),
        ("REF NO. 参考号", "111122223333"),
        ("AUTH NO. 授权码", "999888"),
        ("DATE/TIME 日期时间", "2026.10.01 22:16"),
        ("AMOUNT 金额", "RMB 276.00"),
    ]
    for tilt in (-6.0, 6.0):
        reading = read_receipt(page(slip, tilt), TODAY)  # type: ignore[arg-type]
        assert (reading.batch_no, reading.voucher_no, reading.ref_no) == ("000111", "000222", "111122223333")
        assert (reading.amount, reading.date, reading.time) == (Decimal("276.00"), "2026-10-01", "22:16")
        assert reading.transaction_type == "退货"


def test_rows_follow_the_tilt() -> None:
    tilted = page([("左边", "右边"), ("下一行", "也在下一行")], tilt_degrees=8)
    assert [row.text for row in rows(tilted)] == ["左边  右边", "下一行  也在下一行"]


def upside_down(lines: list[OcrLine]) -> list[OcrLine]:
    """The lines of a photo turned half round, with corners from the picture's top left as OCR gives them."""
    turned = []
    for found in lines:
        corners = [(2000 - x, 2000 - y) for x, y in found.box]
        turned.append(OcrLine(found.text, (corners[2], corners[3], corners[0], corners[1]), found.score))
    return turned


def test_a_slip_photographed_upside_down_is_read_top_to_bottom() -> None:
    slip = page(
        [
            "商户名称:",
            "杭州恒泰超市有限公司",
            "终端号:",
            "12345678",
            "金额:",
            "RMB 1,299.00",
            "参考号:",
            "123456789012",
        ]
    )
    reading = read_receipt(upside_down(slip), TODAY)
    assert (reading.merchant_name, reading.terminal_id, reading.amount, reading.ref_no) == (
        "杭州恒泰超市有限公司",
        "12345678",
        Decimal("1299.00"),
        "123456789012",
    )


def test_an_sms_wrapped_over_several_lines() -> None:
    sms = page(
        [
            "95588",
            "11月20日 14:33",
            "【工商银行】您尾号4321卡11月20日",
            "14:32在北京华联超市有限公司消费",
            "1,280.00元，余额5,321.09元。",
        ]
    )
    reading = read_receipt(sms, TODAY)
    assert reading.kind == "sms"
    # The charge's time is the one the bank wrote, not the minute the phone received the message.
    assert (reading.amount, reading.date, reading.time) == (Decimal("1280.00"), "2026-11-20", "14:32")
    assert (reading.merchant_name, reading.card_last4, reading.transaction_type) == (
        "北京华联超市有限公司",
        "4321",
        "消费",
    )


def test_an_sms_date_without_a_year_is_the_last_one_before_today() -> None:
    sms = page(["您账户8025于12月21日15:31在【成都美宜佳便利店】POS消费人民币71.00元。[中国银行]"])
    reading = read_receipt(sms, TODAY)
    assert (reading.date, reading.merchant_name, reading.card_last4) == (
        "2025-12-21",
        "成都美宜佳便利店",
        "8025",
    )


def test_an_app_detail_page() -> None:
    app = page(
        [
            "<交易详情",
            "北京福满楼大药房连锁有限公司",
            "-848.00",
            "交易成功",
            ("交易类型", "预授权"),
            ("交易时间", "2026-10-2917:08:08"),  # OCR glued the time to the date
            ("交易卡号", "中国银行借记卡(7750)"),
        ]
    )
    reading = read_receipt(app, TODAY)
    assert reading.kind == "app"
    assert (reading.amount, reading.date, reading.time) == (Decimal("848.00"), "2026-10-29", "17:08:08")
    assert (reading.merchant_name, reading.card_last4, reading.card_type) == (
        "北京福满楼大药房连锁有限公司",
        "7750",
        "debit",
    )
    assert reading.transaction_type == "预授权"


def test_a_card_photo_gives_the_last_four_digits_and_nothing_else_of_the_number() -> None:
    card = page(["农业银行", "银联 UnionPay", "6228 4845 9966 6228", "VALID THRU 07/30"])
    reading = read_receipt(card, TODAY)
    assert (reading.kind, reading.card_last4, reading.amount) == ("card_photo", "6228", None)
    assert not any("84845" in value.replace(" ", "") for value in reading.facts().values())


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ("消费/SALE", "消费"),
        ("SALE", "消费"),
        ("VOID 撤销", "撤销"),
        ("退货", "退货"),
        ("PRE-AUTH", "预授权"),
    ],
)
def test_transaction_types(printed: str, expected: str) -> None:
    slip = page(
        ["商户号:898330170110123", "终端号:12345678", f"交易类型:{printed}", "授权码(AUTH NO.):123456"]
    )
    assert read_receipt(slip, TODAY).transaction_type == expected


def test_an_auth_code_label_is_no_pre_authorisation() -> None:
    slip = page(["商户号:898330170110123", "终端号:12345678", "AUTH NO. 123456", "SALE"])
    assert read_receipt(slip, TODAY).transaction_type == "消费"  # a row that is only the word counts
    slip = page(["商户号:898330170110123", "终端号:12345678", "AUTH NO. 123456", "MERCHANT COPY SALE DRAFT"])
    assert read_receipt(slip, TODAY).transaction_type is None  # an English word inside other words does not


def test_a_credit_card_slip() -> None:
    slip = page([*CHINESE_SLIP[:5], "卡类别:贷记卡", *CHINESE_SLIP[6:]])
    assert read_receipt(slip, TODAY).card_type == "credit"


@pytest.mark.parametrize(
    ("printed", "expected_date", "expected_time"),
    [
        (["日期/时间(DATE/TIME):", "20261105 143207"], "2026-11-05", "14:32:07"),
        (["DATE:2026/11/05 TIME:14:32:07"], "2026-11-05", "14:32:07"),
        (["日期:20261105", "时间:143207"], "2026-11-05", "14:32:07"),
        (["DATE/TIME 日期时间", "11-05 14:32"], "2026-11-05", "14:32"),
        (["日期时间:12/05 09:15:00"], "2025-12-05", "09:15:00"),  # no year: the last 5 December
        (["交易时间:2026年11月5日 14:32:07"], "2026-11-05", "14:32:07"),
        (["年份(YEAR):2025", "日期(DATE):12/05", "时间(TIME):14:32:07"], "2025-12-05", "14:32:07"),
    ],
    ids=["compact", "one row", "compact, two rows", "no year", "no year, last year", "年月日", "year apart"],
)
def test_date_and_time_forms(printed: list[str], expected_date: str, expected_time: str) -> None:
    slip = page(["商户号:898330170110123", "终端号:12345678", "有效期(EXP DATE):2029/12", *printed])
    reading = read_receipt(slip, TODAY)
    assert (reading.date, reading.time) == (expected_date, expected_time)


def test_an_expiry_is_no_transaction_date() -> None:
    slip = page(["商户号:898330170110123", "终端号:12345678", "有效期:2030/12/31", "参考号:123456789012"])
    assert read_receipt(slip, TODAY).date is None


def test_a_void_names_the_original_slip_and_is_read_as_a_void() -> None:
    slip = page(
        [
            "商户号:898330170110123",
            "终端号:12345678",
            "交易类型:消费撤销(VOID)",
            "凭证号:000457",
            "参考号:223456789012",
            "原参考号:123456789012",
            "原凭证号:000456",
            "金额:RMB -1,299.00",
        ]
    )
    reading = read_receipt(slip, TODAY)
    assert (reading.transaction_type, reading.ref_no) == ("撤销", "223456789012")
    assert reading.voucher_no == "000457"
    assert reading.amount == Decimal("1299.00")


@pytest.mark.parametrize(
    ("printed", "expected"),
    [("卡类型(CARD TYPE):CREDIT", "credit"), ("卡类别:储蓄卡", "debit"), ("工商银行 信用卡", "credit")],
)
def test_card_type_forms(printed: str, expected: str) -> None:
    slip = page(["商户号:898330170110123", "终端号:12345678", printed])
    assert read_receipt(slip, TODAY).card_type == expected


def test_an_sms_thread_is_read_from_its_newest_charge() -> None:
    sms = page(
        [
            "95588",
            "11月2日 09:00",
            "您尾号5678卡11月2日09:00收入(工资)8,500.00元，余额12,345.67元。【工商银行】",
            "11月20日 14:33",
            "【工商银行】您尾号4321卡11月20日14:32支出(消费杭州海底捞火锅(万达广场店))1,280.00元，",
            "余额5,321.09元。",
        ]
    )
    reading = read_receipt(sms, TODAY)
    assert (reading.kind, reading.amount, reading.date, reading.time) == (
        "sms",
        Decimal("1280.00"),
        "2026-11-20",
        "14:32",
    )
    assert (reading.merchant_name, reading.card_last4) == ("杭州海底捞火锅(万达广场店)", "4321")


@pytest.mark.parametrize(
    "text",
    [
        "【中国农业银行】您尾号4321账户11月20日14:32完成消费交易人民币-1280.00，余额5321.09。",
        "【交通银行】您尾号*4321的卡于11月20日14:32在杭州华联超市网上支付1280.00元，余额5,321.09元。",
        "您尾号4321的储蓄卡11月20日14时32分消费支出人民币1280.00元,活期余额5,321.09元。[建设银行]",
    ],
    ids=["ABC", "BoCom", "CCB"],
)
def test_sms_wordings_of_several_banks(text: str) -> None:
    reading = read_receipt(page([text]), TODAY)
    assert (reading.amount, reading.date, reading.time, reading.card_last4) == (
        Decimal("1280.00"),
        "2026-11-20",
        "14:32",
        "4321",
    )


def test_a_quick_payment_in_an_sms_is_a_purchase_but_not_on_a_slip() -> None:
    sms = page(["【招商银行】您账户4321于11月20日14:32在杭州华联超市快捷支付扣款人民币128.00，余额5,321.09"])
    assert read_receipt(sms, TODAY).transaction_type == "消费"
    slip = page(["拉卡拉支付", "商户号:898330170110123", "终端号:12345678", "参考号:123456789012"])
    assert read_receipt(slip, TODAY).transaction_type is None  # the acquirer's name is no type


@pytest.mark.parametrize(
    ("face", "expected"), [("龙卡信用卡", "credit"), ("CREDIT", "credit"), ("DEBIT", "debit")]
)
def test_a_card_photo_tells_its_kind(face: str, expected: str) -> None:
    card = page(["中国建设银行", face, "6228 4845 9966 6228", "VALID THRU 07/30"])
    reading = read_receipt(card, TODAY)
    assert (reading.kind, reading.card_type) == ("card_photo", expected)


def test_an_app_page_takes_the_transaction_time_not_the_posting_date() -> None:
    app = page(
        [
            "<  账单详情",
            "-¥735.20",
            "已完成",
            ("记账日期", "2026-09-05"),
            ("交易时间", "2026/09/03 02:39:13"),
            ("交易对象", "长沙中石化加油站"),
            ("交易类型", "退款"),
            ("流水号", "20260903123456789012345"),
            ("卡号", "**** 1690"),
        ]
    )
    reading = read_receipt(app, TODAY)
    assert (reading.amount, reading.date, reading.time) == (Decimal("735.20"), "2026-09-03", "02:39:13")
    assert (reading.merchant_name, reading.transaction_type, reading.card_last4, reading.voucher_no) == (
        "长沙中石化加油站",
        "退货",
        "1690",
        None,
    )


def test_facts_are_the_fields_read_as_strings() -> None:
    facts = read_receipt(page(CHINESE_SLIP), TODAY).facts()
    assert facts["amount"] == "1299.00" and facts["card_last4"] == "1234" and "kind" not in facts


# --- duplicates ---------------------------------------------------------------------------

SLIP = ReceiptReading(
    kind="slip", amount=Decimal("128.00"), date="2026-11-20", time="14:32:10", ref_no="111111111111",
    voucher_no="000001",
)  # fmt: skip


def _slip(**changes: object) -> ReceiptReading:
    return ReceiptReading(**{**SLIP.__dict__, **changes})  # type: ignore[arg-type]


def test_the_same_charge_run_twice_is_a_duplicate() -> None:
    assert duplicate_of(SLIP, _slip(ref_no="222222222222", voucher_no="000002", time="14:33:02"))


def test_one_slip_photographed_twice_is_no_duplicate() -> None:
    assert not duplicate_of(SLIP, _slip())


@pytest.mark.parametrize(
    "other",
    [
        _slip(ref_no="2", voucher_no="2", amount=Decimal("12.80")),
        _slip(ref_no="2", voucher_no="2", time="14:45:00"),
        _slip(ref_no="2", voucher_no="2", date="2026-11-21"),
        _slip(ref_no=None, voucher_no=None),
    ],
    ids=["other amount", "twelve minutes later", "next day", "no ids to compare"],
)
def test_not_a_duplicate(other: ReceiptReading) -> None:
    assert not duplicate_of(SLIP, other)


# --- secrets in the picture -----------------------------------------------------------------


def test_a_full_card_number_split_over_two_boxes_is_found_in_both() -> None:
    lines = [
        line("卡号:", 50, 100),
        line("6222 0212", 150, 100),
        line("3456 7894", 400, 100),
        line("消费", 50, 140),
    ]
    assert secret_lines(lines) == [1, 2]


def test_a_printed_masked_number_and_labelled_ids_are_no_secrets() -> None:
    lines = page(
        [
            "卡号:622202******1234",
            "商户编号(MERCHANT NO.):",
            "898310048161234",  # 15 digits passing the Luhn check, under its label
            "参考号:123456789012",
            "金额:RMB 1,299.00",
        ]
    )
    assert secret_lines(lines) == []


def test_a_card_beside_a_slip_is_a_secret_though_its_row_has_a_slips_label() -> None:
    # The card's number stands on the row of the slip's 操作员号, which alone reads as an id.
    lines = [line("操作员号", 50, 100), line("001", 50, 140), line("5229649491280713", 700, 140)]
    assert 2 in secret_lines(lines) and 0 not in secret_lines(lines)


def test_an_entry_mode_read_as_a_digit_does_not_hide_a_full_number() -> None:
    lines = page(["商户号:898330170110123", "卡号:", "62220212345678941"])  # "6222021234567894 I"
    assert secret_lines(lines) == [2]
    assert read_receipt(lines, TODAY).card_last4 == "7894"


def test_an_expiry_on_a_card_is_a_secret() -> None:
    lines = page(["6228 4845 9966 6228", "VALID THRU 07/30", "ZHANG SAN"])
    assert secret_lines(lines) == [0, 1]


@pytest.mark.parametrize(
    "card_rows",
    [["卡号(CARD NO.):", "7323/C"], ["卡号:622521  *7323"], ["卡号:*******27323"]],
    ids=["asterisks lost", "one asterisk left", "an asterisk read as a digit"],
)
def test_last_four_digits_after_ocr_mangled_the_asterisks(card_rows: list[str]) -> None:
    slip = page(["商户号:898330170110123", "终端号:12345678", *card_rows, "金额:RMB 5.00"])
    assert read_receipt(slip, TODAY).card_last4 == "7323"
