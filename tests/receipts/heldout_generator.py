"""Generate the held-out receipt images (issue 24, point 5) and their ground truth.

This generator was written without looking at any extraction code, so that the
50 images it makes measure the extraction honestly. It stands alone: it needs
Pillow, numpy and the CJK fonts Debian ships (found with fc-list at run time).

    PYTHONPATH=$PWD .venv/bin/python tests/receipts/heldout_generator.py \
        --out tests/receipts/heldout --count 50 --seed 24

The same seed, fonts and Pillow version give the same images. Each image is a
flat document (a POS slip, an SMS or app screenshot, a bank card) rendered with
every text box known, then, for photos, warped onto a background by one
homography; the boxes of any full card number go through the same matrix.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Transactions fall before the project's pinned "today" (2026-11-25), so a date
# printed without a year ("11-20 14:32") has one reading: the latest past one.
FIRST_DAY = date(2026, 9, 1)
LAST_DAY = date(2026, 11, 24)

# ---------------------------------------------------------------------------
# Fonts


@dataclass(frozen=True)
class Face:
    path: str
    index: int


class Fonts:
    """The Noto CJK SC faces fc-list reports, by role, with a cache of sizes."""

    ROLES: ClassVar[dict[str, tuple[str, str]]] = {
        "sans": ("Noto Sans CJK SC", "Regular"),
        "sans_bold": ("Noto Sans CJK SC", "Bold"),
        "mono": ("Noto Sans Mono CJK SC", "Regular"),
        "mono_bold": ("Noto Sans Mono CJK SC", "Bold"),
        "serif": ("Noto Serif CJK SC", "Regular"),
        "serif_bold": ("Noto Serif CJK SC", "Bold"),
    }

    def __init__(self) -> None:
        try:
            listing = subprocess.run(
                ["fc-list", "--format", "%{file}\t%{index}\t%{family}\t%{style}\n", ":lang=zh"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError) as error:
            sys.exit(f"heldout_generator: cannot run fc-list to find Chinese fonts ({error})")
        faces: dict[tuple[str, str], Face] = {}
        for row in listing.splitlines():
            path, index, families, styles = [*row.split("\t"), "", "", ""][:4]
            for family in families.split(","):
                for style in styles.split(","):
                    faces.setdefault((family.strip(), style.strip()), Face(path, int(index or 0)))
        simplified = [face for (family, _), face in faces.items() if family.endswith(" SC")]
        if not simplified:
            sys.exit(
                "heldout_generator: no Simplified Chinese font found by `fc-list :lang=zh`; "
                "install Debian's fonts-noto-cjk"
            )
        # A missing role falls back to any SC face: the images still render, only less varied.
        self.faces = {role: faces.get(key, simplified[0]) for role, key in self.ROLES.items()}
        self._cache: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}

    def get(self, role: str, size: int) -> ImageFont.FreeTypeFont:
        key = (role, size)
        if key not in self._cache:
            face = self.faces[role]
            self._cache[key] = ImageFont.truetype(face.path, size, index=face.index)
        return self._cache[key]


# ---------------------------------------------------------------------------
# Facts: banks, cards, merchants, transactions

# (short name, long name, SMS sender, BINs of debit cards, BINs of credit cards, brand colour)
BANKS = [
    ("工商银行", "中国工商银行", "95588", [("622202", 19), ("621226", 19)], [("625330", 16)], (200, 16, 46)),
    ("建设银行", "中国建设银行", "95533", [("621700", 19), ("436742", 19)], [("625362", 16)], (0, 73, 144)),
    ("农业银行", "中国农业银行", "95599", [("622848", 19), ("622845", 19)], [("622836", 16)], (0, 132, 96)),
    ("中国银行", "中国银行", "95566", [("621661", 19), ("621785", 19)], [("625907", 16)], (178, 34, 34)),
    ("招商银行", "招商银行", "95555", [("621485", 16), ("621483", 16)], [("622575", 16)], (196, 18, 48)),
    ("交通银行", "交通银行", "95559", [("622262", 19), ("622260", 19)], [("622258", 16)], (26, 61, 126)),
]

MERCHANTS = [
    "北京华联综合超市有限公司朝阳分店",
    "华联超市(望京店)",
    "永辉超市福州台江店",
    "物美超市(双井店)",
    "海底捞火锅(望京店)",
    "苏宁易购南京新街口店",
    "国美电器(大中电器)",
    "中国石化加油站(东三环)",
    "屈臣氏个人用品商店",
    "万达影城(CBD店)",
    "杭州联华华商集团有限公司",
    "深圳市鑫源便利店",
    "上海市徐汇区好又多餐厅",
    "成都红旗连锁股份有限公司",
    "广州市天河区美宜佳便利店",
    "武汉中百仓储超市有限公司",
    "西安开元商城",
    "重庆新世纪百货解放碑店",
    "南京金鹰国际购物中心",
    "天津市和平区老字号饺子馆",
]

# Real slips print the acquirer's 15-digit merchant number: acquirer code, area, MCC, serial.
AREAS = ["1100", "2900", "3310", "4403", "5810", "3910", "4201", "6100"]
MCCS = ["5411", "5812", "5311", "5732", "5541", "5977", "7832", "5499"]

# Most slips people keep are sales; voids, refunds and pre-authorisations are the rest.
TRANSACTION_TYPES = ["消费"] * 7 + ["撤销", "退货", "预授权"]
TYPE_ENGLISH = {"消费": "SALE", "撤销": "VOID", "退货": "REFUND", "预授权": "AUTH"}


def luhn_ok(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_number(rng: random.Random, bin_prefix: str, length: int) -> str:
    body = bin_prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(bin_prefix) - 1))
    check = next(d for d in "0123456789" if luhn_ok(body + d))
    return body + check


@dataclass
class Card:
    bank: tuple
    number: str
    credit: bool

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def card_type(self) -> str:
        return "贷记卡" if self.credit else "借记卡"


def random_card(rng: random.Random, credit: bool | None = None) -> Card:
    bank = rng.choice(BANKS)
    credit = rng.random() < 0.35 if credit is None else credit
    bin_prefix, length = rng.choice(bank[4] if credit else bank[3])
    return Card(bank, card_number(rng, bin_prefix, length), credit)


@dataclass
class Transaction:
    card: Card
    merchant: str
    merchant_id: str
    terminal_id: str
    operator: str
    type: str
    batch: str
    voucher: str
    auth: str
    ref: str
    when: datetime
    amount: int  # in fen, so every printed form is exact
    original_voucher: str | None = None
    original_ref: str | None = None

    @property
    def amount_text(self) -> str:
        return f"{self.amount // 100}.{self.amount % 100:02d}"


def digits(rng: random.Random, count: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(count))


def random_amount(rng: random.Random) -> int:
    # Everyday sums, round sums and large ones with thousands separators.
    roll = rng.random()
    if roll < 0.45:
        return rng.randrange(500, 50_000)
    if roll < 0.7:
        return rng.choice([8800, 10000, 20000, 50000, 100000, 300000, 129900, 49900])
    return rng.randrange(100_000, 2_000_000)


def random_transaction(rng: random.Random, acquirer_code: str = "898", sale: bool = False) -> Transaction:
    day = FIRST_DAY + timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))
    moment = datetime.combine(day, time(rng.randrange(8, 23), rng.randrange(60), rng.randrange(60)))
    kind = "消费" if sale else rng.choice(TRANSACTION_TYPES)
    txn = Transaction(
        card=random_card(rng),
        merchant=rng.choice(MERCHANTS),
        merchant_id=acquirer_code + rng.choice(AREAS) + rng.choice(MCCS) + digits(rng, 4),
        terminal_id=digits(rng, 8),
        operator=rng.choice(["01", "001", "02", "03"]),
        type=kind,
        batch=f"{rng.randrange(1, 999):06d}",
        voucher=f"{rng.randrange(1, 99999):06d}",
        auth=rng.choice(["", digits(rng, 6), f"{digits(rng, 2)}{rng.choice('ABCDEFGH')}{digits(rng, 3)}"]),
        ref=digits(rng, 12),
        when=moment,
        amount=random_amount(rng),
    )
    if kind in ("撤销", "退货"):
        txn.original_voucher = f"{max(1, int(txn.voucher) - rng.randrange(1, 40)):06d}"
        txn.original_ref = digits(rng, 12)
    return txn


# ---------------------------------------------------------------------------
# Flat documents: text lines rendered with the box of every secret known


Box = tuple[float, float, float, float]


@dataclass
class Document:
    """One rendered document: RGB pixels, an alpha mask, and secret boxes in its coordinates."""

    image: Image.Image
    card_number_boxes: list[Box] = field(default_factory=list)
    expiry_boxes: list[Box] = field(default_factory=list)


def text_box(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, part: str, font) -> Box:
    """The inked box of `part` inside `text` drawn at `xy`, with a margin for anti-aliasing."""
    start = text.index(part)
    x = xy[0] + draw.textlength(text[:start], font=font)
    left, top, right, bottom = draw.textbbox((x, xy[1]), part, font=font)
    margin = max(2.0, font.size * 0.08)
    return (left - margin, top - margin, right + margin, bottom + margin)


@dataclass
class Line:
    text: str = ""
    right: str = ""  # right-aligned on the same line, for "label ... value"
    align: str = "l"
    scale: float = 1.0
    bold: bool = False
    secret: str = ""  # a full card number printed inside `text`
    rule: str = ""  # a separator line drawn with this character


def format_datetime(moment: datetime, style: str) -> tuple[str, bool, str]:
    """Printed date-time, whether the year is printed, and the time as truth records it."""
    if style == "slash":
        return moment.strftime("%Y/%m/%d %H:%M:%S"), True, moment.strftime("%H:%M:%S")
    if style == "compact":
        return moment.strftime("%Y%m%d %H%M%S"), True, moment.strftime("%H:%M:%S")
    if style == "dash":
        return moment.strftime("%Y-%m-%d %H:%M:%S"), True, moment.strftime("%H:%M:%S")
    return moment.strftime("%m-%d %H:%M"), False, moment.strftime("%H:%M")


def format_amount(amount: int, style: str) -> str:
    plain = f"{amount // 100}.{amount % 100:02d}"
    grouped = f"{amount // 100:,}.{amount % 100:02d}"
    return {
        "rmb": f"RMB {grouped}",
        "rmb_colon": f"RMB:{plain}",
        "yuan_sign": f"￥{plain}",
        "yuan_word": f"{plain}元",
    }[style]


def masked(number: str, shown_first: int) -> str:
    """A slip's masked number: the first six (some terminals four) and the last four digits."""
    return number[:shown_first] + "*" * (len(number) - shown_first - 4) + number[-4:]


