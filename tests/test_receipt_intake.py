"""A picture from a channel to a stored receipt: read, card numbers covered, metadata gone, limits kept."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal

import pytest
from PIL import Image
from slip_pictures import Slip, slip_jpeg

from bot.domain.cases import Facts
from bot.domain.receipts import read_receipt
from bot.infra import ocr, receipt_intake
from bot.infra.receipt_intake import Refusal, take_in
from bot.storage import open_store
from bot.storage.cases import SQLCaseStore
from bot.storage.receipts import MAX_RECEIPTS_PER_CONVERSATION, StoredReceipt

FULL_CARD = "6222021234567890128"
SENDER = "web:intake-test"

pytestmark = pytest.mark.skipif(not ocr.available(), reason="rapidocr-onnxruntime is not installed")


@pytest.fixture(scope="module", autouse=True)
def one_ocr_worker_for_the_module() -> Iterator[None]:
    yield
    ocr.shutdown()


@pytest.fixture
def store(tmp_path) -> SQLCaseStore:
    return open_store(f"sqlite:///{tmp_path / 'cases.db'}")


async def test_a_full_card_number_is_unreadable_in_the_stored_picture(store: SQLCaseStore) -> None:
    taken = await take_in(store, SENDER, "socketio", slip_jpeg(Slip(card=FULL_CARD), exif_gps=True))
    assert isinstance(taken, StoredReceipt)
    assert taken.reading.card_last4 == "0128" and taken.numbers_covered >= 1
    stored = store.receipts.image(taken.receipt_id)
    assert stored is not None
    picture = Image.open(io.BytesIO(stored))
    assert picture.format == "JPEG" and not picture.getexif()
    # Read again, the stored picture shows every other line but not the number.
    texts = [line.text.replace(" ", "") for line in ocr.read_lines(stored)]
    assert any("参考号" in text for text in texts)
    assert not any("1234567890" in text or FULL_CARD[:12] in text for text in texts)


async def test_a_picture_sent_while_a_case_is_open_belongs_to_it(store: SQLCaseStore) -> None:
    case = store.open_case(SENDER, "socketio", "misswipe", Facts(bank="建设银行"))
    taken = await take_in(store, SENDER, "socketio", slip_jpeg(Slip()))
    assert isinstance(taken, StoredReceipt) and taken.case_id == case.case_id
    assert taken.reading.amount == Decimal("88.00")
    assert [event["event"] for event in store.events(case.case_id)][-1] == "receipt_added"


async def test_bytes_that_are_no_picture_and_pictures_past_the_limits_are_refused(
    store: SQLCaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await take_in(store, SENDER, "socketio", b"GIF89a...") == Refusal(
        "not_a_picture", "utter_receipt_not_a_picture"
    )
    monkeypatch.setattr(receipt_intake, "MAX_IMAGE_BYTES", 100)
    too_large = await take_in(store, SENDER, "socketio", slip_jpeg(Slip()))
    assert isinstance(too_large, Refusal) and too_large.reason == "too_large"
    assert store.receipts.of_conversation(SENDER) == []


async def test_a_conversation_may_send_only_so_many_pictures(store: SQLCaseStore) -> None:
    picture = slip_jpeg(Slip())
    lines = ocr.read_lines(picture)
    for _ in range(MAX_RECEIPTS_PER_CONVERSATION):
        store.receipts.add(SENDER, "socketio", read_receipt(lines), picture, numbers_covered=0)
    refused = await take_in(store, SENDER, "socketio", picture)
    assert isinstance(refused, Refusal) and refused.response == "utter_receipt_too_many"
    assert len(store.receipts.of_conversation(SENDER)) == MAX_RECEIPTS_PER_CONVERSATION
    other = await take_in(store, "web:someone-else", "socketio", picture)
    assert isinstance(other, StoredReceipt)
