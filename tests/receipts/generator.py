"""Dev images for reading receipts: POS slips, bank SMS, app details, card photos.

Written apart from the held-out generator (tests/receipts/heldout/), with its own layouts and
wording, so tuning on these images says little about the held-out score by construction. The
layouts are assembled from the parts real Chinese slips are made of rather than copied whole:
each field has the labels acquirers print for it (Chinese, English, both, in either order), each
slip picks a way to place values (after the label, right-aligned, on the next row, two fields to
a row), and dates, times, amounts and masked card numbers come in the forms terminals print.
SMS follow the wording of several banks, app pages the shapes of mobile-banking 交易详情 pages.

Every image is drawn with the CJK fonts Debian ships (found through ``fc-list``), then aged like
a phone photo of thermal paper: fading, low contrast, streaks, creases, shadows, rotation (a
quarter or half turn as a phone held sideways leaves it), perspective, blur, noise and JPEG.
``truth.json`` has the same shape as the held-out one: the fields as normalised strings, and for
a full card number in the picture its boxes carried through the same transforms.

    PYTHONPATH=$PWD .venv/bin/python tests/receipts/generator.py var/receipts/dev --count 300
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

TODAY = date(2026, 11, 25)
Quad = list[list[float]]


def cjk_fonts() -> list[tuple[str, int]]:
    """(file, face index) of every Simplified Chinese face fontconfig knows, any weight."""
    listing = subprocess.run(
        ["fc-list", "-f", "%{file}|%{index}|%{family}\n", ":lang=zh"], capture_output=True, text=True
    ).stdout
    faces = set()
    for row in listing.splitlines():
        path, index, family = row.split("|", 2)
        if any(name.strip().endswith("SC") for name in family.split(",")) or "zenhei" in path.lower():
            faces.add((path, int(index)))
    return sorted(faces)


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return body + str((10 - total % 10) % 10)


# (short name, full name, BIN, card type, SMS sender number)
BANKS = [
    ("工商银行", "中国工商银行", "622202", "借记卡", "95588"),
    ("工商银行", "中国工商银行", "625330", "贷记卡", "95588"),
    ("建设银行", "中国建设银行", "621700", "借记卡", "95533"),
    ("建设银行", "中国建设银行", "436742", "贷记卡", "95533"),
    ("农业银行", "中国农业银行", "622848", "借记卡", "95599"),
    ("中国银行", "中国银行", "621661", "借记卡", "95566"),
    ("招商银行", "招商银行", "622575", "贷记卡", "95555"),
    ("招商银行", "招商银行", "621483", "借记卡", "95555"),
    ("交通银行", "交通银行", "622260", "借记卡", "95559"),
    ("交通银行", "交通银行", "522964", "贷记卡", "95559"),
    ("中信银行", "中信银行", "622690", "贷记卡", "95558"),
    ("浦发银行", "浦发银行", "622521", "贷记卡", "95528"),
    ("广发银行", "广发银行", "625809", "贷记卡", "95508"),
    ("邮储银行", "中国邮政储蓄银行", "621799", "借记卡", "95580"),
    ("兴业银行", "兴业银行", "622909", "借记卡", "95561"),
    ("民生银行", "中国民生银行", "622622", "贷记卡", "95568"),
    ("平安银行", "平安银行", "622155", "贷记卡", "95511"),
]
ACQUIRERS = [
    "银联商务",
    "银联商务股份有限公司",
    "拉卡拉支付",
    "拉卡拉",
    "通联支付",
    "通联支付网络服务",
    "中国工商银行",
    "中国建设银行",
    "中国农业银行",
    "中国银行",
    "交通银行",
    "汇付天下",
    "快钱支付",
    "杉德支付",
    "随行付",
    "收钱吧",
    "中国银联",
]
CITIES = [
    "北京",
    "上海",
    "广州",
    "深圳",
    "杭州",
    "成都",
    "武汉",
    "南京",
    "西安",
    "重庆",
    "苏州",
    "长沙",
    "郑州",
    "青岛",
    "厦门",
    "昆明",
]
BRANDS = [
    "华联",
    "永辉",
    "百佳",
    "金鼎",
    "鑫源",
    "恒泰",
    "福满楼",
    "美宜佳",
    "大润发",
    "新世纪",
    "乐购",
    "好又多",
    "天虹",
    "盒马",
    "家乐福",
    "物美",
    "万达",
    "银泰",
    "苏宁",
    "国美",
    "老凤祥",
    "周大福",
    "全聚德",
    "海底捞",
    "西贝",
    "外婆家",
    "红星美凯龙",
    "居然之家",
    "同仁堂",
    "益丰",
    "中石化",
    "中石油",
]
TRADES = [
    "超市有限公司",
    "餐饮管理有限公司",
    "商贸有限公司",
    "电器专卖店",
    "便利店",
    "酒店管理有限公司",
    "加油站",
    "大药房连锁有限公司",
    "服饰店",
    "汽车维修服务部",
    "家具城",
    "珠宝首饰有限公司",
    "百货商场",
    "火锅店",
    "科技有限公司",
    "母婴用品店",
    "购物中心",
    "烟酒商行",
    "眼镜店",
    "美容美发店",
]
BRANCHES = ["万达广场店", "国贸店", "西单店", "中山路店", "高新店", "火车站店", "一分店", "二店"]
TYPES = [("消费", 0.58), ("撤销", 0.14), ("退货", 0.14), ("预授权", 0.14)]
# What each type is printed as on a slip: (Chinese, English).
TYPE_PRINTS = {
    "消费": [("消费", "SALE"), ("消费", "PURCHASE")],
    "撤销": [("消费撤销", "VOID"), ("撤销", "VOID"), ("消费撤销", "VOID SALE")],
    "退货": [("退货", "REFUND"), ("退货", "RETURN"), ("联机退货", "REFUND")],
    "预授权": [("预授权", "PRE-AUTH"), ("预授权", "AUTH"), ("预授权", "PREAUTH")],
}
CARD_TYPE_PRINTS = {
    "借记卡": ["借记卡", "借记卡", "储蓄卡", "借记卡(DEBIT)", "DEBIT 借记卡"],
    "贷记卡": ["贷记卡", "贷记卡", "信用卡", "贷记卡(CREDIT)", "CREDIT 贷记卡"],
}


@dataclass
class Charge:
    bank: str
    bank_full: str
    card_number: str
    card_type: str
    sender: str
    merchant: str
    merchant_id: str
    terminal_id: str
    batch: str
    voucher: str
    reference: str
    auth: str
    when: datetime
    amount: str
    transaction_type: str
    acquirer: str


def random_merchant(rng: random.Random) -> str:
    name = rng.choice(CITIES) + rng.choice(BRANDS) + rng.choice(TRADES)
    if rng.random() < 0.2:
        name = (
            rng.choice(BRANDS)
            + rng.choice(["火锅", "咖啡", "餐厅", "超市", "便利店"])
            + f"({rng.choice(BRANCHES)})"
        )
    elif rng.random() < 0.15:
        name = (
            rng.choice(CITIES)
            + "市"
            + rng.choice(["朝阳区", "天河区", "武侯区", "江干区", "鼓楼区"])
            + rng.choice(BRANDS)
            + rng.choice(TRADES)
        )
    return name


def random_charge(rng: random.Random) -> Charge:
    bank, full, bin_prefix, card_type, sender = rng.choice(BANKS)
    digits = lambda count: "".join(rng.choice("0123456789") for _ in range(count))  # noqa: E731
    amount = rng.choice(
        [rng.uniform(1, 100), rng.uniform(100, 1000), rng.uniform(1000, 9999), rng.uniform(10000, 60000)]
    )
    amount_text = f"{amount:.2f}" if rng.random() < 0.6 else f"{round(amount):d}.00"
    day = TODAY - timedelta(days=rng.randint(1, 340))
    when = datetime(day.year, day.month, day.day, rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
    chinese = rng.choices([t[0] for t in TYPES], weights=[t[1] for t in TYPES])[0]
    return Charge(
        bank=bank,
        bank_full=full,
        card_number=luhn_complete(bin_prefix, rng.choice([16, 16, 16, 19]), rng),
        card_type=card_type,
        sender=sender,
        merchant=random_merchant(rng),
        merchant_id=rng.choice(["898", "102", "821", "113"]) + digits(12),
        terminal_id=digits(8),
        batch=f"{rng.randint(1, 9999):06d}",
        voucher=f"{rng.randint(1, 99999):06d}",
        reference=digits(12),
        auth=digits(6),
        when=when,
        amount=amount_text,
        transaction_type=chinese,
        acquirer=rng.choice(ACQUIRERS),
    )


# --- drawing ------------------------------------------------------------------------------


@dataclass
class Line:
    """One printed line: text, or a left and a right part; ``secrets`` are drawn on it."""

    left: str
    right: str = ""
    size: float = 1.0
    centre: bool = False
    secrets: tuple[str, ...] = ()


@dataclass
class Drawn:
    image: Image.Image
    secret_quads: list[tuple[str, Quad]] = field(default_factory=list)


def _tag(secret: str) -> str:
    return "expiry" if "/" in secret and len(secret) <= 7 else "card"


def draw_lines(
    lines: list[Line],
    width: int,
    font: tuple[str, int],
    size: int,
    rng: random.Random,
    paper: tuple,
    ink: tuple | None = None,
    min_aspect: float = 0.0,
) -> Drawn:
    margin = int(size * rng.uniform(0.8, 1.6))
    spacing = rng.uniform(1.3, 1.75)
    height = int(margin * 2 + sum(size * line.size * spacing for line in lines))
    height = max(height, int(width * min_aspect))
    image = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(image)
    ink = ink or tuple(rng.randint(10, 70) for _ in range(3))
    quads: list[tuple[str, Quad]] = []
    y = float(margin)
    for line in lines:
        face = ImageFont.truetype(font[0], int(size * line.size), index=font[1])
        x = (width - draw.textlength(line.left, font=face)) / 2 if line.centre else margin
        placed = [(line.left, x)]
        draw.text((x, y), line.left, font=face, fill=ink)
        if line.right:
            right_x = width - margin - draw.textlength(line.right, font=face)
            draw.text((right_x, y), line.right, font=face, fill=ink)
            placed.append((line.right, right_x))
        for secret in line.secrets:
            text, start_x = next((text, x0) for text, x0 in placed if secret in text)
            start = text.index(secret)
            x0 = start_x + draw.textlength(text[:start], font=face)
            left, top, right, bottom = draw.textbbox((x0, y), secret, font=face)
            quads.append((_tag(secret), [[left, top], [right, top], [right, bottom], [left, bottom]]))
        y += size * line.size * spacing
    return Drawn(image, quads)


def masked(number: str, rng: random.Random) -> str:
    style = rng.randrange(7)
    hidden = len(number) - 10
    return [
        number[:6] + "*" * hidden + number[-4:],
        f"{number[:4]} {number[4:6]}** **** {number[-4:]}",
        "*" * (len(number) - 4) + number[-4:],
        f"{number[:4]} **** **** {number[-4:]}",
        number[:4] + "*" * (len(number) - 8) + number[-4:],
        f"**** **** **** {number[-4:]}",
        number[:6] + "x" * hidden + number[-4:]
        if rng.random() < 0.5
        else number[:6] + "*" * hidden + number[-4:],
    ][style]


def grouped(number: str, rng: random.Random) -> str:
    """A full number as printed or embossed: in fours, or a 19-digit one as 6 and 13."""
    if len(number) == 19 and rng.random() < 0.3:
        return f"{number[:6]} {number[6:]}"
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


# --- slips: built from parts ------------------------------------------------------------------

# Each field's labels as (Chinese, English); a slip prints one of: Chinese, English, both.
LABELS = {
    "merchant_name": [
        ("商户名称", "MERCHANT NAME"),
        ("商户名", "MERCHANT NAME"),
        ("特约商户名称", "MERCHANT NAME"),
    ],
    "merchant_id": [
        ("商户编号", "MERCHANT NO."),
        ("商户号", "MERCHANT NO"),
        ("商户代码", "MERCHANT ID"),
        ("商户编码", "MER NO."),
    ],
    "terminal_id": [
        ("终端编号", "TERMINAL NO."),
        ("终端号", "TERMINAL NO"),
        ("终端号码", "TERMINAL ID"),
        ("终端", "TID"),
    ],
    "operator": [("操作员号", "OPERATOR NO."), ("操作员", "OPERATOR")],
    "issuer": [("发卡行", "ISSUER"), ("发卡机构", "ISS NAME"), ("发卡行", "ISS")],
    "acquirer": [("收单行", "ACQUIRER"), ("收单机构", "ACQ NAME")],
    "card": [("卡号", "CARD NO."), ("卡号", "CARD NO"), ("卡 号", "CARD NUMBER"), ("交易卡号", "CARD NO.")],
    "card_type": [("卡类型", "CARD TYPE"), ("卡类别", "CARD TYPE"), ("卡种", "CARD TYPE")],
    "expiry": [("有效期", "EXP DATE"), ("卡有效期", "EXP. DATE")],
    "type": [("交易类型", "TRANS TYPE"), ("交易类别", "TXN TYPE"), ("交易类型", "TRANSACTION TYPE")],
    "batch": [("批次号", "BATCH NO."), ("批次号", "BATCH NO"), ("批次", "BATCH")],
    "voucher": [
        ("凭证号", "VOUCHER NO."),
        ("流水号", "TRACE NO."),
        ("凭证号", "TRACE NO"),
        ("票据号", "INVOICE NO."),
    ],
    "auth": [("授权码", "AUTH NO."), ("授权号", "AUTH CODE"), ("授权码", "APP CODE")],
    "reference": [
        ("参考号", "REF. NO."),
        ("检索参考号", "REFER NO."),
        ("系统参考号", "REFERENCE NO."),
        ("交易参考号", "REF NO"),
    ],
    "datetime": [("日期/时间", "DATE/TIME"), ("交易时间", "DATE/TIME"), ("日期时间", "DATE TIME")],
    "date": [("日期", "DATE"), ("交易日期", "DATE")],
    "time": [("时间", "TIME"), ("交易时间", "TIME")],
    "amount": [
        ("金额", "AMOUNT"),
        ("交易金额", "AMOUNT"),
        ("消费金额", "AMT"),
        ("金额", "AMOUNT RMB"),
        ("总计", "TOTAL"),
        ("实付金额", "AMOUNT"),
    ],
}


@dataclass
class SlipStyle:
    """How one slip prints its labels and values."""

    languages: str  # "zh", "en", "zh(en)", "en zh", "zh/en"
    colon: str
    placement: str  # "inline", "right", "below", "mixed"
    pairs: bool  # two short fields to a row
    date_form: int
    amount_form: int
    year_separate: bool


def _label(name: str, style: SlipStyle, rng: random.Random, choice: int | None = None) -> str:
    options = LABELS[name]
    chinese, english = options[choice % len(options)] if choice is not None else rng.choice(options)
    if style.languages == "zh":
        return chinese
    if style.languages == "en":
        return english
    if style.languages == "zh(en)":
        return f"{chinese}({english})"
    if style.languages == "zh/en":
        return f"{chinese}/{english}"
    return f"{english} {chinese}"


def _field(
    label: str,
    value: str,
    style: SlipStyle,
    rng: random.Random,
    secrets: tuple[str, ...] = (),
    size: float = 1.0,
) -> list[Line]:
    placement = style.placement if style.placement != "mixed" else rng.choice(["inline", "right", "below"])
    if placement == "inline" or len(label) + len(value) < 6:
        return [Line(f"{label}{style.colon}{value}", size=size, secrets=secrets)]
    if placement == "right":
        return [Line(label + style.colon.strip(), value, size=size, secrets=secrets)]
    return [Line(label + style.colon.strip()), Line(value, size=size, secrets=secrets)]


def _date_text(when: datetime, form: int) -> tuple[str, str | None, bool, bool]:
    """(the printed date and time, a separate time text or None, year printed, seconds printed)."""
    forms = [
        (f"{when:%Y/%m/%d %H:%M:%S}", None, True, True),
        (f"{when:%Y-%m-%d %H:%M:%S}", None, True, True),
        (f"{when:%Y%m%d %H%M%S}", None, True, True),
        (f"{when:%Y.%m.%d %H:%M}", None, True, False),
        (f"{when:%m/%d %H:%M:%S}", None, False, True),
        (f"{when:%m-%d %H:%M}", None, False, False),
        (f"{when.year}年{when.month}月{when.day}日 {when:%H:%M:%S}", None, True, True),
        (f"{when:%Y/%m/%d}", f"{when:%H:%M:%S}", True, True),
        (f"{when:%Y-%m-%d}", f"{when:%H:%M:%S}", True, True),
        (f"{when:%Y%m%d}", f"{when:%H%M%S}", True, True),
        (f"{when:%m/%d}", f"{when:%H:%M:%S}", False, True),
    ]
    return forms[form % len(forms)]


def _amount_text(amount: str, form: int, negative: bool) -> str:
    value = f"{float(amount):,.2f}" if form in (1, 5) else amount
    sign = "-" if negative else ""
    return [
        f"RMB {sign}{value}",
        f"RMB {sign}{value}",
        f"¥{sign}{value}",
        f"{sign}{value}元",
        f"RMB:{sign}{value}",
        f"CNY {sign}{value}",
        f"￥ {sign}{value}",
        f"{sign}{value}",
    ][form % 8]


def slip_lines(
    charge: Charge, style: SlipStyle, full_number: bool, rng: random.Random
) -> tuple[list[Line], dict]:
    """The slip's lines, and what the truth must say about how it printed the fields."""
    card = grouped(charge.card_number, rng) if full_number and rng.random() < 0.4 else charge.card_number
    if not full_number:
        card = masked(charge.card_number, rng)
    entry_mode = rng.choice(["", "", " /C", " /S", " (C)", " I", " /W"])
    secrets = (card,) if full_number else ()
    lines: list[Line] = []
    width = 34
    header = charge.acquirer if rng.random() < 0.8 else charge.bank_full
    lines.append(Line(header, size=rng.choice([1.1, 1.2, 1.3]), centre=True))
    lines.append(
        Line(
            rng.choice(
                ["POS签购单", "签购单", "银联POS签购单", "签 购 单", "银联卡交易凭条", "POS机签购单 POS SLIP"]
            ),
            size=1.15,
            centre=True,
        )
    )
    copy = rng.choice(
        [
            ("商户存根", "MERCHANT COPY"),
            ("持卡人存根", "CARDHOLDER COPY"),
            ("银行存根", "BANK COPY"),
            ("商户存根", ""),
        ]
    )
    lines.append(
        Line(copy[0], copy[1]) if rng.random() < 0.6 else Line(f"{copy[0]} {copy[1]}".strip(), centre=True)
    )
    lines.append(Line(rng.choice(["-", "=", "*", "."]) * width))
    kind_zh, kind_en = rng.choice(TYPE_PRINTS[charge.transaction_type])
    kind = rng.choice([f"{kind_zh}/{kind_en}", f"{kind_zh}({kind_en})", kind_zh, f"{kind_en} {kind_zh}"])
    date_text, time_text, year_printed, seconds = _date_text(charge.when, style.date_form)
    if style.year_separate and year_printed and time_text is None and "/" in date_text[:5]:
        date_text = date_text[5:]
    card_type_text = rng.choice(CARD_TYPE_PRINTS[charge.card_type])
    order = [
        "merchant_name",
        "merchant_id",
        "terminal_id",
        "operator",
        "issuer",
        "acquirer",
        "card",
        "card_type",
        "expiry",
        "type",
        "batch",
        "voucher",
        "auth",
        "reference",
        "datetime",
        "amount",
    ]
    if rng.random() < 0.4:  # some print the money fields first, the ids after
        order = [
            "merchant_name",
            "merchant_id",
            "terminal_id",
            "card",
            "card_type",
            "type",
            "datetime",
            "amount",
            "operator",
            "issuer",
            "acquirer",
            "expiry",
            "batch",
            "voucher",
            "reference",
            "auth",
        ]
    printed: dict = {"card_type": rng.random() < 0.85, "year_printed": year_printed, "seconds": seconds}
    short = {"operator", "batch", "voucher", "auth", "terminal_id"}
    pending: Line | None = None
    for name in order:
        part: list[Line] = []
        if name == "merchant_name":
            part = _field(_label(name, style, rng), charge.merchant, style, rng, size=rng.choice([0.9, 1.0]))
        elif name == "merchant_id":
            part = _field(_label(name, style, rng), charge.merchant_id, style, rng)
        elif name == "terminal_id":
            part = _field(_label(name, style, rng), charge.terminal_id, style, rng)
        elif name == "operator":
            part = _field(_label(name, style, rng), rng.choice(["01", "001", "02"]), style, rng)
        elif name == "issuer" and rng.random() < 0.8:
            issuer = charge.bank_full if rng.random() < 0.5 else charge.bank
            part = _field(_label(name, style, rng), issuer, style, rng)
        elif name == "acquirer" and rng.random() < 0.5:
            part = _field(_label(name, style, rng), charge.acquirer, style, rng)
        elif name == "card":
            part = _field(
                _label(name, style, rng),
                card + entry_mode,
                style,
                rng,
                secrets=secrets,
                size=rng.choice([1.0, 1.1]),
            )
        elif name == "card_type" and printed["card_type"]:
            if rng.random() < 0.25:  # after the issuer on one row: "工商银行 借记卡"
                part = [Line(f"{charge.bank} {card_type_text}")]
            else:
                part = _field(_label(name, style, rng), card_type_text, style, rng)
        elif name == "expiry" and rng.random() < 0.35:
            part = _field(
                _label(name, style, rng),
                rng.choice(["**/**", "****", f"{charge.when.year + 3}/{rng.randint(1, 12):02d}"]),
                style,
                rng,
            )
        elif name == "type":
            part = _field(_label(name, style, rng), kind, style, rng, size=rng.choice([1.0, 1.2, 1.3]))
        elif name == "batch":
            part = _field(_label(name, style, rng), charge.batch, style, rng)
        elif name == "voucher":
            part = _field(_label(name, style, rng), charge.voucher, style, rng)
        elif name == "auth" and rng.random() < 0.8:
            part = _field(
                _label(name, style, rng),
                charge.auth if rng.random() < 0.8 else charge.auth[:2] + "A" + charge.auth[3:],
                style,
                rng,
            )
        elif name == "reference":
            part = _field(_label(name, style, rng), charge.reference, style, rng)
            if charge.transaction_type in ("撤销", "退货") and rng.random() < 0.7:
                original = "".join(rng.choice("0123456789") for _ in range(12))
                part += [
                    Line(f"原参考号{style.colon}{original}")
                    if style.languages != "en"
                    else Line(f"ORIG REF NO{style.colon}{original}")
                ]
                part += [Line(f"原凭证号{style.colon}0{''.join(rng.choice('0123456789') for _ in range(5))}")]
        elif name == "datetime":
            if style.year_separate and year_printed and time_text is None:
                part = _field(
                    "年份(YEAR)" if style.languages != "zh" else "年份", str(charge.when.year), style, rng
                )
                part += _field(_label("date", style, rng), date_text.split(" ")[0], style, rng)
                part += _field(_label("time", style, rng, 0), date_text.split(" ")[1], style, rng)
            elif time_text is not None:
                date_label, time_label = _label("date", style, rng), _label("time", style, rng, 0)
                if rng.random() < 0.4:
                    part = [
                        Line(f"{date_label}{style.colon}{date_text}", f"{time_label}{style.colon}{time_text}")
                    ]
                elif rng.random() < 0.5:
                    part = [
                        Line(f"{date_label}{style.colon}{date_text} {time_label}{style.colon}{time_text}")
                    ]
                else:
                    part = _field(date_label, date_text, style, rng) + _field(
                        time_label, time_text, style, rng
                    )
            else:
                part = _field(_label("datetime", style, rng), date_text, style, rng)
        elif name == "amount":
            negative = charge.transaction_type in ("撤销", "退货") and rng.random() < 0.5
            value = _amount_text(charge.amount, style.amount_form, negative)
            part = _field(_label("amount", style, rng), value, style, rng, size=rng.choice([1.1, 1.2, 1.4]))
        if not part:
            continue
        if style.pairs and name in short and len(part) == 1 and not part[0].right:
            if pending is None:
                pending = part[0]
                continue
            lines.append(Line(pending.left, part[0].left, secrets=pending.secrets + part[0].secrets))
            pending = None
            continue
        lines += part
    if pending is not None:
        lines.append(pending)
    lines.append(Line(rng.choice(["-", "=", "*"]) * width))
    for extra in rng.sample(
        [
            "备注(REFERENCE):",
            "持卡人签名(CARDHOLDER SIGNATURE):",
            "持卡人签名:",
            "本人确认以上交易,同意将其记入本卡账户",
            "I ACKNOWLEDGE SATISFACTORY RECEIPT OF RELATIVE GOODS/SERVICES",
            f"服务热线:400-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
            "交易凭证请妥善保管",
            "重打印 REPRINT",
            "请勿重复刷卡",
        ],
        k=rng.randint(1, 4),
    ):
        lines.append(Line(extra, size=0.8))
    return lines, printed


