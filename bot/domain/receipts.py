"""Read a photo's OCR lines as a transaction: a POS slip (签购单), a bank SMS or an app's detail page.

The OCR engine (``bot.infra.ocr``) gives text lines with their boxes; this module knows nothing
of images. It puts the lines back into printed rows (a phone photo is tilted, so rows are found
after undoing the tilt the boxes share), finds each field by its printed label (Chinese or
English, value on the same row or under the label) and, for the free text of an SMS, by the
sentence around it. Amounts, dates and card tails go through ``bot.domain.normalise``; a full
card number in the picture goes through ``bot.domain.masking`` first, so only its last four
digits are ever read.

What is read is a proposal: the bot shows it and asks the user to confirm or correct it before
it fills any case fact.

>>> line = lambda text, y: OcrLine(text, ((10, y), (300, y), (300, y + 20), (10, y + 20)), 0.99)
>>> reading = read_receipt([line("金额:RMB 128.00", 0), line("参考号:123456789012", 30)])
>>> str(reading.amount), reading.ref_no
('128.00', '123456789012')
"""

from __future__ import annotations

import difflib
import math
import re
import statistics
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from bot.domain import clock
from bot.domain.masking import _luhn_valid, mask_secrets
from bot.domain.normalise import amount_mentions, find_entities

Point = tuple[float, float]
Kind = Literal["slip", "sms", "app", "card_photo", "unknown"]
TRANSACTION_TYPES = ("消费", "撤销", "退货", "预授权")


@dataclass(frozen=True)
class OcrLine:
    """One line the OCR engine read: its text, its four corners (clockwise from top left), its confidence."""

    text: str
    box: tuple[Point, Point, Point, Point]
    score: float


@dataclass(frozen=True)
class ReceiptReading:
    """The fields read from one picture; None where the picture does not show one.

    ``card_type`` is ``"credit"`` or ``"debit"`` as everywhere in the bot; ``card_last4``
    is all that is kept of a card number.
    """

    kind: Kind = "unknown"
    amount: Decimal | None = None
    date: str | None = None
    time: str | None = None
    merchant_name: str | None = None
    merchant_id: str | None = None
    terminal_id: str | None = None
    ref_no: str | None = None
    voucher_no: str | None = None
    batch_no: str | None = None
    card_type: str | None = None
    card_last4: str | None = None
    transaction_type: str | None = None

    def facts(self) -> dict[str, str]:
        """The fields read, as strings, for the confirmation message and then the case."""
        return {
            item.name: str(getattr(self, item.name))
            for item in fields(self)
            if item.name != "kind" and getattr(self, item.name) is not None
        }


# --- rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    text: str
    x0: float
    x1: float
    line: int  # index into the OCR lines, so a field can name the boxes it came from


@dataclass(frozen=True)
class Row:
    """A printed row: its segments left to right, its text with the segments two spaces apart."""

    segments: tuple[_Segment, ...]

    @property
    def text(self) -> str:
        return "  ".join(segment.text for segment in self.segments)

    def spans(self) -> list[tuple[int, int, _Segment]]:
        """Each segment's character range in ``text``."""
        spans, start = [], 0
        for segment in self.segments:
            spans.append((start, start + len(segment.text), segment))
            start += len(segment.text) + 2
        return spans

    def x_at(self, offset: int) -> float:
        """Where the character at ``offset`` stands, interpolated inside its segment."""
        for start, end, segment in self.spans():
            if offset <= end:
                share = (offset - start) / max(end - start, 1)
                return segment.x0 + max(share, 0.0) * (segment.x1 - segment.x0)
        return self.segments[-1].x1


def _angle(line: OcrLine) -> float | None:
    """The slope of a box's top edge; None for a box too short to tell."""
    (x0, y0), (x1, y1) = line.box[0], line.box[1]
    if math.dist(line.box[0], line.box[1]) < 1.5 * math.dist(line.box[0], line.box[3]):
        return None
    return math.atan2(y1 - y0, x1 - x0)


@dataclass(frozen=True)
class _Placed:
    x: float
    y: float
    height: float
    angle: float


def _place(line: OcrLine, tilt: float) -> _Placed:
    xs, ys = [x for x, _ in line.box], [y for _, y in line.box]
    angle = _angle(line)
    return _Placed(
        sum(xs) / 4, sum(ys) / 4, math.dist(line.box[0], line.box[3]), tilt if angle is None else angle
    )


