"""A picture a user sent, from bytes in memory to a stored, cleaned receipt and its reading.

Both channels that take pictures (the widget's upload, WeChat's image message) call
``take_in`` and then run the user's turn with ``RECEIPT_SENT``, the message that tells the
bot a picture arrived: the action that answers it (``actions/receipts.py``) finds the
conversation's latest unconfirmed picture in the store, so nothing about the picture
travels through the tracker but that one message.

The bytes the user sent are never written anywhere: OCR reads them in a worker process,
``clean_image`` covers the full card numbers it found and drops every piece of metadata,
and only that cleaned picture is stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.domain.clock import today
from bot.domain.receipts import read_receipt, secret_lines
from bot.infra import ocr
from bot.infra.receipt_images import UnreadableImage, clean_image
from bot.storage.cases import SQLCaseStore
from bot.storage.receipts import StoredReceipt, TooManyReceipts

# The user's turn for a picture: an intent no words express, so it is sent by the channel.
RECEIPT_SENT = "/send_receipt"

# A phone photo is 2-8 MB as JPEG; the widget shrinks it before sending, WeChat sends it compressed.
MAX_IMAGE_BYTES = 10 * 1024 * 1024

__all__ = ["MAX_IMAGE_BYTES", "RECEIPT_SENT", "Refusal", "take_in"]


@dataclass(frozen=True)
class Refusal:
    """Why a picture was not kept, and the response (domain.yml) that tells the user."""

    reason: str
    response: str


async def take_in(store: SQLCaseStore, sender_id: str, channel: str, data: bytes) -> StoredReceipt | Refusal:
    """Read, clean and keep one picture under the conversation (and its open case)."""
    if len(data) > MAX_IMAGE_BYTES:
        return Refusal("too_large", "utter_receipt_too_large")
    # Before the OCR's second of work, not only when storing (which checks again, for a race).
    if await asyncio.to_thread(store.receipts.full, sender_id):
        return Refusal("too_many", "utter_receipt_too_many")
    try:
        lines = await ocr.read_image(data)
        cleaned = await asyncio.to_thread(clean_image, data, lines)
    except UnreadableImage:
        return Refusal("not_a_picture", "utter_receipt_not_a_picture")
    except ocr.OcrUnavailable:
        return Refusal("no_ocr", "utter_receipt_no_ocr")
    reading = read_receipt(lines, today())
    case = await asyncio.to_thread(store.current_case, sender_id)
    try:
        return await asyncio.to_thread(
            store.receipts.add,
            sender_id,
            channel,
            reading,
            cleaned,
            numbers_covered=len(secret_lines(lines)),
            case_id=case.case_id if case is not None else None,
        )
    except TooManyReceipts:
        return Refusal("too_many", "utter_receipt_too_many")