# Each acquirer's slip: title, copy name, how labels read, how dates and sums print.
SLIP_LAYOUTS = {
    "银联商务": {
        "title": ["银联POS签购单", "POS SALES SLIP"],
        "bilingual": True,
        "date_styles": ["slash", "slash", "short"],
        "amount_styles": ["rmb"],
        "merchant_prefix": "898",
    },
    "拉卡拉": {
        "title": ["拉卡拉 签购单"],
        "bilingual": False,
        "date_styles": ["compact", "dash"],
        "amount_styles": ["yuan_sign", "rmb_colon"],
        "merchant_prefix": "822",
    },
    "通联支付": {
        "title": ["通联支付 POS签购单", "ALLINPAY"],
        "bilingual": True,
        "date_styles": ["slash", "compact"],
        "amount_styles": ["rmb", "yuan_word"],
        "merchant_prefix": "821",
    },
    "工商银行": {
        "title": ["中国工商银行", "银行卡签购单"],
        "bilingual": True,
        "date_styles": ["slash", "dash"],
        "amount_styles": ["rmb", "yuan_word"],
        "merchant_prefix": "102",
    },
    "建设银行": {
        "title": ["中国建设银行", "龙卡 签购单"],
        "bilingual": False,
        "date_styles": ["compact", "short", "slash"],
        "amount_styles": ["yuan_word", "yuan_sign"],
        "merchant_prefix": "105",
    },
}


def label(text: str, english: str, bilingual: bool) -> str:
    return f"{text}({english})" if bilingual else text


def terminal_style(layout_name: str, txn: Transaction) -> random.Random:
    return random.Random(f"{layout_name}/{txn.terminal_id}")


