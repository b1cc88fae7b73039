"""Receipt photos made safe to store (bot.infra.receipt_images): numbers covered, metadata gone.

The OCR lines are written by hand at the place the number is drawn, so these tests need no OCR
engine; ``test_real_ocr_covers_a_drawn_card_number`` runs the engine when it is installed.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from bot.domain.receipts import OcrLine
from bot.infra import ocr
from bot.infra.receipt_images import UnreadableImage, clean_image, decode_image

NUMBER_BOX = ((40.0, 40.0), (360.0, 40.0), (360.0, 70.0), (40.0, 70.0))
LABEL_BOX = ((40.0, 120.0), (300.0, 120.0), (300.0, 150.0), (40.0, 150.0))
GPS_IFD = 0x8825


def photo(exif: Image.Exif | None = None, size: tuple[int, int] = (400, 200)) -> bytes:
    image = Image.new("RGB", size, (250, 250, 250))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=26)
    draw.text((45, 40), "6222 0212 3456 7894", font=font, fill=(20, 20, 20))
    draw.text((45, 120), "REF 123456789012", font=font, fill=(20, 20, 20))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif if exif is not None else Image.Exif())
    return out.getvalue()


LINES = [OcrLine("6222 0212 3456 7894", NUMBER_BOX, 0.99), OcrLine("参考号 123456789012", LABEL_BOX, 0.99)]


def pixels(data: bytes, box: tuple[tuple[float, float], ...]) -> np.ndarray:
    image = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
    (left, top), (right, bottom) = box[0], box[2]
    return image[int(top) : int(bottom), int(left) : int(right)]


def test_a_full_card_number_is_covered_and_other_text_is_not() -> None:
    original = photo()
    stored = clean_image(original, LINES)
    assert pixels(original, NUMBER_BOX).min() < 60  # the number was there
    assert pixels(stored, NUMBER_BOX).max() < 30  # and is painted over, edge to edge
    assert pixels(stored, LABEL_BOX).min() < 60 and pixels(stored, LABEL_BOX).max() > 200  # still readable


def test_the_band_under_a_card_number_alone_in_its_box_is_covered_too() -> None:
    # A card's expiry is small type under its number; OCR often misses it.
    stored = clean_image(photo(), [OcrLine("6222 0212 3456 7894", NUMBER_BOX, 0.99)])
    under = ((40.0, 75.0), (360.0, 75.0), (360.0, 100.0), (40.0, 100.0))
    assert pixels(stored, under).max() < 60


def test_nothing_is_covered_without_a_secret() -> None:
    stored = clean_image(photo(), LINES[1:])
    assert pixels(stored, NUMBER_BOX).max() > 200


def test_exif_gps_and_every_other_tag_are_gone() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)})
    original = photo(exif)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the fixture does carry GPS
    stored = clean_image(original, LINES)
    reopened = Image.open(io.BytesIO(stored))
    assert not reopened.getexif() and "exif" not in reopened.info
    assert b"Exif" not in stored and b"PhoneMaker" not in stored


def test_an_exif_rotation_is_applied_before_the_tags_go() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: turn 90° clockwise to view
    stored = clean_image(photo(exif), [])
    assert Image.open(io.BytesIO(stored)).size == (200, 400)


def test_a_png_is_read_and_stored_as_a_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGB", (50, 30), (1, 2, 3)).save(out, "PNG")
    assert Image.open(io.BytesIO(clean_image(out.getvalue(), []))).format == "JPEG"


@pytest.mark.parametrize("data", [b"not a picture", b"GIF89a" + b"\0" * 20])
def test_other_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(UnreadableImage):
        decode_image(data)


def test_decoding_for_ocr_scales_down_and_says_by_how_much() -> None:
    image, scale = decode_image(photo(size=(3200, 1600)), max_side=1600)
    assert image.size == (1600, 800) and scale == pytest.approx(0.5)


@pytest.mark.skipif(not ocr.available(), reason="rapidocr-onnxruntime is not installed")
async def test_real_ocr_covers_a_drawn_card_number() -> None:
    original = photo(size=(400, 200))
    try:
        lines = await ocr.read_image(original)
    finally:
        ocr.shutdown()
    assert any("3456" in line.text for line in lines)
    ink = pixels(original, NUMBER_BOX) < 128
    assert ink.sum() > 100
    assert (pixels(clean_image(original, lines), NUMBER_BOX)[ink] < 60).all()  # every stroke painted over


async def test_without_the_ocr_package_reading_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "available", lambda: False)
    with pytest.raises(ocr.OcrUnavailable):
        await ocr.read_image(photo())