def _same_row(a: _Placed, b: _Placed) -> bool:
    """Whether ``b`` stands on ``a``'s row, following the slope between them.

    A phone photo is seen in perspective: rows slope more at one end of the slip than at the
    other, so one angle for the whole picture would put a right-aligned value on the row above
    its label. The mean of the two boxes' own slopes follows the row from one to the other.
    """
    slope = math.tan((a.angle + b.angle) / 2)
    expected = a.y + slope * (b.x - a.x)
    return abs(b.y - expected) < 0.45 * min(a.height, b.height)


def rows(lines: Sequence[OcrLine]) -> list[Row]:
    """The lines grouped into printed rows, top to bottom, each left to right."""
    if not lines:
        return []
    angles = [angle for angle in map(_angle, lines) if angle is not None]
    tilt = statistics.median(angles) if angles else 0.0
    placed = [_place(line, tilt) for line in lines]
    parent = list(range(len(lines)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for first in range(len(lines)):
        for second in range(first + 1, len(lines)):
            if _same_row(placed[first], placed[second]):
                parent[root(second)] = root(first)
    # Order along and across the rows in the picture turned by its overall tilt.
    cos, sin = math.cos(-tilt), math.sin(-tilt)
    turned = [(p.x * cos - p.y * sin, p.x * sin + p.y * cos) for p in placed]
    groups: dict[int, list[int]] = {}
    for index in range(len(lines)):
        groups.setdefault(root(index), []).append(index)
    ordered = []
    for members in groups.values():
        members.sort(key=lambda index: turned[index][0])
        segments = []
        for index in members:
            half = math.dist(lines[index].box[0], lines[index].box[1]) / 2
            x = turned[index][0]
            segments.append(_Segment(lines[index].text, x - half, x + half, index))
        ordered.append((turned[members[0]][1], Row(tuple(segments))))
    return [row for _, row in sorted(ordered, key=lambda item: item[0])]


def _turned_corners(line: OcrLine, direction: float) -> OcrLine:
    """The line with its corners renumbered so that its top edge runs nearest ``direction``."""
    box = line.box

    def off(start: int) -> float:
        (x0, y0), (x1, y1) = box[start], box[(start + 1) % 4]
        return abs(math.remainder(math.atan2(y1 - y0, x1 - x0) - direction, 2 * math.pi))

    start = min(range(4), key=off)
    corners = tuple(box[(start + k) % 4] for k in range(4))
    return OcrLine(line.text, corners, line.score)  # type: ignore[arg-type]


def upright(lines: Sequence[OcrLine]) -> list[OcrLine]:
    """The lines with their boxes' corners in reading order, for a photo taken at any quarter turn.

    The OCR engine reads turned text (it turns each box's crop), but gives the boxes' corners
    in the picture's order, so a slip photographed upside down or sideways would be put together
    bottom to top. The text's axis is the boxes' long edges; which way along it the text reads
    is the way that puts values after or under their labels more often.
    """
    axes = [
        math.atan2(b[1] - a[1], b[0] - a[0]) % math.pi
        for line in lines
        for a, b in [
            max(((line.box[0], line.box[1]), (line.box[1], line.box[2])), key=lambda e: math.dist(*e))
        ]
    ]
    if not axes:
        return list(lines)
    axis = statistics.median(axes)
    if axis > math.pi / 2 + math.pi / 4:  # a slight tilt the other side of 0
        axis -= math.pi
    candidates = [axis, axis + math.pi] if abs(axis) < math.pi / 4 else [axis, axis - math.pi]
    best, best_score = list(lines), -1
    for direction in candidates:
        turned = [_turned_corners(line, direction) for line in lines]
        document = rows(turned)
        score = sum(
            1
            for label in _labelled(document)
            if re.search(r"\d", label.value) or re.search(r"\d", _under(document, label) or "")
        )
        if score > best_score:
            best, best_score = turned, score
    return best


# --- labels -------------------------------------------------------------------------------

# English labels lose their spaces in OCR ("MERCHANTNO."), so every space in them is optional.
_LABELS = {
    # What looks like a field's label but names another value: the original slip's ids on a void
    # or refund, the day an app posted the charge, the card's expiry, the print time.
    "other": r"原(?:交易)?(?:参考号|凭证号|流水号|批次号|授权码|交易日期|日期)"
    r"|ORIG(?:INAL)?\s*(?:REF|TRACE|VOUCHER|AUTH)\s*\.?\s*(?:NO|CODE)?"
    r"|记账日期|入账日期|打印时间|操作员号?|OPERATOR(?:\s*NO)?|发卡(?:行|机构)|ISSUER|ISS(?:\s*NAME)?(?![A-Z])"
    r"|收单(?:行|机构)|ACQUIRER|ACQ(?:\s*NAME)?(?![A-Z])|卡?有效期|EXP(?:IRY)?\s*\.?\s*DATE|备注|签名|订单号|优惠",
    "merchant_name": r"(?:特约)?商户名称?|门店(?:名称)?|对方户名|交易对象|收款方|交易商户|MERCHANT\s*NAME",
    "merchant_id": r"商户(?:编号|代码|编码|号)|MERCHANT\s*(?:NO|ID|NUMBER)|MER\s*(?:NO|ID)"
    r"|(?<![A-Z])MID(?![A-Z])",
    "terminal_id": r"终端(?:编号|号码|号)?|TERMINAL\s*(?:NO|ID)|(?<![A-Z])TID(?![A-Z])",
    "batch_no": r"批次号?|BATCH\s*(?:NO)?",
    "voucher_no": r"凭证号?|流水号|票据号|VOUCHER\s*NO|TRACE\s*NO|INVOICE\s*NO",
    "ref_no": r"(?:检索|系统|交易)?参考号|REF(?:ER(?:ENCE)?)?\s*\.?\s*NO",
    "auth_code": r"授权[码号]|批准码|AUTH\s*(?:NO|CODE)|APP(?:R)?\s*CODE",
    "card": r"(?:交易|付款)?卡号|卡\s+号|CARD\s*(?:NO|NUMBER)|支付方式",
    "card_type": r"卡类[型别]|卡种|CARD\s*TYPE",
    "transaction_type": r"交易类[型别]|TRANS(?:ACTION)?\s*TYPE|TXN\s*TYPE",
    "year": r"年份|(?<![A-Z])YEAR(?![A-Z])",
    "datetime": r"日期\s*/?\s*时间|DATE\s*/?\s*TIME|交易时间|交易日期|日期|时间|DATE|TIME",
    "amount": r"(?:交易|消费|实付|订单)?金额|AMOUNT|(?<![A-Z])AMT|总计|合计|TOTAL",
}
_LABEL = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _LABELS.items()), re.IGNORECASE)
_PUNCTUATION = " \t:：.()（）/／-"
# A value keeps its closing bracket: "海底捞火锅(万达广场店)".
_TRAILING = " \t:：./／-(（"
_DIGIT_FIELDS = {
    "merchant_id": r"\d{15}",
    "terminal_id": r"\d{8}",
    "batch_no": r"\d{6}",
    "voucher_no": r"\d{6}",
    "ref_no": r"\d{12}",
}
# OCR reads a printed 0 as O and a 1 as l or I inside digit runs.
_LOOKALIKES = str.maketrans("OoDIl|", "000111")
_DIGIT_RUN = re.compile(r"[0-9OoDIl|](?:[0-9OoDIl| ]*[0-9OoDIl|])?")