def slip_lines(
    rng: random.Random, layout_name: str, txn: Transaction, full_number: bool
) -> tuple[list, dict]:
    """The lines of one slip and the truth of what it prints."""
    layout = SLIP_LAYOUTS[layout_name]
    bi = layout["bilingual"]
    # A terminal prints every slip the same way, so two slips of a duplicate charge look alike.
    terminal = terminal_style(layout_name, txn)
    date_style = terminal.choice(layout["date_styles"])
    amount_style = terminal.choice(layout["amount_styles"])
    printed_when, year_printed, time_text = format_datetime(txn.when, date_style)
    mask_style = terminal.choice([6, 6, 4])
    shown_number = txn.card.number if full_number else masked(txn.card.number, mask_style)
    entry = terminal.choice(["/C", "/S", " C", ""])
    copy = terminal.choice(["持卡人存根", "商户存根", "持卡人存根 CARDHOLDER COPY"])
    lines: list[Line] = [Line(t, align="c", scale=1.3, bold=True) for t in layout["title"]]
    lines += [Line(copy, align="c"), Line(rule=rng.choice("-=-"))]
    long_name = len(txn.merchant) > 11
    if long_name or bi:
        lines += [Line(label("商户名称", "MERCHANT NAME", bi) + ":"), Line("  " + txn.merchant)]
    else:
        lines += [Line("商户名称:" + txn.merchant)]
    id_lines = [
        (label("商户编号", "MERCHANT NO.", bi), txn.merchant_id),
        (label("终端编号", "TERMINAL NO.", bi), txn.terminal_id),
        (label("操作员号", "OPERATOR NO.", bi), txn.operator),
    ]
    for name, value in id_lines:
        if len(name) + len(value) > 26:
            lines += [Line(name + ":"), Line(value, align="r")]
        else:
            lines += [Line(name + ":", right=value)]
    lines.append(Line(rule="-"))
    card_type_text = txn.card.card_type + (("/" + ("CREDIT" if txn.card.credit else "DEBIT")) if bi else "")
    lines += [
        Line(label("发卡行", "ISSUER", bi) + ":", right=txn.card.bank[0]),
        Line(label("卡类型", "CARD TYPE", bi) + ":", right=card_type_text),
        Line(label("卡号", "CARD NO.", bi) + ":"),
        Line(
            "  " + shown_number + entry, scale=1.15, bold=True, secret=txn.card.number if full_number else ""
        ),
        Line(label("交易类型", "TRANS TYPE", bi) + ":"),
        Line("  " + txn.type + ("/" + TYPE_ENGLISH[txn.type] if bi else ""), scale=1.3, bold=True),
        Line(label("批次号", "BATCH NO.", bi) + ":", right=txn.batch),
        Line(label("凭证号", "VOUCHER NO.", bi) + ":", right=txn.voucher),
        Line(label("授权码", "AUTH NO.", bi) + ":", right=txn.auth),
        Line(label("参考号", "REFER NO.", bi) + ":", right=txn.ref),
    ]
    if txn.original_voucher:
        lines.append(Line(label("原凭证号", "OLD TRACE", bi) + ":", right=txn.original_voucher))
    if txn.original_ref:
        lines.append(Line(label("原参考号", "OLD REFER", bi) + ":", right=txn.original_ref))
    lines += [Line(label("日期/时间", "DATE/TIME", bi) + ":"), Line("  " + printed_when)]
    amount_text = format_amount(txn.amount, amount_style)
    amount_label = label("金额", "AMOUNT", bi)
    if amount_style == "yuan_word":
        lines.append(Line(f"{amount_label}：{amount_text}", scale=1.3, bold=True))
    else:
        lines += [Line(amount_label + ":"), Line(amount_text, align="r", scale=1.4, bold=True)]
    lines += [Line(rule="-"), Line(label("备注", "REFERENCE", bi) + ":")]
    if rng.random() < 0.4:
        lines.append(Line("  " + rng.choice(["会员积分+128", "电子签名", "交易成功", "请妥善保管"])))
    lines += [
        Line(label("持卡人签名", "CARDHOLDER SIGNATURE", bi) + ":"),
        Line(""),
        Line(""),
        Line(rule="_"),
        Line("本人确认以上交易，同意将其记入本卡账户", scale=0.85),
    ]
    if bi:
        lines.append(Line("I ACKNOWLEDGE SATISFACTORY RECEIPT", scale=0.85))
    truth = {
        "amount": txn.amount_text,
        "amount_printed": amount_text,
        "date": txn.when.date().isoformat(),
        "year_printed": year_printed,
        "datetime_printed": printed_when,
        "time": time_text,
        "last4": txn.card.last4,
        "card_number_printed": shown_number,
        "card_type": txn.card.card_type,
        "issuer": txn.card.bank[0],
        "merchant_name": txn.merchant,
        "merchant_id": txn.merchant_id,
        "terminal_id": txn.terminal_id,
        "operator_id": txn.operator,
        "transaction_type": txn.type,
        "batch_no": txn.batch,
        "voucher_no": txn.voucher,
        "auth_code": txn.auth or None,
        "ref_no": txn.ref,
        "original_voucher_no": txn.original_voucher,
        "original_ref_no": txn.original_ref,
    }
    return lines, truth


def render_lines(
    fonts: Fonts, lines: list[Line], width: int, size: int, role: str
) -> tuple[Image.Image, list]:
    """Black-on-white text as an ink mask (L, 255 = ink) and the boxes of secrets."""
    pad = int(size * 0.9)
    heights = [int(size * line.scale * 1.45) for line in lines]
    ink = Image.new("L", (width, sum(heights) + 2 * pad), 0)
    draw = ImageDraw.Draw(ink)
    boxes: list[Box] = []
    y = pad
    for line, height in zip(lines, heights, strict=True):
        font = fonts.get(role + ("_bold" if line.bold else ""), int(size * line.scale))
        if line.rule:
            count = int((width - 2 * pad) / draw.textlength(line.rule, font=font))
            text = line.rule * count
        else:
            text = line.text
        text_width = draw.textlength(text, font=font)
        x = {"l": pad, "c": (width - text_width) / 2, "r": width - pad - text_width}[line.align]
        draw.text((x, y), text, font=font, fill=255)
        if line.right:
            draw.text(
                (width - pad - draw.textlength(line.right, font=font), y), line.right, font=font, fill=255
            )
        if line.secret:
            boxes.append(text_box(draw, (x, y), text, line.secret, font))
        y += height
    return ink, boxes