def shouqianba_lines(charge: Charge, rng: random.Random) -> tuple[list[Line], dict]:
    """An aggregator's printed receipt: 实付, 订单号, and the card only by its tail."""
    order_no = "7895" + "".join(rng.choice("0123456789") for _ in range(16))
    negative = charge.transaction_type in ("撤销", "退货")
    lines = [
        Line(rng.choice(["收钱吧", "收款凭证", "刷卡支付凭证"]), size=1.3, centre=True),
        Line(f"门店:{charge.merchant}" if rng.random() < 0.5 else f"商户名称:{charge.merchant}", size=0.9),
        Line(f"商户号:{charge.merchant_id}"),
        Line(f"终端号:{charge.terminal_id}"),
        Line("-" * 30),
        Line("支付方式", f"银行卡({charge.card_number[-4:]})"),
        Line(
            "交易类型",
            {"消费": "收款", "撤销": "撤销", "退货": "退款", "预授权": "预授权"}[charge.transaction_type],
        ),
        Line("交易时间", f"{charge.when:%Y-%m-%d %H:%M:%S}"),
        Line("订单金额", f"{'-' if negative else ''}{charge.amount}"),
        Line("优惠", "0.00"),
        Line("实付金额", f"¥{'-' if negative else ''}{charge.amount}", size=1.2),
        Line(f"订单号:{order_no}", size=0.85),
        Line(f"参考号:{charge.reference}"),
        Line(f"凭证号:{charge.voucher}", f"批次号:{charge.batch}"),
        Line("-" * 30),
        Line("谢谢惠顾,欢迎再次光临", centre=True, size=0.85),
    ]
    return lines, {
        "card_type": False,
        "year_printed": True,
        "seconds": True,
        "type_word": {"消费": "消费", "撤销": "撤销", "退货": "退货", "预授权": "预授权"},
    }