def _digits_of(text: str, spaced: bool = False) -> str:
    """Runs of digits with their look-alike letters read as digits and inner spaces dropped.

    ``spaced`` keeps the spaces, which part a date from its time ("12/05 14:32").
    """

    def fix(match: re.Match[str]) -> str:
        run = match.group()
        if sum(c.isdigit() for c in run) < 3:
            return run
        return run.translate(_LOOKALIKES) if spaced else run.translate(_LOOKALIKES).replace(" ", "")

    return _DIGIT_RUN.sub(fix, text)


@dataclass(frozen=True)
class _Labelled:
    field: str
    row: int
    start: int  # in the row's text, where the label starts
    value: str  # the row's text after the label up to the next label


def _labelled(document: list[Row]) -> list[_Labelled]:
    """Each label found, with the text after it; "商户编号(MERCHANT NO.):" is one label."""
    found = []
    for number, row in enumerate(document):
        text = row.text
        matches = [match for match in _LABEL.finditer(text) if match.lastgroup]
        merged: list[tuple[str, int, int]] = []
        for match in matches:
            name = match.lastgroup or ""
            if (
                merged
                and merged[-1][0] == name
                and not text[merged[-1][2] : match.start()].strip(_PUNCTUATION)
            ):
                merged[-1] = (name, merged[-1][1], match.end())
            else:
                merged.append((name, match.start(), match.end()))
        for position, (name, start, end) in enumerate(merged):
            stop = merged[position + 1][1] if position + 1 < len(merged) else len(text)
            found.append(_Labelled(name, number, start, _stripped(text[end:stop])))
    return found


def _under(document: list[Row], label: _Labelled) -> str | None:
    """The next row's text nearest the label's column, when that row holds no label itself."""
    if label.row + 1 >= len(document):
        return None
    row, below = document[label.row], document[label.row + 1]
    if _LABEL.search(below.text):
        return None
    x = row.x_at(label.start)
    nearest = min(below.segments, key=lambda segment: abs(segment.x0 - x))
    return _stripped(nearest.text)