def thermal_paper(
    rng: random.Random, nrng: np.random.Generator, ink: Image.Image
) -> tuple[Image.Image, dict]:
    """Thermal print: faded and streaky ink on slightly tinted paper with speckles."""
    mask = np.asarray(ink, dtype=np.float32) / 255.0
    height, width = mask.shape
    fade = rng.uniform(0.35, 1.0)
    # A worn print head leaves light vertical streaks; heat and age fade the slip unevenly.
    columns = 1.0 - nrng.uniform(0.0, 0.45, size=width) * (nrng.random(width) < 0.04)
    columns = np.convolve(columns, np.ones(3) / 3, mode="same")
    gradient = np.linspace(1.0, rng.uniform(0.6, 1.0), height)[:, None]
    density = np.clip(fade * columns[None, :] * gradient, 0.15, 1.0)
    paper = np.array([rng.uniform(238, 252), rng.uniform(236, 250), rng.uniform(226, 245)], dtype=np.float32)
    ink_colour = np.array([rng.uniform(20, 70)] * 3, dtype=np.float32)
    alpha = (mask * density)[..., None]
    pixels = paper * (1 - alpha) + ink_colour * alpha
    speckle_sigma = rng.uniform(2, 9)
    pixels += nrng.normal(0, speckle_sigma, size=(height, width, 1))
    dots = nrng.random((height, width)) < rng.uniform(0.0, 0.002)
    pixels[dots] -= 90
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    return image, {"thermal_fade": round(fade, 2), "thermal_speckle_sigma": round(speckle_sigma, 1)}


def slip_document(
    rng: random.Random, nrng: np.random.Generator, fonts: Fonts, layout: str, txn: Transaction, full: bool
) -> tuple[Document, dict, dict]:
    lines, truth = slip_lines(rng, layout, txn, full)
    terminal = terminal_style(layout, txn)
    size = terminal.choice([22, 24, 26, 28])
    # 58 mm and 80 mm paper hold about 32 and 42 half-width characters a line.
    columns = terminal.choice([32, 34, 42])
    ink, boxes = render_lines(fonts, lines, int(columns * size * 0.5 + 2 * size * 0.9), size, "mono")
    image, degradation = thermal_paper(rng, nrng, ink)
    return Document(image, card_number_boxes=boxes), truth, degradation


# ---------------------------------------------------------------------------
# Screens: SMS threads and app transaction details


SCREENS = [(1080, 2340), (1170, 2532), (750, 1334), (828, 1792), (1080, 1920)]


def status_bar(draw: ImageDraw.ImageDraw, fonts: Fonts, width: int, scale: float, colour, clock: str) -> None:
    font = fonts.get("sans_bold", int(34 * scale))
    draw.text((int(50 * scale), int(22 * scale)), clock, font=font, fill=colour)
    draw.text((width - int(190 * scale), int(22 * scale)), "5G  87%", font=font, fill=colour)


def wrap(draw: ImageDraw.ImageDraw, text: str, font, max_width: float) -> list[str]:
    lines, current = [], ""
    for char in text:
        if draw.textlength(current + char, font=font) > max_width:
            lines.append(current)
            current = char
        else:
            current += char
    return [*lines, current] if current else lines


def sms_text(rng: random.Random, txn: Transaction) -> tuple[str, dict]:
    """A bank's alert in the shape each bank sends, and what it says."""
    bank, _, _, _, _, _ = txn.card.bank
    card_word = "信用卡" if txn.card.credit else rng.choice(["储蓄卡", "借记卡", "卡"])
    grouped = f"{txn.amount // 100:,}.{txn.amount % 100:02d}"
    balance = f"{rng.randrange(100, 9_000_000) / 100:,.2f}"
    md = f"{txn.when.month}月{txn.when.day}日"
    hm = txn.when.strftime("%H:%M")
    action = {
        "消费": rng.choice(["快捷支付支出", "POS消费", "消费支出"]),
        "退货": "退货收入",
        "撤销": "消费撤销",
    }
    action["预授权"] = "预授权冻结"
    verb = action[txn.type]
    style = rng.randrange(4)
    merchant: str | None = txn.merchant
    if style == 0:
        text = (
            f"【{bank}】您尾号{txn.card.last4}{card_word}{md}{hm}{verb}({txn.merchant})"
            f"{grouped}元，余额{balance}元。"
        )
    elif style == 1:
        merchant = None
        text = (
            f"【{bank}】您尾号{txn.card.last4}的{card_word}{md}{txn.when.hour}时{txn.when.minute}分"
            f"{verb}人民币{grouped}元,活期余额{balance}元。"
        )
    elif style == 2:
        text = (
            f"【{bank}】您账户{txn.card.last4}于{md}{hm}在【{txn.merchant}】{verb}"
            f"人民币{grouped}元，余额{balance}"
        )
    else:
        text = (
            f"【{bank}】您尾号{txn.card.last4}账户{md}{hm}完成{verb}交易人民币{grouped}，"
            f"商户：{txn.merchant}，余额{balance}。"
        )
    truth = {
        "amount": txn.amount_text,
        "date": txn.when.date().isoformat(),
        "year_printed": False,
        "time": hm,
        "last4": txn.card.last4,
        "merchant_name": merchant,
        "issuer": bank,
        "card_type": txn.card.card_type if card_word != "卡" else None,
        "transaction_type": txn.type,
        "transaction_type_printed": verb,
        "sms_text": text,
    }
    return text, truth


NOTICES = [
    "【{bank}】尊敬的客户，您的信用卡本期账单已出，请按时还款。详询{hotline}。",
    "【{bank}】温馨提示：请勿向任何人透露验证码，谨防电信诈骗。",
    "【{bank}】您的手机银行于{md}登录成功，如非本人操作请致电{hotline}。",
]


