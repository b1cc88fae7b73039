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
from bot.domain.masking import mask_secrets
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


# --- labels -------------------------------------------------------------------------------

# English labels lose their spaces in OCR ("MERCHANTNO."), so every space in them is optional.
_LABELS = {
    "merchant_name": r"商户名称|商户名|特约商户|MERCHANT\s*NAME",
    "merchant_id": r"商户(?:编号|代码|号)|MERCHANT\s*(?:NO|ID|NUMBER)|(?<![A-Z])MID(?![A-Z])",
    "terminal_id": r"终端?(?:编号|号码|号)|TERMINAL\s*(?:NO|ID)|(?<![A-Z])TID(?![A-Z])",
    "batch_no": r"批次号?|BATCH\s*NO",
    "voucher_no": r"凭证号?|流水号|VOUCHER\s*NO|TRACE\s*NO",
    "ref_no": r"(?:检索)?参考号|REF(?:ER(?:ENCE)?)?\s*\.?\s*NO",
    "auth_code": r"授权码|批准码|AUTH\s*(?:NO|CODE)|APPR\s*CODE",
    "card": r"卡号|CARD\s*NO|交易卡号?",
    "card_type": r"卡类[型别]|卡种|CARD\s*TYPE",
    "transaction_type": r"交易类[型别]|TRANS\s*TYPE|TXN\s*TYPE",
    "datetime": r"日期\s*/?\s*时间|DATE\s*/?\s*TIME|交易时间|交易日期|日期|时间|DATE|TIME",
    "amount": r"(?:交易|消费)?金额|AMOUNT|AMT",
    "other": r"操作员号?|OPERATOR(?:\s*NO)?|发卡行|ISSUER|收单行|ACQUIRER|有效期|EXP\s*DATE|备注|签名",
}
_LABEL = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _LABELS.items()), re.IGNORECASE)
_PUNCTUATION = " \t:：.()（）/／-"
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


def _digits_of(text: str) -> str:
    """Runs of digits with their look-alike letters read as digits and inner spaces dropped."""

    def fix(match: re.Match[str]) -> str:
        run = match.group()
        return run.translate(_LOOKALIKES).replace(" ", "") if sum(c.isdigit() for c in run) >= 3 else run

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
            found.append(_Labelled(name, number, start, text[end:stop].strip(_PUNCTUATION)))
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
    return nearest.text.strip(_PUNCTUATION)


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
_LONE_AMOUNT = re.compile(r"[-+−]?\s*[¥￥]?\s*(?P<value>\d{1,3}(?:,\d{3})+|\d+)\.\d{2}\s*元?")
# In an SMS the charge follows its verb; the balance (余额) and the credit left (额度) never do.
_SMS_AMOUNT = re.compile(
    r"(?:消费|支出|支付|扣款|交易|刷卡|撤销|退货|退款|预授权|存入|转出)[^0-9余额]{0,8}?"
    r"(?P<amount>[-−]?\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|[-−]?\d+(?:\.\d{1,2})?)(?![-/:]\d)\s*元?"
)


def _amount(document: list[Row], labels: list[_Labelled], joined: str) -> Decimal | None:
    for value in _values(document, labels, "amount"):
        amount = _money(value)
        if amount is not None:
            return amount
    for row in document:
        lone = _LONE_AMOUNT.fullmatch(row.text.strip())
        if lone:
            return Decimal(re.sub(r"[^0-9.]", "", lone.group())).quantize(_CENTS)
    sms = _SMS_AMOUNT.search(joined)
    if sms:
        return Decimal(sms["amount"].replace(",", "").replace("−", "-")).copy_abs().quantize(_CENTS)
    return None


# Slips print the year ("2026/11/20", "2026.11.01"); OCR may glue the time on: "2026-10-2917:08".
_FULL_DATE = re.compile(
    r"(?<!\d)(?P<year>20\d{2})\s*[-/.年]\s*(?P<month>\d{1,2})\s*[-/.月]\s*(?P<day>\d{2}|\d)(?:\s*日)?"
)
_TIME = re.compile(
    r"(?<!\d)(?P<hour>[01]?\d|2[0-3])\s*[:：时]\s*(?P<minute>[0-5]\d)(?:\s*[:：分]\s*(?P<second>[0-5]\d))?"
)