def _stripped(value: str) -> str:
    return value.lstrip(_PUNCTUATION).rstrip(_TRAILING)


def _values(document: list[Row], labels: list[_Labelled], name: str) -> list[str]:
    """What follows each label of ``name``: the rest of its row, then the text under it."""
    values = []
    for label in labels:
        if label.field == name:
            values.append(label.value)
            under = _under(document, label)
            if under is not None:
                values.append(under)
    return values


# --- fields -------------------------------------------------------------------------------


def _digit_field(values: list[str], name: str) -> str | None:
    pattern = re.compile(rf"(?<!\d){_DIGIT_FIELDS[name]}(?!\d)")
    for value in values:
        match = pattern.search(_digits_of(value))
        if match:
            return match.group()
    return None


_CENTS = Decimal("0.01")


_IN_DATE = re.compile(r"[./:-]\d")


def _money(text: str) -> Decimal | None:
    """The first amount in a label's value that is not part of a date or a time ("2026.02.04")."""
    text = text.replace("￥", "¥")
    for found in amount_mentions(text):
        if not _IN_DATE.match(text, found.end) and not _IN_DATE.match(text[::-1], len(text) - found.start):
            return Decimal(str(found.value)).quantize(_CENTS)
    return None


# A line that is only an amount, as an app's detail page shows it: "-848.00", "¥ 1,299.00".
_LONE_AMOUNT = re.compile(
    r"(?:支出|收入)?\s*[-+−]?\s*[¥￥]?\s*[-+−]?\s*(?P<value>\d{1,3}(?:,\d{3})+|\d+)\.\d{2}\s*元?"
)
# In an SMS the charge is a sum with its cents or its 元; the balance (余额) and the credit left
# (额度) are sums too, named just before them.
_SMS_SUM = re.compile(
    r"(?<![\d.,:])(?P<amount>[-−]?\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|[-−]?\d+\.\d{1,2}|[-−]?\d+(?=\s*元))"
    r"(?![\d:/])"
)
_NOT_THE_CHARGE = re.compile(r"(?:余额|额度|可用|积分|工资)[^，,。;；]{0,6}$")


def _sms_amount(message: str) -> Decimal | None:
    for found in _SMS_SUM.finditer(message):
        if _NOT_THE_CHARGE.search(message[max(0, found.start() - 12) : found.start()]):
            continue
        return Decimal(found["amount"].replace(",", "").replace("−", "-")).copy_abs().quantize(_CENTS)
    return None


def _amount(document: list[Row], labels: list[_Labelled], message: str | None) -> Decimal | None:
    if message is not None:
        return _sms_amount(message)
    for value in _values(document, labels, "amount"):
        amount = _money(value)
        if amount is not None:
            return amount.copy_abs()
    for row in document:
        lone = _LONE_AMOUNT.fullmatch(row.text.strip())
        if lone:
            return Decimal(re.sub(r"[^0-9.]", "", lone.group())).quantize(_CENTS)
    return None


# Slips print the year ("2026/11/20", "2026.11.01"); OCR may glue the time on: "2026-10-2917:08".
_FULL_DATE = re.compile(
    r"(?<!\d)(?P<year>20\d{2})\s*[-/.年]\s*(?P<month>\d{1,2})\s*[-/.月]\s*(?P<day>\d{2}|\d)(?:\s*日)?"
)
# A terminal's compact form: "20261205 143207", "20261205143207".
_COMPACT = re.compile(
    r"(?<!\d)(?P<year>20\d{2})(?P<month>[01]\d)(?P<day>[0-3]\d)\s*"
    r"(?:(?P<hour>[01]\d|2[0-3])(?P<minute>[0-5]\d)(?P<second>[0-5]\d))?(?!\d)"
)
# Without the year: "12/05 14:32", "09-03", "12月5日", and glued to its time by OCR: "05/1609:14:17".
_GLUED_MONTH_DAY = re.compile(
    r"(?<![\d/.-])(?P<month>1[0-2]|0[1-9])\s*[-/]\s*(?P<day>3[01]|[12]\d|0[1-9])(?=[01]?\d[:：][0-5]\d)"
)
_MONTH_DAY = re.compile(
    r"(?<![\d/.-])(?P<month>1[0-2]|0?[1-9])\s*[-/月]\s*(?P<day>3[01]|[12]\d|0?[1-9])(?:\s*日|(?![\d/.-]))"
)
_TIME = re.compile(
    r"(?<!\d)(?P<hour>[01]?\d|2[0-3])\s*[:：时]\s*(?P<minute>[0-5]\d)(?:\s*[:：分]\s*(?P<second>[0-5]\d))?(?![\d.])"
)
_COMPACT_TIME = re.compile(r"^\s*(?P<hour>[01]\d|2[0-3])(?P<minute>[0-5]\d)(?P<second>[0-5]\d)\s*$")
_YEAR = re.compile(r"(?<!\d)20\d{2}(?!\d)")
_EXPIRY = re.compile(r"有效期|EXP|VALID|THRU|GOOD", re.IGNORECASE)
# A transaction on a receipt is in the past, and not by years: an expiry ("2029/12") is neither.
_OLDEST_YEARS = 3