def sms_document(rng: random.Random, fonts: Fonts, txn: Transaction) -> tuple[Document, dict, dict]:
    width, height = rng.choice(SCREENS)
    scale = width / 1080
    dark = rng.random() < 0.25
    background, bubble, ink = (
        ((0, 0, 0), (38, 38, 40), (235, 235, 235))
        if dark
        else (
            (255, 255, 255),
            (233, 233, 235),
            (20, 20, 20),
        )
    )
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    bank, _, hotline, _, _, _ = txn.card.bank
    status_bar(draw, fonts, width, scale, ink, f"{rng.randrange(8, 23)}:{rng.randrange(60):02d}")
    title = fonts.get("sans_bold", int(44 * scale))
    draw.text((width / 2, int(170 * scale)), hotline, font=title, fill=ink, anchor="mm")
    draw.text((int(40 * scale), int(170 * scale)), "<", font=title, fill=(0, 122, 255), anchor="lm")
    draw.line(
        (0, int(240 * scale), width, int(240 * scale)), fill=(200, 200, 200), width=max(1, int(2 * scale))
    )
    body = fonts.get("sans", int(rng.choice([40, 44, 48]) * scale))
    small = fonts.get("sans", int(30 * scale))
    text, truth = sms_text(rng, txn)
    earlier_day = txn.when - timedelta(days=rng.randrange(1, 20))
    messages = [
        (
            earlier_day,
            rng.choice(NOTICES).format(
                bank=bank, hotline=hotline, md=f"{earlier_day.month}月{earlier_day.day}日"
            ),
        )
        for _ in range(rng.randrange(0, 3))
    ]
    messages.append((txn.when, text))
    y = int(280 * scale)
    for moment, message in messages:
        stamp = f"{moment.month}月{moment.day}日 {moment.strftime('%H:%M')}"
        draw.text((width / 2, y), stamp, font=small, fill=(140, 140, 140), anchor="mt")
        y += int(70 * scale)
        wrapped = wrap(draw, message, body, width * 0.68)
        line_height = int(body.size * 1.4)
        box = (
            int(40 * scale),
            y,
            int(40 * scale + width * 0.68 + 2 * body.size * 0.7),
            y + line_height * len(wrapped) + int(body.size),
        )
        draw.rounded_rectangle(box, radius=int(36 * scale), fill=bubble)
        for index, row in enumerate(wrapped):
            draw.text(
                (box[0] + body.size * 0.7, y + body.size * 0.5 + index * line_height),
                row,
                font=body,
                fill=ink,
            )
        y = box[3] + int(50 * scale)
    draw.rounded_rectangle(
        (int(30 * scale), height - int(150 * scale), width - int(30 * scale), height - int(60 * scale)),
        radius=int(45 * scale),
        outline=(180, 180, 180),
        width=max(1, int(2 * scale)),
    )
    draw.text(
        (int(70 * scale), height - int(105 * scale)), "短信", font=small, fill=(150, 150, 150), anchor="lm"
    )
    return Document(image), truth, {"dark_mode": dark}


def app_document(rng: random.Random, fonts: Fonts, txn: Transaction) -> tuple[Document, dict, dict]:
    width, height = rng.choice(SCREENS)
    scale = width / 1080
    bank, long_name, _, _, _, colour = txn.card.bank
    image = Image.new("RGB", (width, height), (245, 245, 247))
    draw = ImageDraw.Draw(image)
    header = int(250 * scale)
    draw.rectangle((0, 0, width, header), fill=colour)
    status_bar(draw, fonts, width, scale, (255, 255, 255), f"{rng.randrange(8, 23)}:{rng.randrange(60):02d}")
    title = fonts.get("sans_bold", int(48 * scale))
    draw.text(
        (width / 2, int(175 * scale)),
        rng.choice(["交易详情", "明细详情", "账户明细"]),
        font=title,
        fill="white",
        anchor="mm",
    )
    draw.text((int(45 * scale), int(175 * scale)), "<", font=title, fill="white", anchor="lm")
    sign = "+" if txn.type in ("退货", "撤销") else "-"
    grouped = f"{txn.amount // 100:,}.{txn.amount % 100:02d}"
    big = fonts.get("sans_bold", int(96 * scale))
    card_top = header + int(40 * scale)
    draw.rounded_rectangle(
        (int(30 * scale), card_top, width - int(30 * scale), height - int(200 * scale)),
        radius=int(24 * scale),
        fill="white",
    )
    draw.text(
        (width / 2, card_top + int(90 * scale)),
        rng.choice(["", long_name + " · "]) + txn.merchant[:12],
        font=fonts.get("sans", int(38 * scale)),
        fill=(90, 90, 90),
        anchor="mm",
    )
    draw.text(
        (width / 2, card_top + int(210 * scale)), f"{sign}{grouped}", font=big, fill=(20, 20, 20), anchor="mm"
    )
    draw.text(
        (width / 2, card_top + int(300 * scale)),
        rng.choice(["人民币元", "CNY", "交易成功"]),
        font=fonts.get("sans", int(34 * scale)),
        fill=(140, 140, 140),
        anchor="mm",
    )
    time_with_seconds = rng.random() < 0.7
    printed_time = txn.when.strftime("%Y-%m-%d %H:%M:%S" if time_with_seconds else "%Y/%m/%d %H:%M")
    card_shown = rng.choice(
        [
            f"尾号{txn.card.last4}",
            f"{txn.card.number[:4]} **** **** {txn.card.last4}",
            f"**** {txn.card.last4}",
        ]
    )
    type_printed = {
        "消费": rng.choice(["消费", "POS消费", "快捷支付"]),
        "撤销": "消费撤销",
        "退货": "退货",
        "预授权": "预授权",
    }[txn.type]
    rows = [
        ("交易时间", printed_time),
        ("交易类型", type_printed),
        ("商户名称", txn.merchant),
        ("交易卡号", card_shown),
        ("卡片类型", txn.card.card_type),
        ("交易渠道", rng.choice(["POS", "银联POS", "线下POS"])),
        ("交易状态", "交易成功"),
    ]
    show_ref = rng.random() < 0.5
    if show_ref:
        rows.append(("系统参考号", txn.ref))
    rows.append(("流水号", digits(rng, 20)))
    label_font = fonts.get("sans", int(38 * scale))
    y = card_top + int(400 * scale)
    draw.line(
        (int(60 * scale), y - int(30 * scale), width - int(60 * scale), y - int(30 * scale)),
        fill=(230, 230, 230),
        width=max(1, int(2 * scale)),
    )
    for name, value in rows:
        draw.text((int(70 * scale), y), name, font=label_font, fill=(130, 130, 130))
        value_font = label_font
        while draw.textlength(value, font=value_font) > width * 0.62:
            value_font = fonts.get("sans", value_font.size - 2)
        draw.text((width - int(70 * scale), y), value, font=value_font, fill=(30, 30, 30), anchor="ra")
        y += int(label_font.size * 2.1)
    truth = {
        "amount": txn.amount_text,
        "amount_printed": f"{sign}{grouped}",
        "date": txn.when.date().isoformat(),
        "year_printed": True,
        "time": txn.when.strftime("%H:%M:%S" if time_with_seconds else "%H:%M"),
        "last4": txn.card.last4,
        "card_number_printed": card_shown,
        "card_type": txn.card.card_type,
        "issuer": bank,
        "merchant_name": txn.merchant,
        "transaction_type": txn.type,
        "transaction_type_printed": type_printed,
        "ref_no": txn.ref if show_ref else None,
    }
    return Document(image), truth, {"dark_mode": False}


