"""The held-out receipt images (tests/receipts/heldout/) are well-formed.

This checks the set itself, not any reading of it: 50 images, each listed in
truth.json, each opens at the size recorded, the normalised fields have the
shapes the extraction will be scored against, every full card number passes
the Luhn check, its boxes lie inside the image, and the duplicate pair is a
real duplicate. The Luhn check is written here again on purpose: reusing the
generator's would let a bug in it pass its own test.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from PIL import Image

HELDOUT = Path(__file__).parent / "receipts" / "heldout"
KINDS = {"slip", "sms", "app", "card_photo"}
SHAPES = {
    "amount": r"\d+\.\d{2}",
    "date": r"2026-\d{2}-\d{2}",
    "time": r"\d{2}:\d{2}(:\d{2})?",
    "last4": r"\d{4}",
    "ref_no": r"\d{12}",
    "voucher_no": r"\d{6}",
    "batch_no": r"\d{6}",
    "merchant_id": r"\d{15}",
    "terminal_id": r"\d{8}",
}
TRANSACTION_TYPES = {"消费", "撤销", "退货", "预授权"}
CARD_TYPES = {"借记卡", "贷记卡"}


@cache
def truth() -> dict:
    return json.loads((HELDOUT / "truth.json").read_text(encoding="utf-8"))


def images() -> list[dict]:
    return truth()["images"]


def passes_luhn(number: str) -> bool:
    doubled = [int(d) for d in number[-2::-2]]
    kept = [int(d) for d in number[::-2]]
    return (sum(kept) + sum(sum(divmod(2 * d, 10)) for d in doubled)) % 10 == 0


def test_luhn_check_itself() -> None:
    # Published test numbers of known validity (16 and 11 digits, so both parities are exercised).
    assert passes_luhn("4111111111111111") and passes_luhn("6011111111111117")
    assert not passes_luhn("4111111111111112")
    assert passes_luhn("79927398713") and not passes_luhn("79927398710")


def test_fifty_images_all_listed() -> None:
    on_disk = sorted(path.name for path in HELDOUT.glob("*.jpg"))
    listed = sorted(entry["file"] for entry in images())
    assert len(listed) == 50
    assert len(set(listed)) == 50
    assert on_disk == listed


@pytest.mark.parametrize("entry", images(), ids=lambda entry: entry["file"])
def test_image_opens_at_recorded_size(entry: dict) -> None:
    with Image.open(HELDOUT / entry["file"]) as image:
        assert image.format == "JPEG"
        assert image.size == (entry["width"], entry["height"])
        image.load()


@pytest.mark.parametrize("entry", images(), ids=lambda entry: entry["file"])
def test_fields_are_normalised(entry: dict) -> None:
    assert entry["kind"] in KINDS
    for name, shape in SHAPES.items():
        if entry.get(name) is not None:
            assert re.fullmatch(shape, entry[name]), (name, entry[name])
    assert re.fullmatch(SHAPES["last4"], entry["last4"])
    if entry["kind"] != "card_photo":
        for name in ("amount", "date", "time"):
            assert entry[name] is not None, name
        assert entry["transaction_type"] in TRANSACTION_TYPES
        assert entry["date"] <= truth()["today"]
    if entry.get("card_type") is not None:
        assert entry["card_type"] in CARD_TYPES
    if entry["kind"] == "slip":
        for name in ("ref_no", "voucher_no", "batch_no", "merchant_id", "terminal_id", "merchant_name"):
            assert entry[name], name


@pytest.mark.parametrize(
    "entry", [e for e in images() if e["full_card_number"]], ids=lambda entry: entry["file"]
)
def test_full_card_numbers_pass_luhn_and_their_boxes_lie_inside(entry: dict) -> None:
    number = entry["full_card_number"]["number"]
    assert re.fullmatch(r"\d{16,19}", number)
    assert passes_luhn(number)
    assert number.endswith(entry["last4"])
    occurrences = entry["full_card_number"]["occurrences"]
    assert occurrences
    secrets = [*occurrences, *(entry.get("expiry") or {}).get("occurrences", [])]
    for occurrence in secrets:
        left, top, right, bottom = occurrence["bbox"]
        assert 0 <= left < right <= entry["width"]
        assert 0 <= top < bottom <= entry["height"]
        assert len(occurrence["quad"]) == 4
        for x, y in occurrence["quad"]:
            assert left <= x <= right and top <= y <= bottom


def test_the_set_covers_every_kind_and_full_numbers_on_slips_and_cards() -> None:
    kinds = {entry["kind"] for entry in images()}
    assert kinds == KINDS
    with_number = {entry["kind"] for entry in images() if entry["full_card_number"]}
    assert with_number == {"slip", "card_photo"}
    assert all(entry["full_card_number"] for entry in images() if entry["kind"] == "card_photo")
    assert not any(entry["full_card_number"] for entry in images() if entry["kind"] in ("sms", "app"))


def test_duplicate_pair_is_the_same_charge_on_two_slips() -> None:
    by_file = {entry["file"]: entry for entry in images()}
    pairs = [(entry, by_file[entry["duplicate_of"]]) for entry in images() if entry["duplicate_of"]]
    assert len(pairs) == 1
    second, first = pairs[0]
    assert first["kind"] == second["kind"] == "slip"
    for name in ("amount", "date", "time", "merchant_id", "terminal_id", "last4", "batch_no"):
        assert first[name] == second[name], name
    assert first["voucher_no"] != second["voucher_no"]
    assert first["ref_no"] != second["ref_no"]