def _plausible(day: date, today: date) -> bool:
    return today.replace(year=today.year - _OLDEST_YEARS) <= day <= today


def _a_date(text: str, today: date, year: int | None) -> tuple[str, int] | None:
    """A date in ``text`` and where it ends; a date without a year is the latest one before today."""
    for pattern in (_FULL_DATE, _COMPACT):
        for found in pattern.finditer(text):
            try:
                day = date(int(found["year"]), int(found["month"]), int(found["day"]))
            except ValueError:
                continue
            if _plausible(day, today):
                end = found.end() if pattern is _FULL_DATE or not found["hour"] else found.start("hour")
                return day.isoformat(), end
    for found in (*_GLUED_MONTH_DAY.finditer(text), *_MONTH_DAY.finditer(text)):
        if _YEAR.fullmatch(text[max(0, found.start() - 5) : found.start()].strip(" /-.")):
            continue  # the tail of a full date that failed above
        month, number = int(found["month"]), int(found["day"])
        for candidate_year in [year] if year else [today.year, today.year - 1]:
            try:
                day = date(candidate_year, month, number)
            except ValueError:
                break
            if _plausible(day, today):
                return day.isoformat(), found.end()
    return None


def _a_time(text: str) -> str | None:
    found = _TIME.search(text) or _COMPACT_TIME.match(text) or _COMPACT.search(text)
    if not found or found["hour"] is None:
        return None
    return f"{int(found['hour']):02d}:{found['minute']}" + (f":{found['second']}" if found["second"] else "")


def _date_time(texts: list[str], today: date, year: int | None = None) -> tuple[str | None, str | None]:
    """The first date and time found, trying each text in turn; the time is after the date if both."""
    found_date = found_time = None
    for text in (_digits_of(text, spaced=True) for text in texts):
        after = 0
        if found_date is None:
            dated = _a_date(text, today, year)
            if dated:
                found_date, after = dated
        if found_time is None:
            found_time = _a_time(text[after:])
        if found_date and found_time:
            break
    return found_date, found_time


# In the order they are tried: "消费撤销" is a void and "预授权完成" a pre-authorisation's end.
_TYPE_WORDS = (
    ("预授权", r"预授权|PRE-?\s*AUTH|(?<![A-Z])AUTH(?!\s*\.?\s*(?:NO|CODE))"),
    ("撤销", r"撤销|VOID"),
    ("退货", r"退货|退款|REFUND|RETURN"),
    ("消费", r"消费|SALE|PURCHASE|收款"),
)


def _type_in(text: str) -> str | None:
    upper = text.upper()
    return next((name for name, pattern in _TYPE_WORDS if re.search(pattern, upper)), None)


# A row that is only the type, in large print under an unread label: "SALE", "VOID 撤销".
_TYPE_ROW = re.compile(r"(?:SALE|VOID|REFUND|PRE-?\s*AUTH|PURCHASE)\b[\s/]*[\u4e00-\u9fff()]*", re.IGNORECASE)
# A bank's message or app names a purchase by the money going out, not by the POS word.
_PAID = re.compile(r"支付|扣款|支出|付款")


def _transaction_type(document: list[Row], labels: list[_Labelled], joined: str, spoken: bool) -> str | None:
    """The labelled type, else a type word in the text; ``spoken`` (an SMS or app page) adds 支付 and 支出."""
    for value in _values(document, labels, "transaction_type"):
        found = _type_in(value)
        if found:
            return found
    for row in document:
        if _TYPE_ROW.fullmatch(row.text.strip()):
            return _type_in(row.text)
    found = _type_in(re.sub(r"(?<![A-Z])[A-Z][A-Z ./]*", " ", joined))  # unlabelled: Chinese words only
    if found is None and spoken and _PAID.search(joined):
        return "消费"
    return found