def _date_time(texts: list[str], today: date) -> tuple[str | None, str | None]:
    """The first date and time found, trying each text in turn; the time is after the date if both."""
    found_date = found_time = None
    for text in texts:
        after = 0
        if found_date is None:
            full = _FULL_DATE.search(text)
            if full:
                try:
                    found_date = date(int(full["year"]), int(full["month"]), int(full["day"])).isoformat()
                    after = full.end()
                except ValueError:
                    pass
            else:
                named = next((m for m in find_entities(text, today) if m.entity == "date"), None)
                if named is not None and re.search(r"\d", named.text):
                    found_date, after = str(named.value), named.end
        if found_time is None:
            clock_time = _TIME.search(text[after:])
            if clock_time:
                found_time = f"{int(clock_time['hour']):02d}:{clock_time['minute']}"
                if clock_time["second"]:
                    found_time += f":{clock_time['second']}"
        if found_date and found_time:
            break
    return found_date, found_time


_TYPE_WORDS = (
    ("预授权", r"预授权|PRE-?AUTH|(?<![A-Z])AUTH(?!\s*(?:NO|CODE))"),
    ("撤销", r"撤销|VOID"),
    ("退货", r"退货|退款|REFUND"),
    ("消费", r"消费|SALE"),
)
_TYPE = re.compile("|".join(f"(?P<t{index}>{pattern})" for index, (_, pattern) in enumerate(_TYPE_WORDS)))
_CHINESE_TYPE = re.compile("|".join(name for name, _ in _TYPE_WORDS))


def _transaction_type(document: list[Row], labels: list[_Labelled], joined: str) -> str | None:
    for value in _values(document, labels, "transaction_type"):
        match = _TYPE.search(value.upper())
        if match:
            return _TYPE_WORDS[int((match.lastgroup or "t0")[1:])][0]
    match = _CHINESE_TYPE.search(joined)
    return match.group() if match else None


# Masked on the slip: "622202******1234", "6222 02** **** 1234", "**** 1234"; OCR may read
# one asterisk as a digit ("*******25292"), so the tail is the run's last four digits.
_MASKED_TAIL = re.compile(r"[*＊xX•·]{2,}\s*\d*(?P<tail>\d{4})(?!\d)")
# What follows 卡号 ends with the last four, whatever OCR made of the asterisks: "*1784", "7323/C".
_LABELLED_TAIL = re.compile(r"(?P<tail>\d{4})\s*(?:/\s*[A-Z])?\s*$")
_BRACKETED_TAIL = re.compile(
    r"(?:卡|账户|账号|尾号)\s*[（(]?\s*(?P<tail>\d{4})\s*[)）]|[（(](?P<alone>\d{4})[)）]"
)
_ACCOUNT_TAIL = re.compile(r"(?:账户|账号|卡号?)(?:尾号)?\s*(?P<tail>\d{4})(?!\d)")


def _card_last4(masked_rows: list[str], joined_masked: str, labelled: list[str]) -> str | None:
    """From the masked text, where a full card number already reads "[卡号已隐藏，尾号1234]"."""
    for text in (*masked_rows, joined_masked):
        tail = next((m.value for m in find_entities(text) if m.entity == "card_last4"), None)
        if isinstance(tail, str):
            return tail
        for pattern in (_MASKED_TAIL, _BRACKETED_TAIL, _ACCOUNT_TAIL):
            match = pattern.search(_digits_of(text))
            if match:
                return match["tail"] or match.groupdict().get("alone")
    for value in labelled:
        masked = mask_secrets(value).text
        match = _LABELLED_TAIL.search(_digits_of(masked))
        if match and masked == value:
            return match["tail"]
    return None


def _card_type(document: list[Row], labels: list[_Labelled], joined: str) -> str | None:
    for text in (*_values(document, labels, "card_type"), joined):
        found = next((m.value for m in find_entities(text) if m.entity == "card_type"), None)
        if isinstance(found, str):
            return found
    return None