# ---------------------------------------------------------------------------
# Bank cards


def card_document(rng: random.Random, fonts: Fonts, card: Card) -> tuple[Document, dict]:
    width, height = 1012, 638  # 85.6 x 54 mm
    colour = np.array(
        card.bank[5] if rng.random() < 0.6 else (rng.randrange(105, 150),) * 3, dtype=np.float32
    )
    # A diagonal sheen, as on printed card stock.
    ramp = np.linspace(0.75, 1.2, width)[None, :, None] * np.linspace(1.1, 0.85, height)[:, None, None]
    pixels = np.clip(colour * ramp, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    alpha = Image.new("L", (width, height), 0)
    ImageDraw.Draw(alpha).rounded_rectangle((0, 0, width - 1, height - 1), radius=40, fill=255)
    image.putalpha(alpha)
    draw = ImageDraw.Draw(image)
    draw.text((60, 50), card.bank[1], font=fonts.get("serif_bold", 58), fill="white")
    kind = rng.choice(["信用卡", "CREDIT"]) if card.credit else rng.choice(["借记卡", "储蓄卡", "DEBIT"])
    draw.text((width - 60, 64), kind, font=fonts.get("sans_bold", 40), fill="white", anchor="ra")
    draw.rounded_rectangle(
        (110, 210, 250, 310), radius=14, fill=(212, 175, 90), outline=(150, 120, 60), width=3
    )
    groups = [card.number[i : i + 4] for i in range(0, len(card.number), 4)]
    number_text = " ".join(groups)
    number_font = fonts.get("mono_bold", 66 if len(card.number) <= 16 else 58)
    origin = (70, 360)
    # Embossed digits: a dark shadow under light glyphs, so the box covers both.
    draw.text((origin[0] + 3, origin[1] + 3), number_text, font=number_font, fill=(40, 40, 40))
    draw.text(origin, number_text, font=number_font, fill=(245, 240, 225))
    number_box = text_box(draw, origin, number_text, number_text, number_font)
    number_box = (number_box[0], number_box[1], number_box[2] + 3, number_box[3] + 3)
    expiry = f"{rng.randrange(1, 13):02d}/{rng.randrange(27, 33)}"
    small = fonts.get("mono_bold", 40)
    expiry_text = f"VALID THRU {expiry}"
    draw.text((330, 470), expiry_text, font=small, fill=(245, 240, 225))
    expiry_box = text_box(draw, (330, 470), expiry_text, expiry, small)
    draw.text(
        (70, 545),
        rng.choice(["ZHANG WEI", "LI NA", "WANG FANG", "LIU YANG", "CHEN JING"]),
        font=small,
        fill=(245, 240, 225),
    )
    # The UnionPay mark: three stacked colour blocks with the word on top.
    for offset, block in enumerate([(216, 30, 40), (0, 80, 160), (0, 140, 110)]):
        draw.polygon(
            [
                (760 + offset * 60, 490),
                (830 + offset * 60, 490),
                (810 + offset * 60, 600),
                (740 + offset * 60, 600),
            ],
            fill=block,
        )
    draw.text((855, 545), "银联", font=fonts.get("sans_bold", 40), fill="white", anchor="mm")
    truth = {
        "last4": card.last4,
        "issuer": card.bank[0],
        "card_type": card.card_type,
        "card_type_printed": kind,
        "expiry": expiry,
    }
    return Document(image, card_number_boxes=[number_box], expiry_boxes=[expiry_box]), truth


# ---------------------------------------------------------------------------
# Photos: one homography per layer, then light, blur, sensor noise and JPEG


def homography(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    rows = []
    for (x, y), (u, v) in zip(source, target, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.array(rows, dtype=np.float64))
    matrix = vt[-1].reshape(3, 3)
    return matrix / matrix[2, 2]


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    homogeneous = np.c_[points, np.ones(len(points))] @ matrix.T
    return homogeneous[:, :2] / homogeneous[:, 2:]


def corners(box: Box) -> np.ndarray:
    left, top, right, bottom = box
    return np.array([[left, top], [right, top], [right, bottom], [left, bottom]], dtype=np.float64)


def background(rng: random.Random, nrng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    width, height = size
    base = np.array(
        rng.choice(
            [(150, 108, 72), (120, 84, 56), (190, 190, 188), (90, 92, 96), (214, 206, 190), (60, 58, 62)]
        ),
        dtype=np.float32,
    )
    # Low-frequency mottling (a desk's grain or cloth), drawn small and scaled up.
    coarse = nrng.normal(0, 1, size=(12, 16)).astype(np.float32)
    mottle = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC))
    grain = np.asarray(
        Image.fromarray(nrng.normal(0, 1, size=(height // 8, 4)).astype(np.float32)).resize(
            (width, height), Image.BILINEAR
        )
    )
    pixels = base[None, None, :] * (1 + 0.06 * mottle[..., None] + 0.015 * grain[..., None])
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def place(
    rng: random.Random,
    doc_size: tuple[int, int],
    canvas: tuple[int, int],
    fill: float,
    center: tuple[float, float],
) -> tuple[np.ndarray, float, float, float]:
    """A phone-photo homography: scale to `fill` of the frame, rotate ±15°, tilt the corners.

    The angle and tilt are drawn once and only the size shrinks until the document
    fits, so a tight frame does not bias the set towards upright documents.
    """
    width, height = doc_size
    canvas_w, canvas_h = canvas
    angle = rng.uniform(-15, 15)
    tilt = rng.uniform(0.0, 0.12)
    radians = np.deg2rad(angle)
    rotation = np.array([[np.cos(radians), -np.sin(radians)], [np.sin(radians), np.cos(radians)]])
    # Perspective: one edge comes out shorter, as when the phone is held at an angle.
    squeeze = np.ones((4, 2))
    for index in rng.choice([(0, 1), (1, 2), (2, 3), (3, 0)]):
        squeeze[index] = 1 - tilt
    jitter = np.array([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(4)]) * tilt * 0.15
    margin = 0.02 * min(canvas)
    scale = fill * min(canvas_w / width, canvas_h / height)
    for _ in range(100):
        local = (corners((0, 0, width, height)) - [width / 2, height / 2]) * scale
        target = (local * squeeze) @ rotation.T + jitter * scale * min(width, height) + center
        if (
            target.min() >= margin
            and target[:, 0].max() <= canvas_w - margin
            and target[:, 1].max() <= canvas_h - margin
        ):
            return homography(corners((0, 0, width, height)), target), angle, tilt, scale
        scale *= 0.97
    raise RuntimeError("cannot fit the document in the frame")


def warp_onto(photo: Image.Image, document: Image.Image, matrix: np.ndarray, shadow: bool) -> None:
    inverse = np.linalg.inv(matrix)
    inverse = inverse / inverse[2, 2]
    coefficients = tuple(inverse.flatten()[:8])
    if document.mode == "RGBA":
        layer = document
    else:
        layer = document.convert("RGBA")
    warped = layer.transform(photo.size, Image.PERSPECTIVE, coefficients, Image.BICUBIC)
    mask = warped.getchannel("A")
    if shadow:
        offset = max(4, photo.size[0] // 150)
        soft = mask.filter(ImageFilter.BoxBlur(offset * 2))
        darker = Image.new("RGB", photo.size, (25, 25, 25))
        shifted = Image.new("L", photo.size, 0)
        shifted.paste(soft.point(lambda value: int(value * 0.45)), (offset, offset))
        photo.paste(darker, (0, 0), shifted)
    photo.paste(warped.convert("RGB"), (0, 0), mask)


def lighting(rng: random.Random, image: Image.Image) -> tuple[Image.Image, str]:
    width, height = image.size
    style = rng.choice(["even", "gradient", "gradient", "spot", "shadow"])
    if style == "even":
        return image, style
    ys, xs = np.mgrid[0:60, 0:80].astype(np.float32)
    if style == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        field_ = 1 + rng.uniform(0.15, 0.4) * (
            (np.cos(angle) * (xs / 80 - 0.5)) + np.sin(angle) * (ys / 60 - 0.5)
        )
    else:
        cx, cy = rng.uniform(10, 70), rng.uniform(10, 50)
        blob = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * rng.uniform(8, 20) ** 2))
        field_ = 1 + rng.uniform(0.15, 0.35) * blob if style == "spot" else 1 - rng.uniform(0.25, 0.45) * blob
    full = np.asarray(Image.fromarray(field_.astype(np.float32)).resize((width, height), Image.BILINEAR))
    pixels = np.asarray(image, dtype=np.float32) * full[..., None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB"), style


def finish(
    rng: random.Random,
    nrng: np.random.Generator,
    image: Image.Image,
    degradation: dict,
    blur: float,
    noise: float,
) -> Image.Image:
    if blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    degradation["blur_radius"] = round(blur, 2)
    if noise > 0:
        pixels = np.asarray(image, dtype=np.float32)
        pixels = pixels + nrng.normal(0, noise, size=(*pixels.shape[:2], 1)).astype(np.float32)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    degradation["noise_sigma"] = round(noise, 1)
    return image


# People photograph a slip upright (portrait) and a card or a card beside a slip sideways.
PORTRAIT_SIZES = [(1080, 1440), (1200, 1600), (960, 1280), (1536, 2048), (1080, 1920)]
LANDSCAPE_SIZES = [(1440, 1080), (1600, 1200), (1280, 960), (2048, 1536)]


@dataclass
class Layer:
    document: Document
    fill: float
    center: tuple[float, float]


def photograph(
    rng: random.Random,
    nrng: np.random.Generator,
    layers: list[Layer],
    size: tuple[int, int],
    degradation: dict,
) -> tuple[Image.Image, list[np.ndarray], list[np.ndarray]]:
    """Lay the documents on a desk and take the photo; the secret quads come out in photo pixels."""
    photo = background(rng, nrng, size)
    number_quads: list[np.ndarray] = []
    expiry_quads: list[np.ndarray] = []
    for index, layer in enumerate(layers):
        center = (layer.center[0] * size[0], layer.center[1] * size[1])
        matrix, angle, tilt, scale = place(rng, layer.document.image.size, size, layer.fill, center)
        warp_onto(photo, layer.document.image, matrix, shadow=True)
        degradation.setdefault("rotation_deg", round(angle, 1) + 0.0)
        degradation.setdefault("perspective_tilt", round(tilt, 3))
        degradation.setdefault("document_scale", round(scale, 2))
        if index:
            degradation["second_layer_rotation_deg"] = round(angle, 1)
        number_quads += [apply(matrix, corners(box)) for box in layer.document.card_number_boxes]
        expiry_quads += [apply(matrix, corners(box)) for box in layer.document.expiry_boxes]
    photo, degradation["lighting"] = lighting(rng, photo)
    # Blur is measured in the document's own pixels, so it softens text alike at any frame size.
    blur = rng.choice([0, 0.4, 0.7, 1.0, 1.4]) * degradation["document_scale"]
    photo = finish(rng, nrng, photo, degradation, blur, rng.uniform(2, 9))
    return photo, number_quads, expiry_quads


def screenshot(
    rng: random.Random, nrng: np.random.Generator, document: Document, degradation: dict
) -> Image.Image:
    """A screenshot as people send it: a chat app may shrink a tall one, and always recompresses."""
    image = document.image.convert("RGB")
    factor = 1.0
    if max(image.size) > 1400 and rng.random() < 0.6:
        factor = rng.choice([1280, 1440]) / max(image.size)
        image = image.resize((round(image.width * factor), round(image.height * factor)), Image.LANCZOS)
    degradation.update(
        {"rotation_deg": 0.0, "perspective_tilt": 0.0, "lighting": "even", "downscale": round(factor, 3)}
    )
    return finish(rng, nrng, image, degradation, rng.choice([0, 0, 0.5]), 0)


def box_record(quad: np.ndarray, size: tuple[int, int]) -> dict:
    left, top = np.floor(quad.min(axis=0))
    right, bottom = np.ceil(quad.max(axis=0))
    if left < 0 or top < 0 or right > size[0] or bottom > size[1]:
        raise RuntimeError(f"a secret's box {quad.tolist()} leaves the {size} image")
    return {
        "quad": [[round(x, 1), round(y, 1)] for x, y in quad.tolist()],
        "bbox": [int(left), int(top), int(right), int(bottom)],
    }


# ---------------------------------------------------------------------------
# The set


def plan(count: int, rng: random.Random) -> list[dict]:
    """Which image is what: kinds, layouts, full numbers, the duplicate pair and the 12 MP few."""
    share = {"slip": 0.5, "sms": 0.18, "app": 0.18, "card_photo": 0.14}
    kinds: list[str] = []
    for kind, part in share.items():
        kinds += [kind] * round(count * part)
    kinds = (kinds + ["slip"] * count)[:count]
    rng.shuffle(kinds)
    layouts = list(SLIP_LAYOUTS)
    specs: list[dict] = []
    slip_index = 0
    for kind in kinds:
        spec: dict = {"kind": kind}
        if kind == "slip":
            spec["layout"] = layouts[slip_index % len(layouts)]
            spec["full_number"] = slip_index % 4 == 2
            spec["card_beside"] = slip_index % 11 == 7
            slip_index += 1
        specs.append(spec)
    photos = [i for i, spec in enumerate(specs) if spec["kind"] in ("slip", "card_photo")]
    for index in rng.sample(photos, k=max(1, count // 16)):
        specs[index]["large"] = True
    # A duplicate charge: the second slip repeats the first's sum and time; the
    # terminal gave it the next voucher and its own reference number.
    first = next(
        i
        for i, spec in enumerate(specs)
        if spec["kind"] == "slip" and not spec["full_number"] and not spec.get("card_beside")
    )
    specs[first]["sale"] = True
    second = next(
        i
        for i, spec in enumerate(specs)
        if i > first and spec["kind"] == "slip" and not spec.get("card_beside")
    )
    specs[second]["duplicate_of"] = first
    specs[second]["layout"] = specs[first]["layout"]
    return specs


def make_image(
    rng: random.Random,
    nrng: np.random.Generator,
    fonts: Fonts,
    spec: dict,
    previous: dict[int, Transaction],
) -> tuple[Image.Image, dict, Transaction | None]:
    degradation: dict = {}
    large = spec.get("large", False)
    portrait = (3000, 4000) if large else rng.choice(PORTRAIT_SIZES)
    landscape = (4000, 3000) if large else rng.choice(LANDSCAPE_SIZES)
    full_number: str | None = None
    expiry: str | None = None
    number_quads: list[np.ndarray] = []
    expiry_quads: list[np.ndarray] = []
    txn: Transaction | None = None
    if spec["kind"] == "slip":
        layout = spec["layout"]
        if "duplicate_of" in spec:
            first = previous[spec["duplicate_of"]]
            txn = Transaction(**{**first.__dict__})
            txn.voucher = f"{int(first.voucher) + 1:06d}"
            txn.ref = digits(rng, 12)
            txn.auth = digits(rng, 6) if first.auth else ""
        else:
            txn = random_transaction(
                rng, SLIP_LAYOUTS[layout]["merchant_prefix"], sale=spec.get("sale", False)
            )
        doc, fields, thermal = slip_document(rng, nrng, fonts, layout, txn, spec["full_number"])
        degradation.update(thermal)
        layers = [Layer(doc, rng.uniform(0.72, 0.92), (0.5, 0.5))]
        size = portrait
        if spec.get("card_beside"):
            card_doc, card_fields = card_document(rng, fonts, txn.card)
            expiry = card_fields["expiry"]
            layers = [Layer(doc, 0.85, (0.3, 0.5)), Layer(card_doc, 0.45, (0.72, 0.55))]
            size = landscape
        image, number_quads, expiry_quads = photograph(rng, nrng, layers, size, degradation)
        if spec["full_number"] or spec.get("card_beside"):
            full_number = txn.card.number
        degradation["capture"] = "photo"
    elif spec["kind"] == "card_photo":
        card = random_card(rng)
        doc, fields = card_document(rng, fonts, card)
        image, number_quads, expiry_quads = photograph(
            rng,
            nrng,
            [Layer(doc, rng.uniform(0.55, 0.85), (0.5, 0.5))],
            rng.choice([portrait, landscape]),
            degradation,
        )
        full_number, expiry = card.number, fields["expiry"]
        degradation["capture"] = "photo"
    else:
        txn = random_transaction(rng)
        make = sms_document if spec["kind"] == "sms" else app_document
        doc, fields, extra = make(rng, fonts, txn)
        degradation.update(extra)
        # Some people photograph the screen of the phone the alert came to.
        if rng.random() < 0.25:
            image, _, _ = photograph(
                rng,
                nrng,
                [Layer(doc, rng.uniform(0.75, 0.9), (0.5, 0.5))],
                portrait,
                degradation,
            )
            degradation["capture"] = "screen_photo"
        else:
            image = screenshot(rng, nrng, doc, degradation)
            degradation["capture"] = "screenshot"
    degradation["jpeg_quality"] = rng.choice([60, 68, 75]) if large else rng.choice([55, 65, 72, 80, 88, 92])
    # A slip's layout is its acquirer's; a screen's or a card's is the bank's.
    record = {"kind": spec["kind"], "layout": spec.get("layout") or fields["issuer"]}
    record.update(fields)
    if full_number:
        assert luhn_ok(full_number), full_number
        record["full_card_number"] = {
            "number": full_number,
            "occurrences": [box_record(q, image.size) for q in number_quads],
        }
    else:
        record["full_card_number"] = None
    if expiry:
        record["expiry"] = {
            "value": expiry,
            "occurrences": [box_record(q, image.size) for q in expiry_quads],
        }
    record["degradation"] = degradation
    return image, record, txn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    nrng = np.random.default_rng(args.seed)
    fonts = Fonts()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.jpg"):
        old.unlink()
    specs = plan(args.count, rng)
    names = [f"heldout_{index + 1:03d}.jpg" for index in range(args.count)]
    transactions: dict[int, Transaction] = {}
    entries = []
    for index, spec in enumerate(specs):
        image, record, txn = make_image(rng, nrng, fonts, spec, transactions)
        if txn is not None:
            transactions[index] = txn
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=record["degradation"]["jpeg_quality"], optimize=True)
        (args.out / names[index]).write_bytes(buffer.getvalue())
        entry = {"file": names[index], "width": image.width, "height": image.height, **record}
        entry["duplicate_of"] = names[spec["duplicate_of"]] if "duplicate_of" in spec else None
        entries.append(entry)
        kib = len(buffer.getvalue()) // 1024
        print(f"{names[index]} {spec['kind']:<10} {image.width}x{image.height} {kib} KiB")
    truth = {
        "generator": "tests/receipts/heldout_generator.py",
        "seed": args.seed,
        "today": "2026-11-25",
        "images": entries,
    }
    (args.out / "truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
