"""A receipt photo made safe to store: decoded, card numbers covered, every piece of metadata gone.

The bytes a user sent are only ever held in memory. ``clean_image`` decodes them (JPEG or PNG),
turns the picture upright as its EXIF orientation says, paints over the OCR boxes that hold a
full card number or an expiry (``bot.domain.receipts.secret_lines``, which asks
``bot.domain.masking``: the rules that mask typed text decide), and encodes a new JPEG from the
pixels alone, so EXIF (GPS position, device, time), XMP, ICC and comments are all left behind.

The OCR boxes must come from the same decoded picture: ``bot.infra.ocr`` decodes with
``decode_image`` too.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageOps

from bot.domain.receipts import OcrLine, secret_lines

# A phone camera gives 12-50 MP; anything far beyond is no photo (or a decompression bomb).
MAX_PIXELS = 60_000_000
STORED_QUALITY = 85
COVER = (0, 0, 0)
# A box is grown by this share of its height on every side: OCR boxes hug the glyphs, and a
# digit's edge left showing can still be read.
COVER_MARGIN = 0.25


class UnreadableImage(ValueError):
    """The bytes are not a JPEG or PNG picture of a sensible size."""


def decode_image(data: bytes, max_side: int | None = None) -> tuple[Image.Image, float]:
    """The picture upright in RGB, at most ``max_side`` pixels on its long side, and the scale used.

    A JPEG is decoded straight at a smaller size when that is enough (libjpeg's DCT scaling),
    which makes a 12 MP photo several times cheaper to open.
    """
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in ("JPEG", "PNG"):
            raise UnreadableImage(f"not a JPEG or PNG picture: {image.format}")
        if image.width * image.height > MAX_PIXELS:
            raise UnreadableImage(f"{image.width}x{image.height} is larger than a phone photo")
        full_width = image.height if _turned(image) else image.width
        if max_side is not None:
            image.draft("RGB", (max_side, max_side))
        upright = ImageOps.exif_transpose(image.convert("RGB"))
    except (OSError, Image.DecompressionBombError) as error:
        raise UnreadableImage(str(error)) from error
    if max_side is not None and max(upright.size) > max_side:
        upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return upright, upright.width / full_width


def _turned(image: Image.Image) -> bool:
    """The EXIF orientation turns the picture a quarter: its upright width is its stored height."""
    return image.getexif().get(ImageOps.ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)


def clean_image(data: bytes, lines: Sequence[OcrLine]) -> bytes:
    """A JPEG of the picture with every secret's OCR box covered and no metadata at all.

    ``lines`` are the OCR lines read from these bytes, in the full picture's coordinates.
    """
    image, _ = decode_image(data)
    draw = ImageDraw.Draw(image)
    for index in secret_lines(lines):
        draw.polygon(_grown(lines[index].box), fill=COVER)
        if _EMBOSSED.fullmatch(lines[index].text):
            draw.polygon(_grown(_below(lines[index].box)), fill=COVER)
    # A new image from the pixels alone: nothing of the original's info dict can travel along.
    bare = Image.frombytes("RGB", image.size, image.tobytes())
    out = io.BytesIO()
    bare.save(out, "JPEG", quality=STORED_QUALITY)
    return out.getvalue()


# A number standing alone in its box, as a card embosses it: the expiry is printed just under it,
# in small type the OCR often misses, so the band under the number is covered too.
_EMBOSSED = re.compile(r"[\d ]{16,23}")
BELOW_SHARE = 1.3


def _below(box: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The band under a box, as tall as ``BELOW_SHARE`` of its height, following its slant."""
    (x0, y0), _, (x2, y2), (x3, y3) = box
    dx, dy = (x3 - x0) * BELOW_SHARE, (y3 - y0) * BELOW_SHARE
    return [(x3, y3), (x2, y2), (x2 + dx, y2 + dy), (x3 + dx, y3 + dy)]


def _grown(box: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    centre_x = sum(x for x, _ in box) / 4
    centre_y = sum(y for _, y in box) / 4
    height = max(y for _, y in box) - min(y for _, y in box)
    width = max(x for x, _ in box) - min(x for x, _ in box)
    grow_x = 1 + 2 * COVER_MARGIN * height / max(width, 1)
    grow_y = 1 + 2 * COVER_MARGIN
    return [(centre_x + (x - centre_x) * grow_x, centre_y + (y - centre_y) * grow_y) for x, y in box]