_CJK_SPACE = re.compile(r"(?<=[\u4e00-\u9fff()（）])\s+(?=[\u4e00-\u9fff()（）])")
_SMS_MERCHANT = re.compile(
    r"在\s*【(?P<bracketed>[^】]{2,40})】|在\s*(?P<name>[^，,。【】\d]{2,40}?)】?\s*(?:POS|快捷|网上|银联|无卡)?"
    r"(?:消费|支出|支付|扣款|撤销|退货|退款|预授权|刷卡|完成)"
)
_NAME_END = re.compile(r"(?:公司|店|站|部|城|行|馆|院|场|中心|厅|所|社)$")


def _tidy_name(text: str) -> str:
    return _CJK_SPACE.sub("", text.strip(_PUNCTUATION))


def _merchant_name(document: list[Row], labels: list[_Labelled], joined: str) -> str | None:
    for value in _values(document, labels, "merchant_name"):
        name = _tidy_name(value)
        if len(name) >= 2 and re.search(r"[\u4e00-\u9fff]", name) and not _LABEL.fullmatch(name):
            return name
    sms = _SMS_MERCHANT.search(joined)
    if sms:
        return _tidy_name(sms["bracketed"] or sms["name"])
    # An app's detail page puts the merchant's name above the amount, alone on its row.
    names = [_tidy_name(row.text) for row in document]
    return next((name for name in names if _NAME_END.search(name) and not _LABEL.search(name)), None)


def _kind(labels: list[_Labelled], joined: str, last4_only: bool) -> Kind:
    slip_fields = {label.field for label in labels} & {"merchant_id", "terminal_id", "ref_no", "voucher_no"}
    if len(slip_fields) >= 2:
        return "slip"
    if re.search(r"详情|交易状态|交易成功|账单", joined):
        return "app"
    if re.search(r"您|【.{2,8}银行】|\[.{2,8}银行\]", joined):
        return "sms"
    return "card_photo" if last4_only else "unknown"


def read_receipt(lines: Sequence[OcrLine], today: date | None = None) -> ReceiptReading:
    """The fields of a slip, SMS, app screenshot or card photo from its OCR lines.

    ``today`` resolves a date printed without its year (an SMS's "11月20日").
    """
    reference = today or clock.today()
    document = rows(
        [OcrLine(unicodedata.normalize("NFKC", line.text), line.box, line.score) for line in lines]
    )
    texts = [row.text for row in document]
    labels = _labelled(document)
    joined = "".join(texts)  # an SMS wraps mid-word, so its rows join with nothing between
    masked_rows = [mask_secrets(text).text for text in texts]
    date_value, time_value = _date_time([*_values(document, labels, "datetime"), *texts, joined], reference)
    reading = ReceiptReading(
        amount=_amount(document, labels, joined),
        date=date_value,
        time=time_value,
        merchant_name=_merchant_name(document, labels, joined),
        merchant_id=_digit_field(_values(document, labels, "merchant_id"), "merchant_id"),
        terminal_id=_digit_field(_values(document, labels, "terminal_id"), "terminal_id"),
        ref_no=_digit_field(_values(document, labels, "ref_no"), "ref_no"),
        voucher_no=_digit_field(_values(document, labels, "voucher_no"), "voucher_no"),
        batch_no=_digit_field(_values(document, labels, "batch_no"), "batch_no"),
        card_type=_card_type(document, labels, joined),
        card_last4=_card_last4(masked_rows, "".join(masked_rows), _values(document, labels, "card")),
        transaction_type=_transaction_type(document, labels, joined),
    )
    only_card = reading.card_last4 is not None and reading.amount is None
    return _with_kind(reading, _kind(labels, joined, only_card))


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
    as it does in a typed message; every line whose characters the mask replaced is returned.
    """
    document = rows(lines)
    text, owners = "", []
    for row in document:
        for start, end, segment in row.spans():
            owners += [segment.line] * (end - start) + ([-1, -1] if end < len(row.text) else [])
        text += row.text + "\n"
        owners.append(-1)
    masked = mask_secrets(text).text
    if masked == text:
        return []
    hit: set[int] = set()
    matcher = difflib.SequenceMatcher(None, text, masked, autojunk=False)
    for tag, start, end, _, _ in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            while start > 0 and text[start - 1] in _NUMBER_CHARS:
                start -= 1
            while end < len(text) and text[end] in _NUMBER_CHARS:
                end += 1
            hit.update(owner for owner in owners[start:end] if owner >= 0)
    return sorted(hit)


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