# Masked on the slip: "622202******1234", "6222 02** **** 1234", "**** 1234"; OCR may read
# one asterisk as a digit ("*******25292"), so the tail is the run's last four digits.
_MASK = "*＊xX×•·∗※米+★☆#"
_MASKED_TAIL = re.compile(rf"[{_MASK}]{{2,}}\s*\d*(?P<tail>\d{{4}})(?!\d)")
# The entry mode printed after the number ("/C", "(C)", " I") is no digit, though OCR reads I as 1.
_ENTRY_MODE = re.compile(r"(?<=\d)\s*(?:[/(（]\s*[A-Za-z]\s*[)）]?|[A-Za-z|])\s*$")
# A masked number one digit too long (16 or 19 digits and stars, plus one) ends with that 1.
_ONE_TOO_MANY = re.compile(rf"(?P<shown>\d{{4,6}}[{_MASK}]{{4,}}\d{{4}})1$")
# What follows 卡号 ends with the last four, whatever OCR made of the asterisks: "*1784", "7323/C".
_LABELLED_TAIL = re.compile(r"(?P<tail>\d{4})\s*(?:[/(]?\s*[A-Z]\)?)?\s*$")
_BRACKETED_TAIL = re.compile(
    r"(?:卡|账户|账号|尾号)\s*[（(]?\s*(?P<tail>\d{4})\s*[)）]|[（(](?:尾号)?(?P<alone>\d{4})[)）]"
)
_ACCOUNT_TAIL = re.compile(r"(?:账户|账号|卡号?|尾号为?)\s*(?:尾号)?\s*[*＊]?\s*(?P<tail>\d{4})(?!\d)")


def _without_entry_mode(text: str) -> str:
    text = _ENTRY_MODE.sub("", text.strip())
    longer = _ONE_TOO_MANY.search(text.replace(" ", ""))
    if longer and len(longer["shown"]) in (16, 19):
        return longer["shown"]
    return text


def _card_last4(masked_rows: list[str], joined_masked: str, labelled: list[str]) -> str | None:
    """From the masked text, where a full card number already reads "[卡号已隐藏，尾号1234]"."""
    masked_rows = [_without_entry_mode(row) for row in masked_rows]
    labelled = [_without_entry_mode(value) for value in labelled]
    for value in labelled:
        masked = mask_secrets(value).text
        match = _LABELLED_TAIL.search(_digits_of(masked))
        if match and masked == value and not re.fullmatch(r"\d{5,}", value.replace(" ", "")):
            return match["tail"]
    for text in (*masked_rows, joined_masked):
        tail = next((m.value for m in find_entities(text) if m.entity == "card_last4"), None)
        if isinstance(tail, str):
            return tail
        for pattern in (_MASKED_TAIL, _BRACKETED_TAIL, _ACCOUNT_TAIL):
            match = pattern.search(_digits_of(text))
            if match:
                return match["tail"] or match.groupdict().get("alone")
    return None


_ENGLISH_CARD_TYPES = {"CREDIT": "credit", "DEBIT": "debit"}


def _card_type(document: list[Row], labels: list[_Labelled], joined: str) -> str | None:
    """The labelled kind, else a Chinese word for it, else CREDIT or DEBIT on its own (a card's face)."""
    for text in (*_values(document, labels, "card_type"), joined):
        found = next((m.value for m in find_entities(text) if m.entity == "card_type"), None)
        if isinstance(found, str):
            return found
    for text in (*_values(document, labels, "card_type"), joined):
        english = re.search(r"(?<![A-Z])(CREDIT|DEBIT)(?![A-Z])", text.upper())
        if english:
            return _ENGLISH_CARD_TYPES[english.group(1)]
    return None


_CJK_SPACE = re.compile(r"(?<=[\u4e00-\u9fff()（）])\s+(?=[\u4e00-\u9fff()（）])")
_SMS_MERCHANT = re.compile(
    r"在\s*【(?P<bracketed>[^】]{2,40})】|[(（](?:消费|退货|撤销|预授权|支付)(?P<paren>[^()（）]{2,40}(?:[(（][^()（）]{1,12}[)）])?)[)）]"
    r"|商户\s*[:：]\s*(?P<labelled>[^，,。;；]{2,40})"
    r"|在\s*(?P<name>[^，,。【】\d]{2,40}?)】?\s*(?:POS|快捷|网上|银联|无卡)?"
    r"(?:消费|支出|支付|扣款|撤销|退货|退款|预授权|刷卡|完成)"
)
_NAME_END = re.compile(r"(?:公司|店|站|部|城|行|馆|院|场|中心|厅|所|社)[)）]?$")


# What the row under a name label may hold when OCR lost the name: the copy, the slip's title.
_NOT_A_NAME = re.compile(r"存根|COPY|签购单|凭条|SLIP|UnionPay", re.IGNORECASE)