# --- SMS and app screenshots -----------------------------------------------------------------


def sms_text(charge: Charge, rng: random.Random) -> tuple[str, dict]:
    """One bank's notice of the charge, and what it prints (merchant, card type, seconds)."""
    when, tail, m = charge.when, charge.card_number[-4:], charge.merchant
    balance = f"{rng.uniform(100, 90000):,.2f}"
    t = charge.transaction_type
    card_word = "信用卡" if charge.card_type == "贷记卡" else "储蓄卡"
    md, hm = f"{when.month}月{when.day}日", f"{when:%H:%M}"
    md2 = f"{when:%m}月{when:%d}日"
    verb = {"消费": "消费", "撤销": "消费撤销", "退货": "退货", "预授权": "预授权"}[t]
    out = {"消费": "支出", "撤销": "收入", "退货": "收入", "预授权": "支出"}[t]
    templates = [
        (
            f"【工商银行】您尾号{tail}卡{md}{hm}{out}({verb}{m}){charge.amount}元，余额{balance}元。",
            {"merchant": True},
        ),
        (
            f"您尾号{tail}卡{md}{hm}在{m}{verb}{charge.amount}元，余额{balance}元。【工商银行】",
            {"merchant": True},
        ),
        (
            f"【招商银行】您账户{tail}于{md2}{hm}在{m}快捷支付{'扣款' if t == '消费' else verb}"
            f"人民币{charge.amount}，余额{balance}",
            {"merchant": True, "type": t != "消费"},
        ),
        (
            f"您尾号{tail}的招行{card_word}{md2}{hm}在{m}{verb}人民币{charge.amount}元。【招商银行】",
            {"merchant": True, "card_type": True},
        ),
        (
            f"您尾号{tail}的{card_word}{md}{when.hour}时{when.minute:02d}分{verb}支出人民币{charge.amount}元,活期余额{balance}元。[建设银行]",
            {"card_type": True},
        ),
        (
            f"您尾号{tail}的{card_word}{md}{when.hour}时{when.minute:02d}分在{m}{verb}人民币{charge.amount}元。[建设银行]",
            {"merchant": True, "card_type": True},
        ),
        (
            f"【中国农业银行】您尾号{tail}账户{md2}{hm}完成{verb}交易人民币{'-' if out == '支出' else ''}"
            f"{charge.amount}，余额{balance}。",
            {},
        ),
        (
            f"【中国银行】您的借记卡账户{tail}，于{md2}{hm}在{m}POS{verb}人民币{charge.amount}元，交易后余额{balance}。",
            {"merchant": True, "card_type_fixed": "借记卡"},
        ),
        (
            f"【交通银行】您尾号*{tail}的卡于{md2}{hm}在{m}网上支付{charge.amount}元，余额{balance}元。",
            {"merchant": True, "type": t == "消费"},  # 网上支付 is a purchase; the wording names no other
        ),
        (
            f"您尾号{tail}的交行{card_word}于{md2}{hm}在{m}{verb}{charge.amount}元。【交通银行】",
            {"merchant": True, "card_type": True},
        ),
        (
            f"[{charge.bank}]您尾号为{tail}的{card_word}于{md}{hm}在{m}{verb}RMB{charge.amount}元。",
            {"merchant": True, "card_type": True},
        ),
        (
            f"{charge.bank}：您{card_word}(尾号{tail}){md}{hm}{verb}{charge.amount}元，商户:{m}。",
            {"merchant": True, "card_type": True},
        ),
    ]
    text, meta = rng.choice(templates)
    meta.setdefault("type", True)
    if "card_type_fixed" in meta:
        meta["card_type"] = charge.card_type == meta["card_type_fixed"]
    return text, meta


