"""How well receipt photos are read: per-field accuracy, seconds per image, card numbers covered.

    PYTHONPATH=$PWD .venv/bin/python -m bench.receipts            # the dev set
    PYTHONPATH=$PWD .venv/bin/python -m bench.receipts --heldout  # the 50 held-out images

The dev set is made by ``tests/receipts/generator.py`` into var/receipts/dev (tune on it); the
held-out set (tests/receipts/heldout/) comes from a separate generator and is only scored: for it
the report holds aggregates only (no misses, readings or OCR lines) and is kept, as bench/run.py
keeps its runs, in bench/results/<timestamp>-receipts/summary.json (``make bench-receipts``).
Each image is read as the bot reads it: OCR in this process on one thread (what one pool
worker does), then ``read_receipt``, then ``clean_image``; a full card number counts as covered
when at least 98 % of each of its ground-truth boxes is painted over in the stored image. The
time to read one 12 MP photo is measured on a slip of the set blown up to 4000 x 3000.
``--save-ocr``/``--ocr`` keep and reuse the OCR lines, to try extraction changes without the OCR.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import time
import unicodedata
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bot.domain.receipts import OcrLine, ReceiptReading, duplicate_of, read_receipt
from bot.infra import ocr
from bot.infra.receipt_images import clean_image

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "var" / "receipts" / "dev"
HELDOUT = ROOT / "tests" / "receipts" / "heldout"
RESULTS = ROOT / "bench" / "results"
FIELDS = (
    "amount", "date", "time", "last4", "ref_no", "voucher_no", "batch_no", "merchant_id",
    "terminal_id", "merchant_name", "transaction_type", "card_type",
)  # fmt: skip
CARD_TYPES = {"借记卡": "debit", "贷记卡": "credit"}
COVERED_SHARE = 0.98
DARK = 60  # a JPEG's black cover comes back as values a little above 0


def read_value(reading: ReceiptReading, name: str) -> str | None:
    value = reading.card_last4 if name == "last4" else getattr(reading, name)
    return None if value is None else str(value)


def same(name: str, truth: str, read: str | None) -> bool:
    if read is None:
        return False
    if name == "card_type":
        return CARD_TYPES.get(truth, truth) == read
    if name == "time":
        return read[: len(truth)] == truth  # a slip printing seconds is right if the minutes are
    if name == "merchant_name":
        return unicodedata.normalize("NFKC", truth).replace(" ", "") == read.replace(" ", "")
    return truth == read


def covered(stored: bytes, quad: list[list[float]]) -> float:
    """The share of a ground-truth box painted over in the stored image."""
    image = Image.open(io.BytesIO(stored)).convert("L")
    mask = Image.new("1", image.size, 0)
    ImageDraw.Draw(mask).polygon([tuple(point) for point in quad], fill=1)
    inside = np.asarray(mask, dtype=bool)
    pixels = np.asarray(image)[inside]
    return float((pixels < DARK).mean()) if pixels.size else 0.0


def secret_quads(entry: dict) -> list[list[list[float]]]:
    quads = [o["quad"] for o in (entry.get("full_card_number") or {}).get("occurrences", [])]
    return quads + [o["quad"] for o in (entry.get("expiry") or {}).get("occurrences", [])]


def twelve_megapixel(data: bytes) -> bytes:
    """The picture on a 4000 x 3000 phone-camera frame, as a phone sends it."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    canvas = Image.new("RGB", (4000, 3000), (90, 90, 90))
    scale = min(3800 / image.width, 2800 / image.height)
    resized = image.resize((int(image.width * scale), int(image.height * scale)), Image.Resampling.BICUBIC)
    canvas.paste(resized, ((4000 - resized.width) // 2, (3000 - resized.height) // 2))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=92)
    return out.getvalue()


def _lines(stored: list) -> list[OcrLine]:
    return [OcrLine(text, tuple(map(tuple, box)), score) for text, box, score in stored]  # type: ignore[arg-type]


def evaluate(folder: Path, cached: dict | None = None, per_image: bool = True) -> tuple[dict, dict]:
    """The report, and every image's OCR lines (to save with ``--save-ocr``).

    Without ``per_image`` (the held-out set) the report holds aggregates only: no misses, no
    readings, and no OCR lines are returned, so nothing can be tuned on a held-out image.
    """
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    today = date.fromisoformat(truth["today"])
    right = dict.fromkeys(FIELDS, 0)
    asked = dict.fromkeys(FIELDS, 0)
    seconds, readings, lines_of, misses = [], {}, {}, []
    with_number = numbers_covered = 0
    for entry in truth["images"]:
        data = (folder / entry["file"]).read_bytes()
        started = time.perf_counter()
        lines = _lines(cached[entry["file"]]) if cached else ocr.read_lines(data)
        reading = read_receipt(lines, today)
        stored = clean_image(data, lines)
        seconds.append(time.perf_counter() - started)
        lines_of[entry["file"]] = [(line.text, line.box, line.score) for line in lines]
        readings[entry["file"]] = reading
        for name in FIELDS:
            if entry.get(name) is not None:
                asked[name] += 1
                ok = same(name, entry[name], read_value(reading, name))
                right[name] += ok
                if not ok:
                    misses.append((entry["file"], name, entry[name], read_value(reading, name)))
        quads = secret_quads(entry)
        if entry.get("full_card_number"):
            with_number += 1
            shares = [covered(stored, quad) for quad in quads]
            numbers_covered += all(share >= COVERED_SHARE for share in shares)
            if not all(share >= COVERED_SHARE for share in shares):
                misses.append((entry["file"], "cover", "covered", [round(s, 2) for s in shares]))
    pairs = [(e["file"], e["duplicate_of"]) for e in truth["images"] if e.get("duplicate_of")]
    found = sum(duplicate_of(readings[a], readings[b]) for a, b in pairs)
    files = list(readings)
    false_pairs = sum(
        duplicate_of(readings[a], readings[b])
        for i, a in enumerate(files)
        for b in files[i + 1 :]
        if (a, b) not in pairs and (b, a) not in pairs
    )
    report = {
        "set": str(folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder),
        "images": len(truth["images"]),
        "accuracy": {name: round(right[name] / asked[name], 3) for name in FIELDS if asked[name]},
        "counted": asked,
        "seconds_per_image": round(sum(seconds) / len(seconds), 3),
        "numbers_covered": f"{numbers_covered}/{with_number}",
        "duplicates_found": f"{found}/{len(pairs)}",
        "false_duplicates": false_pairs,
    }
    if not per_image:
        return report, {}
    report["misses"] = misses
    report["readings"] = {name: asdict(reading) for name, reading in readings.items()}
    return report, lines_of


def twelve_mp_seconds(folder: Path) -> float:
    """Best of three reads of a 12 MP photo of the set's first slip, after one warm-up read."""
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    slip = next(entry for entry in truth["images"] if entry["kind"] == "slip")
    photo = twelve_megapixel((folder / slip["file"]).read_bytes())
    ocr.read_lines(photo)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        ocr.read_lines(photo)
        times.append(time.perf_counter() - started)
    return min(times)


def heldout(twelve_mp: bool = True) -> dict:
    """The held-out set's aggregate figures, for ``bench/run.py``: nothing per image."""
    report, _ = evaluate(HELDOUT, per_image=False)
    report["twelve_mp_seconds"] = round(twelve_mp_seconds(HELDOUT), 3) if twelve_mp else None
    return report


def history_row(report: dict, twelve_mp: float | None) -> str:
    """A row for bench/history.md's receipts table."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, cwd=ROOT
    )
    accuracy = report["accuracy"]
    cells = [
        datetime.now().strftime("%Y-%m-%d %H:%M"),
        f"`{commit.stdout.strip()}`" + ("+" if changed.stdout.strip() else ""),
        report["set"],
        str(report["images"]),
        *(f"{accuracy.get(name, 0):.2f}" for name in ("amount", "date", "last4", "ref_no")),
        f"{sum(accuracy.values()) / len(accuracy):.2f}",
        f"{report['seconds_per_image']:.2f}",
        "–" if twelve_mp is None else f"{twelve_mp:.2f}",
        report["numbers_covered"],
        report["duplicates_found"],
    ]
    return "| " + " | ".join(cells) + " |"


HISTORY_HEADER = (
    "| run | commit | set | images | amount | date | last4 | 参考号 | mean of all fields | s/image | 12 MP s "
    "| full numbers covered | duplicates found |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--heldout", action="store_true", help="score the held-out set instead of the dev set"
    )
    parser.add_argument("--set", type=Path, help="another folder with images and truth.json")
    parser.add_argument("--ocr", type=Path, help="reuse OCR lines saved by --save-ocr (no timing)")
    parser.add_argument("--save-ocr", type=Path)
    parser.add_argument(
        "--report", type=Path, help="write the report here (with misses and readings, except --heldout)"
    )
    parser.add_argument("--no-12mp", action="store_true")
    parser.add_argument(
        "--out",
        type=Path,
        help="with --heldout: a results folder (default bench/results/<timestamp>-receipts)",
    )
    args = parser.parse_args()
    folder = args.set or (HELDOUT if args.heldout else DEV)
    if args.heldout and (args.ocr or args.save_ocr):
        raise SystemExit("--ocr and --save-ocr are for the dev set: the held-out set is only scored")
    if not (folder / "truth.json").exists():
        raise SystemExit(f"no {folder}/truth.json: make it with tests/receipts/generator.py {folder}")
    if not args.ocr and not ocr.available():
        raise SystemExit("rapidocr-onnxruntime is not installed")
    cached = json.loads(args.ocr.read_text(encoding="utf-8")) if args.ocr else None
    report, lines_of = evaluate(folder, cached, per_image=not args.heldout)
    if args.save_ocr:
        args.save_ocr.write_text(json.dumps(lines_of, ensure_ascii=False), encoding="utf-8")
    twelve_mp = None if args.no_12mp or args.ocr else twelve_mp_seconds(folder)
    report["twelve_mp_seconds"] = twelve_mp
    if args.heldout:  # a dated result, as bench/run.py keeps its runs
        out = args.out or RESULTS / (datetime.now().strftime("%Y%m%d-%H%M%S") + "-receipts")
        out.mkdir(parents=True, exist_ok=True)
        args.report = args.report or out / "summary.json"
    if args.report:
        args.report.write_text(
            json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
        )
    summary = {key: report[key] for key in report if key not in ("misses", "readings")}
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    print(HISTORY_HEADER)
    print(history_row(report, twelve_mp))
    if args.report:
        print(f"report: {args.report}")


if __name__ == "__main__":
    main()
