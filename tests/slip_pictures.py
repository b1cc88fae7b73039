"""A clean POS slip drawn for the channel tests (widget, WeChat, REST): a picture a phone
might send, with the facts it shows, so a test can check them in the case afterwards.

The reader's accuracy is measured elsewhere (``bench/receipts.py`` on generated sets); these
pictures are plain on purpose, so that a failure here is the channel's, not the OCR's.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


@dataclass(frozen=True)
class Slip:
    merchant: str = "永辉超市(望京店)"
    amount: str = "88.00"
    day: str = "2026/11/24"
    time: str = "19:42:10"
    card: str = "622202******4321"
    ref_no: str = "332415678901"
    voucher_no: str = "000123"

    @property
    def last4(self) -> str:
        return self.card[-4:]


def slip_jpeg(slip: Slip = Slip(), *, exif_gps: bool = False) -> bytes:
    """The slip as a JPEG; with ``exif_gps`` it carries a GPS position, as a phone's photo does."""
    lines = [
        "银联POS签购单",
        "持卡人存根 CARDHOLDER COPY",
        f"商户名称(MERCHANT NAME): {slip.merchant}",
        "商户编号(MERCHANT NO): 102110054119876",
        "终端编号(TERMINAL NO): 10098765",
        f"卡号(CARD NO): {slip.card}",
        "交易类型(TRANS TYPE): 消费/SALE",
        "批次号(BATCH NO): 000012",
        f"凭证号(VOUCHER NO): {slip.voucher_no}",
        f"参考号(REFER NO): {slip.ref_no}",
        f"日期/时间(DATE/TIME): {slip.day} {slip.time}",
        f"金额(AMOUNT): RMB {slip.amount}",
        "本人确认以上交易，同意将其记入本卡账户",
    ]
    font = ImageFont.truetype(FONT, 30)
    image = Image.new("RGB", (1000, 120 + 60 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((50, 60 + 60 * number), line, fill="black", font=font)
    out = io.BytesIO()
    exif = Image.Exif()
    if exif_gps:
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x8825] = {1: "N", 2: (39.0, 59.0, 30.0), 3: "E", 4: (116.0, 28.0, 10.0)}  # GPSInfo
    image.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()
