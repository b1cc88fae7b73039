"""Cases and transcripts as CSV or JSON, for the filter in force; streamed in chunks.

Over HTTP the chunks go straight to the browser; ``write_private`` writes them
to a file only its owner can read.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bot.console.store import CaseFilter, ConsoleStore
from bot.console.transcripts import TrackerReader, Turn

FORMATS = ("csv", "json")
WHAT = ("cases", "transcripts")
CASE_FIELDS = (
    "case_id", "kind", "status", "bank", "amount", "txn_date", "merchant", "card_last4", "card_type",
    "channel", "sender_id", "steps_done", "handoff_requested", "tags", "created_at", "updated_at",
)  # fmt: skip
TURN_FIELDS = (
    "case_id", "sender_id", "event_id", "at", "speaker", "text", "intent", "confidence", "entities",
    "action", "response", "fallback",
)  # fmt: skip
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}


def case_records(store: ConsoleStore, case_filter: CaseFilter) -> Iterator[dict[str, Any]]:
    tags = store.tags_by_case()
    for row in store.iter_cases(case_filter):
        record = {field: row.get(field) for field in CASE_FIELDS}
        record["steps_done"] = json.loads(row["steps_done"])
        record["handoff_requested"] = bool(row["handoff_requested"])
        record["tags"] = tags.get(row["case_id"], [])
        yield record


def transcript_records(
    store: ConsoleStore, tracker: TrackerReader, case_filter: CaseFilter
) -> Iterator[dict[str, Any]]:
    """One record per case: the case id, its conversation id and every turn."""
    for row in store.iter_cases(case_filter):
        turns = [
            turn_record(turn) for turn in tracker.transcript(row["sender_id"]) if turn.speaker != "session"
        ]
        yield {
            "case_id": row["case_id"],
            "sender_id": row["sender_id"],
            "channel": row["channel"],
            "turns": turns,
        }


def turn_record(turn: Turn) -> dict[str, Any]:
    return {
        "event_id": turn.event_id,
        "at": turn.at.isoformat(),
        "speaker": turn.speaker,
        "text": turn.text,
        "intent": turn.intent,
        "confidence": turn.confidence,
        "entities": [{"entity": entity.entity, "value": entity.value} for entity in turn.entities],
        "action": turn.action,
        "response": turn.response,
        "staff": turn.staff,
        "fallback": turn.fallback,
    }


def audit_detail(
    store: ConsoleStore, case_filter: CaseFilter, what: str, fmt: str, path: Path | None = None
) -> dict[str, Any]:
    """What the audit log keeps of an export: what, how many cases, the filter, and the file it went to.

    A search term is left out (it is often a card's last four digits or a
    merchant): the log must hold no personal data, so only that there was one.
    The path lets whoever handles a deletion request find the files that hold the user's data.
    """
    detail: dict[str, Any] = {
        "what": what,
        "format": fmt,
        "cases": store.count(case_filter),
        "filter": [(name, value) for name, value in case_filter.params() if name != "q"],
    }
    if case_filter.search:
        detail["searched"] = True
    if path is not None:
        detail["path"] = str(path.resolve())
    return detail


def export_chunks(
    store: ConsoleStore, tracker: TrackerReader, case_filter: CaseFilter, what: str, fmt: str
) -> Iterator[str]:
    if what not in WHAT or fmt not in FORMATS:
        raise ValueError(f"cannot export {what} as {fmt}")
    if what == "cases":
        records = case_records(store, case_filter)
        return csv_chunks(records, CASE_FIELDS) if fmt == "csv" else json_chunks(records)
    records = transcript_records(store, tracker, case_filter)
    if fmt == "json":
        return json_chunks(records)
    flat = (
        {"case_id": record["case_id"], "sender_id": record["sender_id"], **turn}
        for record in records
        for turn in record["turns"]
    )
    return csv_chunks(flat, TURN_FIELDS)


def json_chunks(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    yield "["
    for index, record in enumerate(records):
        yield ("," if index else "") + "\n" + json.dumps(record, ensure_ascii=False)
    yield "\n]\n"


def csv_chunks(records: Iterable[dict[str, Any]], fields: tuple[str, ...], batch: int = 500) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    # A byte-order mark so that Excel reads the Chinese as UTF-8.
    buffer.write("\ufeff")
    writer.writeheader()
    for index, record in enumerate(records, start=1):
        writer.writerow({field: _csv_cell(record.get(field)) for field in fields})
        if index % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        value = "; ".join(
            f"{item['entity']}={item['value']}" if isinstance(item, dict) else str(item) for item in value
        )
    # A cell starting with = + - @ is a formula to a spreadsheet; user text must stay text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_private(path: Path, chunks: Iterable[str]) -> None:
    """Write to ``path`` readable and writable by its owner only (0600), whatever the umask.

    Exports hold transcripts and card tails. ``os.open``'s mode only applies to
    a new file, and the umask can take bits from it; ``fchmod`` settles both
    before anything is written.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
    except BaseException:
        os.close(descriptor)
        raise
    with open(descriptor, "w", encoding="utf-8", newline="") as handle:
        handle.writelines(chunks)