EARLIER = [
    "【{bank}】您的验证码为{code}，请勿泄露给他人。",
    "【{bank}】您本月账单已出，请按时还款。",
    "您尾号{other}卡{md}{hm}收入(工资)8,500.00元，余额12,345.67元。【{bank}】",
    "【{bank}】尊敬的客户，您的信用卡积分即将到期，详询{sender}。",
]


def wrap(text: str, per_line: int) -> list[str]:
    return [text[start : start + per_line] for start in range(0, len(text), per_line)]


def sms_lines(charge: Charge, rng: random.Random) -> tuple[list[Line], dict]:
    text, meta = sms_text(charge, rng)
    lines = [
        Line(
            rng.choice([charge.sender, "106980095533", charge.bank, f"{charge.bank} {charge.sender}"]),
            size=1.1,
            centre=True,
        ),
        Line("短信/彩信" if rng.random() < 0.6 else "信息", size=0.8, centre=True),
    ]
    earlier = charge.when - timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 5))
    for _ in range(rng.choice([0, 0, 1, 2])):
        notice = rng.choice(EARLIER).format(
            bank=charge.bank,
            code=rng.randint(100000, 999999),
            other=rng.randint(1000, 9999),
            md=f"{earlier.month}月{earlier.day}日",
            hm=f"{earlier:%H:%M}",
            sender=charge.sender,
        )
        lines.append(Line(f"{earlier.month}月{earlier.day}日 {earlier:%H:%M}", size=0.75, centre=True))
        lines += [Line(part) for part in wrap(notice, rng.randint(15, 19))]
    lines.append(
        Line(
            rng.choice(
                [
                    f"{charge.when.month}月{charge.when.day}日 {charge.when:%H:%M}",
                    f"{charge.when:%H:%M}",
                    "昨天 " + f"{charge.when:%H:%M}",
                ]
            ),
            size=0.75,
            centre=True,
        )
    )
    lines += [Line(part) for part in wrap(text, rng.randint(14, 20))]
    lines.append(Line(""))
    return lines, meta