def _tidy_name(text: str) -> str:
    name = _CJK_SPACE.sub("", text.strip(" \t:：.-/"))
    name = re.sub(r"^[A-Za-z. ]{2,}(?=[\u4e00-\u9fff])", "", name)  # the rest of a garbled English label
    if name.endswith(")") and name.count("(") < name.count(")"):
        name = name[:-1]
    if name.startswith("(") and name.count("(") > name.count(")"):
        name = name[1:]
    return name


def _merchant_name(document: list[Row], labels: list[_Labelled], message: str | None) -> str | None:
    if message is not None:
        sms = _SMS_MERCHANT.search(message)
        if sms:
            return _tidy_name(next(value for value in sms.groupdict().values() if value))
        return None
    for value in _values(document, labels, "merchant_name"):
        name = _tidy_name(value)
        if (
            re.search(r"[\u4e00-\u9fff]{2}", name)
            and not _LABEL.fullmatch(name)
            and not _NOT_A_NAME.search(name)
        ):
            return name
    # An app's detail page puts the merchant's name above the amount, alone on its row.
    names = [_tidy_name(row.text) for row in document]
    return next((name for name in names if _NAME_END.search(name) and not _LABEL.search(name)), None)


def _kind(labels: list[_Labelled], joined: str, last4_only: bool) -> Kind:
    slip_fields = {label.field for label in labels} & {"merchant_id", "terminal_id", "ref_no", "voucher_no"}
    if len(slip_fields) >= 2:
        return "slip"
    if re.search(r"详情|交易状态|交易成功|账单详情|交易明细", joined):
        return "app"
    if re.search(r"您|【.{2,8}银行】|\[.{2,8}银行\]", joined):
        return "sms"
    return "card_photo" if last4_only else "unknown"


# The time an SMS app shows above a message: "7月20日 20:03", "昨天 20:03", "20:03".
_SMS_STAMP = re.compile(
    r"(?:\d{1,2}月\d{1,2}日|昨天|前天|今天|星期.|周.|\d{4}[-/年]\d{1,2}[-/月]\d{1,2}日?)?\s*\d{1,2}:\d{2}"
)
_SMS_SENDER = re.compile(r"【[^】]{2,12}】|\[[^\]]{2,12}\]")


def _last_message(document: list[Row]) -> str | None:
    """An SMS thread's newest message that names a sum, its rows joined; None for no SMS.

    A screenshot may show earlier notices above it (a code, a bill, a salary): the thread is cut
    at the time stamps the messaging app shows, and the newest message with a sum is the one.
    """
    messages: list[list[str]] = [[]]
    for row in document:
        if _SMS_STAMP.fullmatch(row.text.strip()):
            messages.append([])
        else:
            messages[-1].append(row.text)
    texts = ["".join(rows) for rows in messages if rows]
    spoken = [text for text in texts if re.search(r"您|尾号", text) and _sms_amount(text) is not None]
    return spoken[-1] if spoken else None


def read_receipt(lines: Sequence[OcrLine], today: date | None = None) -> ReceiptReading:
    """The fields of a slip, SMS, app screenshot or card photo from its OCR lines.

    ``today`` resolves a date printed without its year (an SMS's "11月20日").
    """
    reference = today or clock.today()
    document = rows(
        upright([OcrLine(unicodedata.normalize("NFKC", line.text), line.box, line.score) for line in lines])
    )
    texts = [row.text for row in document]
    labels = _labelled(document)
    joined = "".join(texts)  # an SMS wraps mid-word, so its rows join with nothing between
    kind = _kind(labels, joined, False)
    message = _last_message(document) if kind in ("sms", "unknown") else None
    if message is not None:
        kind = "sms"
    masked_rows = [mask_secrets(_as_printed(text)).text for text in texts]
    year = next((int(y.group()) for v in _values(document, labels, "year") if (y := _YEAR.search(v))), None)
    # A card's expiry ("VALID THRU 10/30") reads like a date without its year.
    undated = [text for text in texts if not _EXPIRY.search(text)]
    dated = [message] if message is not None else [*_values(document, labels, "datetime"), *undated]
    date_value, time_value = _date_time(dated, reference, year)
    reading = ReceiptReading(
        amount=_amount(document, labels, message),
        date=date_value,
        time=time_value,
        merchant_name=_merchant_name(document, labels, message),
        merchant_id=_digit_field(_values(document, labels, "merchant_id"), "merchant_id"),
        terminal_id=_digit_field(_values(document, labels, "terminal_id"), "terminal_id"),
        ref_no=_digit_field(_values(document, labels, "ref_no"), "ref_no"),
        voucher_no=_digit_field(_values(document, labels, "voucher_no"), "voucher_no"),
        batch_no=_digit_field(_values(document, labels, "batch_no"), "batch_no"),
        card_type=_card_type(document, labels, message or joined),
        card_last4=_card_last4(
            [mask_secrets(message).text] if message else masked_rows,
            "".join(masked_rows),
            _values(document, labels, "card"),
        ),
        transaction_type=_transaction_type(document, labels, message or joined, kind in ("sms", "app")),
    )
    if kind in ("unknown",) and reading.card_last4 is not None and reading.amount is None:
        kind = "card_photo"
    return _with_kind(reading, kind)


