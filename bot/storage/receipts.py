"""Receipt photos in the database: the stored picture and what was read from it.

    receipts = SQLReceiptStore(db)        # or store.receipts of an SQLCaseStore
    receipt = receipts.add(sender_id, "socketio", reading, image, numbers_covered=1)
    receipts.waiting(sender_id)           # the latest one the user has not confirmed yet
    receipts.confirm(receipt)             # its facts go into the case: the caller's to do

A picture lives in the database (a BLOB on SQLite, bytea on PostgreSQL), so every replica
and the console read the same one, and deleting a conversation deletes its pictures in the
same transaction as its case facts (``bot.storage.erasure``). Only the cleaned picture
(``bot.infra.receipt_images.clean_image``) is ever written here.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa

from bot.domain.clock import now
from bot.domain.receipts import ReceiptReading
from bot.storage.case_log import log_case_event
from bot.storage.database import Database
from bot.storage.schema import receipts

# A conversation's pictures, its cases' included: enough for every slip, SMS and statement
# of a dispute or two, and a bound on what one visitor can make the server store and read.
MAX_RECEIPTS_PER_CONVERSATION = 12

Status = Literal["read", "confirmed", "rejected"]
_COLUMNS = [column for column in receipts.c if column.name != "image"]


class TooManyReceipts(RuntimeError):
    """The conversation has sent as many pictures as it may."""


@dataclass(frozen=True)
class StoredReceipt:
    receipt_id: str
    sender_id: str
    channel: str
    case_id: str | None
    status: Status
    reading: ReceiptReading
    numbers_covered: int
    created_at: datetime


def reading_to_json(reading: ReceiptReading) -> str:
    return json.dumps({"kind": reading.kind, **reading.facts()}, ensure_ascii=False)


def reading_from_json(text: str) -> ReceiptReading:
    stored: dict[str, Any] = json.loads(text)
    known = {item.name for item in fields(ReceiptReading)}
    values = {name: value for name, value in stored.items() if name in known}
    if values.get("amount") is not None:
        values["amount"] = Decimal(values["amount"])
    return ReceiptReading(**values)


def _receipt(row: Any) -> StoredReceipt:
    return StoredReceipt(
        receipt_id=row.receipt_id,
        sender_id=row.sender_id,
        channel=row.channel,
        case_id=row.case_id,
        status=row.status,
        reading=reading_from_json(row.reading),
        numbers_covered=row.numbers_covered,
        created_at=datetime.fromisoformat(row.created_at),
    )


class SQLReceiptStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        sender_id: str,
        channel: str,
        reading: ReceiptReading,
        image: bytes,
        *,
        numbers_covered: int,
        case_id: str | None = None,
    ) -> StoredReceipt:
        """Keep a cleaned picture and its reading (``TooManyReceipts`` past the conversation's limit)."""

        def add() -> StoredReceipt:
            if self._count(sender_id) >= MAX_RECEIPTS_PER_CONVERSATION:
                raise TooManyReceipts(sender_id)
            at = now()
            row = {
                "receipt_id": secrets.token_urlsafe(16),
                "sender_id": sender_id,
                "channel": channel,
                "status": "read",
                "kind": reading.kind,
                "reading": reading_to_json(reading),
                "case_id": case_id,
                "image": image,
                "numbers_covered": numbers_covered,
                "created_at": at.isoformat(),
                "updated_at": at.isoformat(),
            }
            self.db.execute(receipts.insert(), row)
            if case_id is not None:
                log_case_event(self.db, case_id, "receipt_added", {"receipt_id": row["receipt_id"]})
            return StoredReceipt(
                receipt_id=row["receipt_id"],
                sender_id=sender_id,
                channel=channel,
                case_id=case_id,
                status="read",
                reading=reading,
                numbers_covered=numbers_covered,
                created_at=at,
            )

        return self.db.run(add)

    @staticmethod
    def _select() -> sa.Select:
        return sa.select(*_COLUMNS)

    def full(self, sender_id: str) -> bool:
        """Whether the conversation has sent as many pictures as it may (checked before reading one)."""
        return self.db.run(lambda: self._count(sender_id), write=False) >= MAX_RECEIPTS_PER_CONVERSATION

    def _count(self, sender_id: str) -> int:
        counted = sa.select(sa.func.count()).select_from(receipts).where(receipts.c.sender_id == sender_id)
        return self.db.execute(counted).scalar_one()

    def waiting(self, sender_id: str) -> StoredReceipt | None:
        """The conversation's latest picture whose reading the user has not answered yet."""
        query = (
            self._select()
            .where(receipts.c.sender_id == sender_id, receipts.c.status == "read")
            .order_by(receipts.c.created_at.desc())
            .limit(1)
        )
        rows = self.db.run(lambda: self.db.execute(query).all(), write=False)
        return _receipt(rows[0]) if rows else None

    def of_conversation(self, sender_id: str) -> list[StoredReceipt]:
        query = self._select().where(receipts.c.sender_id == sender_id).order_by(receipts.c.created_at)
        return [_receipt(row) for row in self.db.run(lambda: self.db.execute(query).all(), write=False)]

    def of_case(self, case_id: str) -> list[StoredReceipt]:
        query = self._select().where(receipts.c.case_id == case_id).order_by(receipts.c.created_at)
        return [_receipt(row) for row in self.db.run(lambda: self.db.execute(query).all(), write=False)]

    def image(self, receipt_id: str) -> bytes | None:
        query = sa.select(receipts.c.image).where(receipts.c.receipt_id == receipt_id)
        return self.db.run(lambda: self.db.execute(query).scalar_one_or_none(), write=False)

    def answer(self, receipt: StoredReceipt, status: Status) -> None:
        """The user confirmed (``confirmed``) or corrected (``rejected``) what was read."""

        def answer() -> None:
            self.db.execute(
                receipts.update()
                .where(receipts.c.receipt_id == receipt.receipt_id)
                .values(status=status, updated_at=now().isoformat())
            )
            if receipt.case_id is not None:
                detail = {"receipt_id": receipt.receipt_id}
                log_case_event(self.db, receipt.case_id, f"receipt_{status}", detail)

        self.db.run(answer)

    def attach(self, sender_id: str, case_id: str) -> int:
        """The conversation's pictures sent before its case was opened now belong to the case."""

        def attach() -> int:
            loose = receipts.c.sender_id == sender_id, receipts.c.case_id.is_(None)
            ids = [row.receipt_id for row in self.db.execute(sa.select(receipts.c.receipt_id).where(*loose))]
            if ids:
                self.db.execute(receipts.update().where(*loose).values(case_id=case_id))
                log_case_event(self.db, case_id, "receipt_added", {"receipt_ids": ids})
            return len(ids)

        return self.db.run(attach)