def app_lines(charge: Charge, rng: random.Random) -> tuple[list[Line], dict]:
    tail = charge.card_number[-4:]
    incoming = charge.transaction_type in ("撤销", "退货")
    sign = "+" if incoming else "-"
    amount = rng.choice(
        [
            f"{sign}{charge.amount}",
            f"{sign}{float(charge.amount):,.2f}",
            f"¥{charge.amount}",
            f"{sign}¥{charge.amount}",
            f"{sign}{charge.amount}元",
        ]
    )
    card_type_word = rng.choice(CARD_TYPE_PRINTS[charge.card_type][:3])
    card = rng.choice(
        [
            f"{charge.bank}{card_type_word}({tail})",
            f"**** **** **** {tail}",
            f"尾号{tail}",
            f"{charge.card_number[:4]} **** **** {tail}",
            f"{card_type_word} **** {tail}",
        ]
    )
    meta: dict = {"card_type": card_type_word in card, "reference": False, "seconds": True, "type": True}
    when = rng.choice(
        [
            f"{charge.when:%Y-%m-%d %H:%M:%S}",
            f"{charge.when:%Y/%m/%d %H:%M:%S}",
            f"{charge.when:%Y.%m.%d %H:%M:%S}",
            f"{charge.when.year}年{charge.when:%m}月{charge.when:%d}日 {charge.when:%H:%M:%S}",
        ]
    )
    type_word = {
        "消费": rng.choice(["消费", "POS消费", "快捷支付"]),
        "撤销": "消费撤销",
        "退货": rng.choice(["退货", "退款"]),
        "预授权": "预授权",
    }[charge.transaction_type]
    name_label = rng.choice(["商户名称", "对方户名", "交易对象", "收款方", "交易商户"])
    # Each item is a label's rows: a long name goes on the row under its label.
    short_name = len(charge.merchant) < 14
    items = [
        [Line("交易类型", type_word)],
        [Line("交易时间", when)],
        [Line(rng.choice(["交易卡号", "付款卡号", "卡号", "账户"]), card)],
        [Line(name_label, charge.merchant)]
        if short_name
        else [Line(name_label), Line(charge.merchant, size=0.9)],
    ]
    if rng.random() < 0.5:
        posted = charge.when + timedelta(days=rng.randint(0, 2))
        items.append([Line("记账日期", f"{posted:%Y-%m-%d}")])
    if rng.random() < 0.55:
        meta["reference"] = True
        items.append([Line(rng.choice(["参考号", "系统参考号", "交易参考号"]), charge.reference)])
    if rng.random() < 0.5:
        serial = "".join(rng.choice("0123456789") for _ in range(rng.choice([20, 24, 26])))
        items.append([Line("流水号", serial)])
    if rng.random() < 0.4:
        items.append([Line("交易地点", f"{rng.choice(CITIES)}")])
    rng.shuffle(items)
    rows = [row for item in items for row in item]
    lines = [
        Line(rng.choice(["<  交易详情", "<    明细详情", "<  交易明细", "<  账单详情"]), size=1.1),
        Line(charge.merchant, size=1.0, centre=True) if rng.random() < 0.6 else Line(type_word, centre=True),
        Line(amount, size=2.0, centre=True),
        Line(rng.choice(["交易成功", "已完成", "交易状态 成功"]), size=0.9, centre=True),
        *rows,
        Line(rng.choice(["对此交易有疑问?", "申请电子回单", "联系客服"]), size=0.8, centre=True),
    ]
    return lines, meta