def _with_kind(reading: ReceiptReading, kind: Kind) -> ReceiptReading:
    return ReceiptReading(
        **{**{item.name: getattr(reading, item.name) for item in fields(reading)}, "kind": kind}
    )


# --- secrets in the picture ------------------------------------------------------------------

# What joins the digit groups of a number a mask replaced: the whole run is covered, even the
# last four digits the text mask keeps, since a box cannot be covered in part.
_NUMBER_CHARS = frozenset("0123456789 -*/")


def secret_lines(lines: Sequence[OcrLine]) -> list[int]:
    """Indices of the lines holding part of a secret ``mask_secrets`` hides: a full card number, an expiry.

    The rows are masked as one text, a row to a line, so a label on the row above ("卡号:") counts
    as it does in a typed message; and each row is masked alone too, since a photo may put a card
    beside a slip, and the slip's row above ("操作员号") would make the card's number read as an
    id; and each line alone. Every line whose characters any of them replaced is returned:
    covering more is safe.
    """
    document = rows(upright(lines))
    spans: list[tuple[str, list[int]]] = []
    for row in document:
        owners: list[int] = []
        for start, end, segment in row.spans():
            owners += [segment.line] * (end - start) + ([-1, -1] if end < len(row.text) else [])
        spans.append((_as_printed(row.text), owners))
    whole = "".join(text + "\n" for text, _ in spans)
    whole_owners = [owner for _, owners in spans for owner in [*owners, -1]]
    hit = _masked_owners(whole, whole_owners)
    for text, owners in spans:
        hit |= _masked_owners(text, owners)
    for index, line in enumerate(lines):  # and each box alone, when rows mix two documents
        hit |= _masked_owners(_as_printed(line.text), [index] * len(line.text))
    return sorted(hit)


# A chip slip's entry mode glued to the number: "6222021234567894I", read "62220212345678941".
_GLUED_MODE = re.compile(r"(?<=\d)[Il|1](?=\s|$)")


def _as_printed(text: str) -> str:
    """The row with an entry mode OCR glued to a full number set apart again, same length."""
    return _GLUED_MODE.sub(lambda m: " " if _luhn_number(m.string[: m.start()]) else m.group(), text)


def _luhn_number(before: str) -> bool:
    digits = re.search(r"(\d{16}|\d{19})$", before)
    return digits is not None and _luhn_valid(digits.group())


def _masked_owners(text: str, owners: list[int]) -> set[int]:
    masked = mask_secrets(text).text
    if masked == text:
        return set()
    hit: set[int] = set()
    matcher = difflib.SequenceMatcher(None, text, masked, autojunk=False)
    for tag, start, end, _, _ in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            while start > 0 and text[start - 1] in _NUMBER_CHARS:
                start -= 1
            while end < len(text) and text[end] in _NUMBER_CHARS:
                end += 1
            hit.update(owner for owner in owners[start:end] if owner >= 0)
    return hit


# --- duplicates ---------------------------------------------------------------------------

# A terminal that timed out and was tried again prints its second slip a minute or two later.
DUPLICATE_WINDOW_MINUTES = 5


def _moment(reading: ReceiptReading) -> datetime | None:
    if reading.date is None or reading.time is None:
        return None
    return datetime.fromisoformat(f"{reading.date}T{reading.time[:5]}")


def duplicate_of(first: ReceiptReading, second: ReceiptReading) -> bool:
    """Two slips of one charge run twice: same amount and time, different 凭证号 or 参考号.

    The same 参考号 and 凭证号 on both is one slip photographed twice, not a duplicate charge.
    """
    first_moment, second_moment = _moment(first), _moment(second)
    if first.amount is None or first.amount != second.amount or first_moment is None or second_moment is None:
        return False
    if abs((first_moment - second_moment).total_seconds()) > DUPLICATE_WINDOW_MINUTES * 60:
        return False
    ids = [
        (a, b) for a, b in ((first.ref_no, second.ref_no), (first.voucher_no, second.voucher_no)) if a and b
    ]
    return bool(ids) and any(a != b for a, b in ids)
