"""Training and dev images for reading receipts: POS slips, bank SMS, app details, card photos.

Written apart from the held-out generator (tests/receipts/heldout/), with its own layouts and
wording, so tuning on these images says little about the held-out score by construction.
Every image is drawn with the CJK fonts Debian ships (found through ``fc-list``), then aged
like a phone photo of thermal paper: rotation, perspective, blur, noise, uneven light and JPEG.
``truth.json`` has the same shape as the held-out one: the fields as normalised strings, and
for a full card number in the picture its boxes carried through the same homography.

    PYTHONPATH=$PWD:$PWD/.ocr-site .venv/bin/python tests/receipts/generator.py var/receipts/dev --count 240
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
    """(file, face index) of every Simplified Chinese face fontconfig knows."""
    listing = subprocess.run(
        ["fc-list", "-f", "%{file}|%{index}|%{family}\n", ":lang=zh"], capture_output=True, text=True
    ).stdout
    faces = set()
    for row in listing.splitlines():
        path, index, family = row.split("|", 2)
        if "SC" in family.split(","):
            faces.add((path, int(index)))
    # Some families list " SC" after a comma; take any SC face if the split found none.
    if not faces:
        faces = {(row.split("|")[0], int(row.split("|")[1])) for row in listing.splitlines() if "SC" in row}
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


BANKS = [
    ("工商银行", "622202", "借记卡"),
    ("建设银行", "621700", "借记卡"),
    ("农业银行", "622848", "借记卡"),
    ("中国银行", "621661", "借记卡"),
    ("招商银行", "622575", "贷记卡"),
    ("交通银行", "622260", "借记卡"),
    ("中信银行", "622690", "贷记卡"),
    ("浦发银行", "622521", "贷记卡"),
    ("广发银行", "625809", "贷记卡"),
    ("邮储银行", "621799", "借记卡"),
]
ACQUIRERS = ["银联商务", "拉卡拉支付", "通联支付", "中国工商银行", "汇付天下", "快钱支付", "杉德支付"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆", "苏州", "长沙"]
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
]
TRADES = [
    "超市有限公司", "餐饮管理有限公司", "商贸有限公司", "电器专卖店", "便利店", "酒店管理有限公司",
    "加油站", "大药房连锁有限公司", "服饰店", "汽车维修服务部", "家具城", "珠宝首饰有限公司",
]  # fmt: skip
TYPES = [("消费", "SALE", 0.62), ("撤销", "VOID", 0.13), ("退货", "REFUND", 0.13), ("预授权", "AUTH", 0.12)]


@dataclass
class Charge:
    bank: str
    card_number: str
    card_type: str
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
    transaction_english: str
    acquirer: str


def random_charge(rng: random.Random) -> Charge:
    bank, bin_prefix, card_type = rng.choice(BANKS)
    digits = lambda count: "".join(rng.choice("0123456789") for _ in range(count))  # noqa: E731
    amount = rng.choice([rng.uniform(1, 300), rng.uniform(300, 3000), rng.uniform(3000, 30000)])
    amount_text = f"{amount:.2f}" if rng.random() < 0.6 else f"{round(amount):d}.00"
    day = TODAY - timedelta(days=rng.randint(1, 330))
    when = datetime(day.year, day.month, day.day, rng.randint(7, 22), rng.randint(0, 59), rng.randint(0, 59))
    chinese, english = rng.choices([t[:2] for t in TYPES], weights=[t[2] for t in TYPES])[0]
    return Charge(
        bank=bank,
        card_number=luhn_complete(bin_prefix, rng.choice([16, 16, 16, 19]), rng),
        card_type=card_type,
        merchant=rng.choice(CITIES) + rng.choice(BRANDS) + rng.choice(TRADES),
        merchant_id="898" + digits(12),
        terminal_id=digits(8),
        batch="00" + digits(4),
        voucher="0" + digits(5),
        reference=digits(12),
        auth=digits(6),
        when=when,
        amount=amount_text,
        transaction_type=chinese,
        transaction_english=english,
        acquirer=rng.choice(ACQUIRERS),
    )


# --- drawing ------------------------------------------------------------------------------


@dataclass
class Line:
    """One printed line: text, or a left and a right part; ``secret`` marks the full card number."""

    left: str
    right: str = ""
    size: float = 1.0
    centre: bool = False
    secret: str = ""


@dataclass
class Drawn:
    image: Image.Image
    secret_quads: list[tuple[str, Quad]] = field(default_factory=list)


def draw_lines(
    lines: list[Line], width: int, font: tuple[str, int], size: int, rng: random.Random, paper: tuple
) -> Drawn:
    margin = int(size * rng.uniform(0.8, 1.6))
    spacing = rng.uniform(1.35, 1.7)
    height = int(margin * 2 + sum(size * line.size * spacing for line in lines))
    image = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(image)
    ink = tuple(rng.randint(10, 70) for _ in range(3))
    quads: list[tuple[str, Quad]] = []
    y = float(margin)
    for line in lines:
        face = ImageFont.truetype(font[0], int(size * line.size), index=font[1])
        if line.centre:
            x = (width - draw.textlength(line.left, font=face)) / 2
        else:
            x = margin
        draw.text((x, y), line.left, font=face, fill=ink)
        if line.right:
            draw.text(
                (width - margin - draw.textlength(line.right, font=face), y), line.right, font=face, fill=ink
            )
        if line.secret:
            start = line.left.index(line.secret)
            x0 = x + draw.textlength(line.left[:start], font=face)
            left, top, right, bottom = draw.textbbox((x0, y), line.secret, font=face)
            tag = "expiry" if "/" in line.secret else "card"
            quads.append((tag, [[left, top], [right, top], [right, bottom], [left, bottom]]))
        y += size * line.size * spacing
    return Drawn(image, quads)


def masked(number: str, rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return number[:6] + "*" * (len(number) - 10) + number[-4:]
    if style == 1:
        return f"{number[:4]} {number[4:6]}** **** {number[-4:]}"
    return "*" * (len(number) - 4) + number[-4:]


# --- slips: four acquirer layouts -----------------------------------------------------------


def slip_lines(charge: Charge, layout: int, full_number: bool, rng: random.Random) -> list[Line]:
    card = charge.card_number if full_number else masked(charge.card_number, rng)
    secret = charge.card_number if full_number else ""
    when = charge.when
    rule = Line("-" * 34)
    kind = f"{charge.transaction_type}/{charge.transaction_english}"
    if layout == 0:  # bilingual labels, value on the next line
        return [
            Line(f"{charge.acquirer}", size=1.2, centre=True),
            Line("POS签购单", size=1.2, centre=True),
            Line("商户存根", "MERCHANT COPY"),
            rule,
            Line("商户名称(MERCHANT NAME):"),
            Line(charge.merchant),
            Line("商户编号(MERCHANT NO.):"),
            Line(charge.merchant_id),
            Line(f"终端编号(TERMINAL NO.):{charge.terminal_id}"),
            Line("操作员号(OPERATOR NO.):01"),
            rule,
            Line(f"发卡行(ISSUER):{charge.bank}"),
            Line(f"收单行(ACQUIRER):{charge.acquirer}"),
            Line("卡号(CARD NO.):"),
            Line(f"{card} /C", secret=secret),
            Line(f"卡类型(CARD TYPE):{charge.card_type}"),
            Line("交易类型(TRANS TYPE):"),
            Line(kind, size=1.2),
            Line(f"批次号(BATCH NO.):{charge.batch}"),
            Line(f"凭证号(VOUCHER NO.):{charge.voucher}"),
            Line(f"授权码(AUTH NO.):{charge.auth}"),
            Line(f"参考号(REFER NO.):{charge.reference}"),
            Line("日期/时间(DATE/TIME):"),
            Line(when.strftime("%Y/%m/%d %H:%M:%S")),
            Line("金额(AMOUNT):"),
            Line(f"RMB {charge.amount}", size=1.3),
            rule,
            Line("备注(REFERENCE):"),
            Line("持卡人签名(CARDHOLDER SIGNATURE):"),
            Line(""),
            Line("本人确认以上交易,同意将其计入本卡账户", size=0.8),
        ]
    if layout == 1:  # Chinese labels, two fields on a row
        return [
            Line(f"{charge.acquirer} 签购单", size=1.2, centre=True),
            Line("持卡人存根", centre=True),
            rule,
            Line(f"商户名:{charge.merchant}", size=0.95),
            Line(f"商户号:{charge.merchant_id}"),
            Line(f"终端号:{charge.terminal_id}", "操作员:01"),
            Line(f"卡号:{card}", secret=secret),
            Line(f"卡类别:{charge.card_type}", f"发卡行:{charge.bank}"),
            Line(f"交易类型:{charge.transaction_type}", size=1.2),
            Line(f"批次号:{charge.batch}", f"凭证号:{charge.voucher}"),
            Line(f"参考号:{charge.reference}"),
            Line(f"授权码:{charge.auth}"),
            Line(f"日期:{when:%Y-%m-%d}", f"时间:{when:%H:%M:%S}"),
            Line(f"金额:¥{charge.amount}", size=1.3),
            rule,
            Line("签名:"),
        ]
    if layout == 2:  # English first, value right-aligned
        return [
            Line(f"{charge.acquirer}", size=1.2, centre=True),
            Line("银联POS签购单", centre=True),
            rule,
            Line("MERCHANT NAME 商户名称"),
            Line(charge.merchant),
            Line("MERCHANT NO. 商户编号", charge.merchant_id),
            Line("TERMINAL NO. 终端编号", charge.terminal_id),
            Line("CARD NO. 卡号"),
            Line(card, secret=secret),
            Line("TXN TYPE 交易类型", f"{charge.transaction_english} {charge.transaction_type}"),
            Line("BATCH NO. 批次号", charge.batch),
            Line("TRACE NO. 流水号", charge.voucher),
            Line("REF NO. 参考号", charge.reference),
            Line("AUTH NO. 授权码", charge.auth),
            Line("DATE/TIME 日期时间", f"{when:%Y.%m.%d %H:%M}"),
            Line("AMOUNT 金额", f"RMB {charge.amount}", size=1.2),
            rule,
            Line("CARDHOLDER SIGNATURE 持卡人签名"),
        ]
    return [  # a bank acquirer's slip: value right-aligned, 检索参考号, card type after the number
        Line(
            f"中国{charge.acquirer[-4:]}" if charge.acquirer.startswith("中国") else charge.acquirer,
            centre=True,
        ),
        Line("签 购 单", size=1.3, centre=True),
        Line("商户名称", charge.merchant, size=0.9),
        Line("商户代码", charge.merchant_id),
        Line("终端号码", charge.terminal_id),
        Line(f"卡号 {card}", secret=secret),
        Line(f"{charge.bank}{charge.card_type}"),
        Line("交易类别", charge.transaction_type),
        Line("批次号", charge.batch),
        Line("凭证号", charge.voucher),
        Line("检索参考号", charge.reference),
        Line("交易日期", f"{when:%Y/%m/%d}"),
        Line("交易时间", f"{when:%H:%M:%S}"),
        Line("交易金额", f"{charge.amount}元", size=1.2),
        rule,
        Line("持卡人签名"),
    ]


# --- SMS and app screenshots -----------------------------------------------------------------


def sms_text(charge: Charge, rng: random.Random) -> tuple[str, bool]:
    """The message, and whether it names the time with seconds (none do)."""
    when, tail = charge.when, charge.card_number[-4:]
    balance = f"{rng.uniform(100, 90000):,.2f}"
    kind = {"消费": "消费", "撤销": "撤销", "退货": "退货", "预授权": "预授权"}[charge.transaction_type]
    templates = [
        f"【{charge.bank}】您尾号{tail}卡{when.month}月{when.day}日{when:%H:%M}在{charge.merchant}"
        f"{kind}{charge.amount}元，余额{balance}元。",
        f"您尾号{tail}的{'信用卡' if charge.card_type == '贷记卡' else '储蓄卡'}{when.month}月{when.day}日"
        f"{when.hour}时{when.minute:02d}分在{charge.merchant}{kind}支出人民币{charge.amount}元,"
        f"活期余额{balance}元。[{charge.bank}]",
        f"您账户{tail}于{when.month}月{when.day}日{when:%H:%M}在【{charge.merchant}】POS{kind}"
        f"人民币{charge.amount}元。[{charge.bank}]",
    ]
    return rng.choice(templates), False


def wrap(text: str, per_line: int) -> list[str]:
    return [text[start : start + per_line] for start in range(0, len(text), per_line)]


def sms_lines(charge: Charge, rng: random.Random) -> list[Line]:
    text, _ = sms_text(charge, rng)
    header = f"{charge.when.month}月{charge.when.day}日 {charge.when:%H:%M}"
    return [
        Line("95588" if "工商" in charge.bank else "106980095533", size=1.1, centre=True),
        Line("短信/彩信", size=0.8, centre=True),
        Line(header, size=0.8, centre=True),
        *(Line(part) for part in wrap(text, rng.randint(15, 19))),
        Line(""),
    ]


def app_lines(charge: Charge, rng: random.Random) -> list[Line]:
    tail = charge.card_number[-4:]
    sign = "+" if charge.transaction_type in ("撤销", "退货") else "-"
    card = rng.choice(
        [f"{charge.bank}{charge.card_type[:2]}卡({tail})", f"**** **** **** {tail}", f"尾号{tail}"]
    )
    lines = [
        Line("<  交易详情", size=1.1),
        Line(charge.merchant, size=1.0, centre=True),
        Line(f"{sign}{charge.amount}", size=2.0, centre=True),
        Line("交易成功", size=0.9, centre=True),
        Line("交易类型", charge.transaction_type),
        Line("交易时间", f"{charge.when:%Y-%m-%d %H:%M:%S}"),
        Line("交易卡号", card),
        Line("商户名称", ""),
        Line(charge.merchant, size=0.9),
    ]
    if rng.random() < 0.5:
        lines.append(Line("参考号", charge.reference))
    lines.append(Line("对此交易有疑问?", size=0.8, centre=True))
    return lines


def card_lines(charge: Charge) -> list[Line]:
    grouped = " ".join(
        charge.card_number[start : start + 4] for start in range(0, len(charge.card_number), 4)
    )
    expiry = f"{charge.when.month:02d}/{(charge.when.year + 4) % 100:02d}"
    return [
        Line(charge.bank, size=1.3),
        Line("银联 UnionPay", size=0.8),
        Line(""),
        Line(grouped, size=1.5, secret=grouped),
        Line(f"VALID THRU {expiry}", size=0.8, secret=expiry),
        Line("ZHANG SAN", size=0.9),
    ]


# --- photographing ---------------------------------------------------------------------------


def photograph(
    drawn: Drawn, rng: random.Random, screenshot: bool
) -> tuple[np.ndarray, list[tuple[str, Quad]]]:
    """The drawing as a phone photo (or a screenshot), and its secret boxes in the photo."""
    paper = np.asarray(drawn.image.convert("RGB"))[:, :, ::-1].copy()
    height, width = paper.shape[:2]
    if not screenshot:
        noise = rng.uniform(2, 14)
        speckle = np.random.default_rng(rng.randrange(1 << 30)).normal(0, noise, paper.shape)
        paper = np.clip(paper.astype(np.float32) + speckle, 0, 255).astype(np.uint8)
        if rng.random() < 0.4:  # thermal fade: a band of lighter ink
            band = np.linspace(1.0, rng.uniform(0.3, 0.8), height)[:, None, None]
            paper = (255 - (255 - paper.astype(np.float32)) * band).astype(np.uint8)
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    if screenshot and rng.random() < 0.7:
        matrix = np.eye(3, dtype=np.float32)
        canvas_size = (width, height)
    else:
        pad = 0.12 if screenshot else rng.uniform(0.1, 0.3)
        canvas_size = (int(width * (1 + 2 * pad)), int(height * (1 + 2 * pad)))
        angle = np.deg2rad(rng.uniform(-8, 8) if not screenshot else rng.uniform(-3, 3))
        centre = np.float32([canvas_size[0] / 2, canvas_size[1] / 2])
        rotation = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        placed = (corners - [width / 2, height / 2]) @ rotation.T + centre
        jitter = (
            np.float32([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(4)])
            * 0.06
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
        light = np.linspace(rng.uniform(0.65, 1.0), rng.uniform(0.9, 1.1), canvas_size[0])[None, :, None]
        warped = np.clip(warped.astype(np.float32) * light, 0, 255).astype(np.uint8)
        sigma = rng.uniform(0.0, 1.6)
        if sigma > 0.3:
            warped = cv2.GaussianBlur(warped, (0, 0), sigma)
    quads = [
        (tag, cv2.perspectiveTransform(np.float32(quad)[None], matrix)[0].tolist())
        for tag, quad in drawn.secret_quads
    ]
    return warped, quads


def bbox(quad: Quad) -> list[int]:
    xs, ys = [x for x, _ in quad], [y for _, y in quad]
    return [int(min(xs)), int(min(ys)), int(np.ceil(max(xs))), int(np.ceil(max(ys)))]


def make_image(
    index: int, rng: random.Random, fonts: list[tuple[str, int]], charge: Charge | None = None
) -> tuple[bytes, dict]:
    """An image and its truth; given a ``charge`` (a duplicate's), always a slip of it."""
    kind = (
        "slip" if charge else rng.choices(["slip", "sms", "app", "card_photo"], weights=[55, 18, 17, 10])[0]
    )
    charge = charge or random_charge(rng)
    font = rng.choice(fonts)
    full_number = kind == "card_photo" or (kind == "slip" and rng.random() < 0.12)
    if kind == "slip":
        layout = rng.randrange(4)
        width, size = rng.choice([(620, 22), (760, 26), (900, 30)])
        paper = tuple(rng.randint(232, 255) for _ in range(3))
        drawn = draw_lines(slip_lines(charge, layout, full_number, rng), width, font, size, rng, paper)
    elif kind == "sms":
        drawn = draw_lines(sms_lines(charge, rng), 1080, font, rng.randint(40, 48), rng, (245, 245, 245))
    elif kind == "app":
        drawn = draw_lines(app_lines(charge, rng), 1080, font, rng.randint(38, 46), rng, (255, 255, 255))
    else:
        drawn = draw_lines(
            card_lines(charge), 856, font, 44, rng, tuple(rng.randint(120, 230) for _ in range(3))
        )
    photo, quads = photograph(drawn, rng, screenshot=kind in ("sms", "app"))
    ok, encoded = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(60, 92)])
    assert ok
    entry: dict = {
        "file": f"{index:04d}.jpg",
        "width": photo.shape[1],
        "height": photo.shape[0],
        "kind": kind,
        "last4": charge.card_number[-4:],
        "full_card_number": None,
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
        return encoded.tobytes(), entry
    entry |= {
        "amount": charge.amount,
        "date": charge.when.date().isoformat(),
        "time": charge.when.strftime("%H:%M"),
        "transaction_type": charge.transaction_type,
        "merchant_name": charge.merchant,
    }
    if kind == "slip":
        seconds = layout != 2
        entry |= {
            "time": charge.when.strftime("%H:%M:%S" if seconds else "%H:%M"),
            "ref_no": charge.reference,
            "voucher_no": charge.voucher,
            "batch_no": charge.batch,
            "merchant_id": charge.merchant_id,
            "terminal_id": charge.terminal_id,
            "card_type": None if layout == 2 else charge.card_type,  # that layout prints none
        }
    elif kind == "app":
        entry["time"] = charge.when.strftime("%H:%M:%S")
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
        if entry["kind"] == "slip" and rng.random() < 0.08 and index < count:
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
    return fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=Path("var/receipts/dev"))
    parser.add_argument("--count", type=int, default=240)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    entries = generate(args.folder, args.count, args.seed)
    kinds = {kind: sum(e["kind"] == kind for e in entries) for kind in ("slip", "sms", "app", "card_photo")}
    print(f"{len(entries)} images in {args.folder}: {kinds}")


if __name__ == "__main__":
    main()