# What a card's face says of its kind, beside the bank's name or in a corner.
CARD_FACE_TYPES = {
    "借记卡": ["借记卡", "储蓄卡", "DEBIT", "金穗借记卡", "灵通卡 借记卡", "银联借记卡"],
    "贷记卡": ["信用卡", "CREDIT", "龙卡信用卡", "白金信用卡", "CREDIT CARD", "信用卡 Platinum"],
}


def card_lines(charge: Charge, rng: random.Random) -> list[Line]:
    number = grouped(charge.card_number, rng)
    expiry = f"{charge.when.month:02d}/{(charge.when.year + 4) % 100:02d}"
    face = rng.choice(CARD_FACE_TYPES[charge.card_type])
    top = rng.random() < 0.5
    return [
        Line(charge.bank_full, face if top else "", size=1.3),
        Line("" if top else face, "银联 UnionPay", size=0.8),
        Line(""),
        Line(number, size=1.5, secrets=(number,)),
        Line(
            f"VALID THRU {expiry}" if rng.random() < 0.6 else f"有效期 {expiry}", size=0.8, secrets=(expiry,)
        ),
        Line(rng.choice(["ZHANG SAN", "LI SI", "WANG WEI"]), size=0.9),
    ]


# --- photographing ---------------------------------------------------------------------------


def age_paper(paper: np.ndarray, rng: random.Random) -> np.ndarray:
    """Thermal paper: speckle, a faded band, low contrast, print-head streaks, a crease."""
    height, width = paper.shape[:2]
    out = paper.astype(np.float32)
    noise = rng.uniform(2, 14)
    out += np.random.default_rng(rng.randrange(1 << 30)).normal(0, noise, paper.shape)
    ink = 255 - out
    if rng.random() < 0.45:  # thermal fade: lighter towards one end
        band = np.linspace(1.0, rng.uniform(0.3, 0.75), height)[:, None, None]
        ink *= band if rng.random() < 0.5 else band[::-1]
    if rng.random() < 0.25:  # low contrast throughout
        ink *= rng.uniform(0.4, 0.65)
    if rng.random() < 0.2:  # print-head streaks: columns that print pale
        for _ in range(rng.randint(1, 3)):
            x = rng.randrange(width)
            ink[:, x : x + rng.randint(1, 4)] *= rng.uniform(0.1, 0.5)
    out = 255 - ink
    if rng.random() < 0.25:  # a crease across the slip
        y = rng.randrange(height // 5, height * 4 // 5)
        out[y : y + 2] *= 0.7
        out[y + 2 : y + 8] *= 1.05
    return np.clip(out, 0, 255).astype(np.uint8)


def photograph(
    paper: np.ndarray, quads: list[tuple[str, Quad]], rng: random.Random, screenshot: bool
) -> tuple[np.ndarray, list[tuple[str, Quad]]]:
    """The drawing as a phone photo (or a screenshot), and its secret boxes in the photo."""
    height, width = paper.shape[:2]
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    if screenshot and rng.random() < 0.7:
        matrix = np.eye(3, dtype=np.float32)
        canvas_size = (width, height)
    else:
        pad = 0.12 if screenshot else rng.uniform(0.08, 0.3)
        canvas_size = (int(width * (1 + 2 * pad)), int(height * (1 + 2 * pad)))
        spread = 3 if screenshot else rng.choice([4, 8, 12, 15])
        angle = np.deg2rad(rng.uniform(-spread, spread))
        centre = np.float32([canvas_size[0] / 2, canvas_size[1] / 2])
        rotation = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        placed = (corners - [width / 2, height / 2]) @ rotation.T + centre
        tilt = rng.uniform(0.02, 0.09)
        jitter = (
            np.float32([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(4)])
            * tilt
            * min(width, height)
        )
        matrix = cv2.getPerspectiveTransform(corners, np.float32(placed + jitter))
    background = np.full(
        (canvas_size[1], canvas_size[0], 3), [rng.randint(40, 200) for _ in range(3)], np.uint8
    )
    warped = cv2.warpPerspective(
        paper, matrix, canvas_size, borderMode=cv2.BORDER_TRANSPARENT, dst=background
    )
    if not screenshot:
        warped = light(warped, rng)
        sigma = rng.uniform(0.0, 1.8)
        if sigma > 0.3:
            warped = cv2.GaussianBlur(warped, (0, 0), sigma)
        grain = np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(1, 6), warped.shape)
        warped = np.clip(warped.astype(np.float32) + grain, 0, 255).astype(np.uint8)
    elif rng.random() < 0.4:  # a chat app's downscaling and upscaling
        factor = rng.uniform(0.5, 0.8)
        small = cv2.resize(warped, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        warped = cv2.resize(small, (warped.shape[1], warped.shape[0]), interpolation=cv2.INTER_LINEAR)
    moved = [
        (tag, cv2.perspectiveTransform(np.float32(quad)[None], matrix)[0].tolist()) for tag, quad in quads
    ]
    return warped, moved


def light(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """Uneven light: a gradient across, a lamp's spot, or a hand's shadow."""
    height, width = image.shape[:2]
    field_ = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.9, 1.1), width)[None, :] * np.ones((height, 1))
    if rng.random() < 0.3:
        ys, xs = np.mgrid[0:height, 0:width]
        cx, cy, radius = (
            rng.uniform(0, width),
            rng.uniform(0, height),
            rng.uniform(0.3, 0.8) * max(width, height),
        )
        field_ *= 1 + 0.25 * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / radius**2)
    if rng.random() < 0.3:
        shadow = np.ones((height, width), np.float32)
        points = np.int32(
            [[rng.uniform(-0.2, 1.2) * width, rng.uniform(-0.2, 1.2) * height] for _ in range(4)]
        )
        cv2.fillPoly(shadow, [cv2.convexHull(points)], rng.uniform(0.55, 0.8))
        field_ *= cv2.GaussianBlur(shadow, (0, 0), 0.02 * max(width, height))
    return np.clip(image.astype(np.float32) * field_[:, :, None], 0, 255).astype(np.uint8)


def turn(
    image: np.ndarray, quads: list[tuple[str, Quad]], quarters: int
) -> tuple[np.ndarray, list[tuple[str, Quad]]]:
    """The photo turned clockwise by ``quarters`` quarter turns, as a phone held sideways saves it."""
    for _ in range(quarters % 4):
        height = image.shape[0]
        image = np.ascontiguousarray(np.rot90(image, -1))
        quads = [(tag, [[height - y, x] for x, y in quad]) for tag, quad in quads]
    return image, quads


def side_by_side(
    first: Drawn, second: Drawn, rng: random.Random
) -> tuple[np.ndarray, list[tuple[str, Quad]]]:
    """A slip with the card lying beside it on one desk."""
    a, b = np.asarray(first.image)[:, :, ::-1], np.asarray(second.image)[:, :, ::-1]
    gap = rng.randint(20, 80)
    height = max(a.shape[0], b.shape[0]) + 40
    desk = np.full((height, a.shape[1] + b.shape[1] + gap + 40, 3), rng.randint(60, 180), np.uint8)
    top_b = rng.randint(20, max(21, height - b.shape[0] - 20))
    desk[20 : 20 + a.shape[0], 20 : 20 + a.shape[1]] = a
    x_b = 20 + a.shape[1] + gap
    desk[top_b : top_b + b.shape[0], x_b : x_b + b.shape[1]] = b
    quads = [(t, [[x + 20, y + 20] for x, y in q]) for t, q in first.secret_quads]
    quads += [(t, [[x + x_b, y + top_b] for x, y in q]) for t, q in second.secret_quads]
    return desk, quads


def bbox(quad: Quad) -> list[int]:
    xs, ys = [x for x, _ in quad], [y for _, y in quad]
    return [int(min(xs)), int(min(ys)), int(np.ceil(max(xs))), int(np.ceil(max(ys)))]


def slip_style(rng: random.Random) -> SlipStyle:
    return SlipStyle(
        languages=rng.choice(["zh", "zh", "zh(en)", "en zh", "zh/en", "en"]),
        colon=rng.choice([":", "：", ": ", " ", ":"]),
        placement=rng.choice(["inline", "right", "below", "mixed", "mixed"]),
        pairs=rng.random() < 0.4,
        date_form=rng.randrange(11),
        amount_form=rng.randrange(8),
        year_separate=rng.random() < 0.1,
    )


def make_image(
    index: int, rng: random.Random, fonts: list[tuple[str, int]], charge: Charge | None = None
) -> tuple[bytes, dict]:
    """An image and its truth; given a ``charge`` (a duplicate's), always a slip of it."""
    kind = (
        "slip" if charge else rng.choices(["slip", "sms", "app", "card_photo"], weights=[52, 19, 18, 11])[0]
    )
    charge = charge or random_charge(rng)
    font = rng.choice(fonts)
    full_number = kind == "card_photo" or (kind == "slip" and rng.random() < 0.14)
    with_card = kind == "slip" and rng.random() < 0.06
    meta: dict = {}
    layout = kind
    if kind == "slip":
        width, size = rng.choice([(600, 21), (620, 22), (760, 26), (900, 30), (1000, 34)])
        paper = tuple(rng.randint(228, 255) for _ in range(3))
        if rng.random() < 0.1 and not full_number:
            lines, meta = shouqianba_lines(charge, rng)
            layout = "aggregator"
        else:
            style = slip_style(rng)
            lines, meta = slip_lines(charge, style, full_number, rng)
            layout = f"{style.languages}/{style.placement}"
        drawn = draw_lines(lines, width, font, size, rng, paper)
    elif kind == "sms":
        lines, meta = sms_lines(charge, rng)
        dark = rng.random() < 0.2
        drawn = draw_lines(
            lines,
            rng.choice([720, 1080, 1170]),
            font,
            rng.randint(36, 48),
            rng,
            (25, 25, 28) if dark else (245, 245, 245),
            (225, 225, 225) if dark else None,
            rng.uniform(1.6, 2.2),
        )
    elif kind == "app":
        lines, meta = app_lines(charge, rng)
        drawn = draw_lines(
            lines,
            rng.choice([720, 1080, 1170]),
            font,
            rng.randint(34, 46),
            rng,
            (255, 255, 255),
            min_aspect=rng.uniform(1.6, 2.2),
        )
    else:
        lines = card_lines(charge, rng)
        drawn = draw_lines(
            lines,
            856,
            font,
            44,
            rng,
            tuple(rng.randint(120, 230) for _ in range(3)),
            tuple(rng.choice([(240, 240, 240), (30, 30, 30), (200, 180, 120)])),
        )
    if with_card:
        card_drawn = draw_lines(
            card_lines(charge, rng),
            856,
            font,
            44,
            rng,
            tuple(rng.randint(120, 230) for _ in range(3)),
            (235, 235, 235),
        )
        paper_pixels, quads = side_by_side(drawn, card_drawn, rng)
        full_number = True
    else:
        paper_pixels, quads = np.asarray(drawn.image)[:, :, ::-1].copy(), drawn.secret_quads
    screenshot = kind in ("sms", "app") and rng.random() < 0.8
    if kind == "slip":
        paper_pixels = age_paper(paper_pixels, rng)
    photo, quads = photograph(paper_pixels, quads, rng, screenshot=screenshot)
    if not screenshot and rng.random() < 0.12:
        photo, quads = turn(photo, quads, rng.choice([1, 2, 3]))
    if not screenshot and rng.random() < 0.04:  # a 12 MP camera frame
        scale = 4000 / max(photo.shape[:2])
        photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        quads = [(tag, [[x * scale, y * scale] for x, y in quad]) for tag, quad in quads]
    ok, encoded = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(55, 92)])
    assert ok
    entry: dict = {
        "file": f"{index:04d}.jpg",
        "width": photo.shape[1],
        "height": photo.shape[0],
        "kind": kind,
        "layout": layout,
        "last4": charge.card_number[-4:],
        "full_card_number": None,
        "expiry": None,
        "duplicate_of": None,
    }
    if full_number:
        entry["full_card_number"] = {
            "number": charge.card_number,
            "occurrences": [{"quad": quad, "bbox": bbox(quad)} for tag, quad in quads if tag == "card"],
        }
        expiries = [{"quad": quad, "bbox": bbox(quad)} for tag, quad in quads if tag == "expiry"]
        entry["expiry"] = {"occurrences": expiries} if expiries else None
    if kind == "card_photo":
        entry["card_type"] = charge.card_type
        return encoded.tobytes(), entry
    entry |= {
        "amount": charge.amount,
        "date": charge.when.date().isoformat(),
        "time": charge.when.strftime("%H:%M"),
        "transaction_type": charge.transaction_type,
        "merchant_name": charge.merchant,
        "year_printed": kind in ("slip", "app") and meta.get("year_printed", True),
    }
    if kind == "slip":
        entry |= {
            "time": charge.when.strftime("%H:%M:%S" if meta["seconds"] else "%H:%M"),
            "ref_no": charge.reference,
            "voucher_no": charge.voucher,
            "batch_no": charge.batch,
            "merchant_id": charge.merchant_id,
            "terminal_id": charge.terminal_id,
            "card_type": charge.card_type if meta["card_type"] else None,
        }
    elif kind == "app":
        entry["time"] = charge.when.strftime("%H:%M:%S")
        entry["card_type"] = charge.card_type if meta["card_type"] else None
        entry["ref_no"] = charge.reference if meta["reference"] else None
        entry["transaction_type"] = charge.transaction_type if meta["type"] else None
    else:
        entry["merchant_name"] = charge.merchant if meta.get("merchant") else None
        entry["card_type"] = charge.card_type if meta.get("card_type") else None
        entry["transaction_type"] = charge.transaction_type if meta["type"] else None
    return encoded.tobytes(), entry


def generate(folder: Path, count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    fonts = cjk_fonts()
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    index = 0
    while index < count:
        data, entry = make_image(index, rng, fonts)
        (folder / entry["file"]).write_bytes(data)
        entries.append(entry)
        index += 1
        if entry["kind"] == "slip" and rng.random() < 0.06 and index < count:
            # The same charge run twice: a second slip, new voucher and reference, same time and amount.
            data, second = make_image(index, rng, fonts, _charge_of(entries[-1], random_charge(rng)))
            second["duplicate_of"] = entries[-1]["file"]
            (folder / second["file"]).write_bytes(data)
            entries.append(second)
            index += 1
    (folder / "truth.json").write_text(
        json.dumps({"today": TODAY.isoformat(), "images": entries}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    return entries


def _charge_of(entry: dict, fresh: Charge) -> Charge:
    """``fresh`` with the first slip's merchant, amount and time: only the ids differ."""
    clock = entry["time"] if len(entry["time"]) > 5 else entry["time"] + ":00"
    fresh.merchant, fresh.merchant_id = entry["merchant_name"], entry["merchant_id"]
    fresh.terminal_id, fresh.batch = entry["terminal_id"], entry["batch_no"]
    fresh.amount, fresh.when = entry["amount"], datetime.fromisoformat(f"{entry['date']}T{clock}")
    fresh.transaction_type = entry["transaction_type"]
    return fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=Path("var/receipts/dev"))
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    entries = generate(args.folder, args.count, args.seed)
    kinds = {kind: sum(e["kind"] == kind for e in entries) for kind in ("slip", "sms", "app", "card_photo")}
    print(f"{len(entries)} images in {args.folder}: {kinds}")


if __name__ == "__main__":
    main()
