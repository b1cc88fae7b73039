"""The console's data layer over the case store's database.

Reads cases for the queue, the case page, the dashboard and exports; writes
only the console's own tables, except that status changes go through the case
store's ``set_status`` (which logs them to ``case_events``). Every change a
staff member makes is written to ``audit_log`` with who and when. The same
code runs on SQLite and PostgreSQL through ``bot.console.database``.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cases import KINDS, STATUSES, Case, SQLiteCaseStore
from bot.checklist import step_ids_for
from bot.clock import now
from bot.console import params
from bot.console.database import SQLITE, Database, Dialect, PostgresDatabase, SQLiteDatabase, is_postgres_url
from bot.console.migrations import migrate_console

if TYPE_CHECKING:
    from bot.cases_postgres import PostgresCaseStore

MAX_NOTE_LENGTH = 2000
TAG_PATTERN = re.compile(r"^[\w\-·]{1,20}$")
SEARCHED_COLUMNS = ("case_id", "card_last4", "merchant")


@dataclass(frozen=True)
class CaseFilter:
    """The queue's filter; the same one drives the dashboard and the exports."""

    statuses: tuple[str, ...] = ()
    kind: str | None = None
    bank: str | None = None
    channel: str | None = None
    since: date | None = None
    until: date | None = None
    search: str | None = None
    tag: str | None = None

    def __post_init__(self) -> None:
        params.check_range(self.since, self.until, now().date())

    @classmethod
    def from_params(cls, values: Mapping[str, Sequence[str]]) -> CaseFilter:
        """From query parameters (each a list of values); raises ``BadParameter`` for a malformed one."""

        def first(name: str) -> str | None:
            given = values.get(name) or []
            return next(iter([given] if isinstance(given, str) else given), None)

        since, until = params.date_range(
            params.day(first("since"), "since"), params.day(first("until"), "until"), now().date()
        )
        return cls(
            statuses=params.choices(values.get("status") or [], "status", STATUSES),
            kind=params.choice(first("kind"), "kind", KINDS),
            bank=params.text(first("bank"), "bank"),
            channel=params.text(first("channel"), "channel"),
            since=since,
            until=until,
            search=params.search(first("q")),
            tag=params.text(first("tag"), "tag"),
        )

    def params(self) -> list[tuple[str, str]]:
        """The inverse of ``from_params``, for links that keep the filter."""
        pairs = [("status", status) for status in self.statuses]
        for name, value in (
            ("kind", self.kind),
            ("bank", self.bank),
            ("channel", self.channel),
            ("since", self.since.isoformat() if self.since else None),
            ("until", self.until.isoformat() if self.until else None),
            ("q", self.search),
            ("tag", self.tag),
        ):
            if value:
                pairs.append((name, value))
        return pairs

    @property
    def is_empty(self) -> bool:
        return not self.params()

    def where(self, dialect: Dialect) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        values: list[Any] = []
        if self.statuses:
            clauses.append(f"status IN ({', '.join('?' for _ in self.statuses)})")
            values.extend(self.statuses)
        for column in ("kind", "bank", "channel"):
            if getattr(self, column):
                clauses.append(f"{column} = ?")
                values.append(getattr(self, column))
        # created_at is ISO 8601 in China time, so a date prefix compares correctly.
        if self.since:
            clauses.append("created_at >= ?")
            values.append(self.since.isoformat())
        if self.until:
            clauses.append("created_at < ?")
            values.append((self.until + timedelta(days=1)).isoformat())
        if self.tag:
            clauses.append("case_id IN (SELECT case_id FROM case_tags WHERE tag = ?)")
            values.append(self.tag)
        if self.search:
            clause, search_values = _search_clause(self.search, dialect)
            clauses.append(clause)
            values.extend(search_values)
        return (" AND ".join(clauses) or "1 = 1"), values


def _search_clause(search: str, dialect: Dialect) -> tuple[str, list[str]]:
    """Every word must match the case id, the card's last 4 digits or the merchant, ignoring case.

    On SQLite, trigram full-text search matches words of three characters or
    more anywhere in those columns; shorter words (a two-character merchant
    like 华联) fall back to LIKE over the same index table. PostgreSQL has no
    such index (see ``console_0010``), so every word is an ILIKE on the cases.
    """
    clauses, values = [], []
    words = search.split()
    if dialect is SQLITE:
        long_words = [word for word in words if len(word) >= 3]
        words = [word for word in words if len(word) < 3]
        if long_words:
            clauses.append("rowid IN (SELECT rowid FROM cases_fts WHERE cases_fts MATCH ?)")
            values.append(" AND ".join('"' + word.replace('"', '""') + '"' for word in long_words))
        # SQLite's LIKE ignores case, for ASCII.
        word_clause = f"rowid IN (SELECT rowid FROM cases_fts WHERE {_any_searched_column('LIKE')})"
    else:
        word_clause = f"({_any_searched_column('ILIKE')})"
    for word in words:
        clauses.append(word_clause)
        values.extend(["%" + re.sub(r"([\\%_])", r"\\\1", word) + "%"] * len(SEARCHED_COLUMNS))
    return " AND ".join(clauses), values


def _any_searched_column(like: str) -> str:
    return " OR ".join(f"{column} {like} ? ESCAPE '\\'" for column in SEARCHED_COLUMNS)


@dataclass(frozen=True)
class Cursor:
    """A position in the queue (newest first): keyset pagination stays fast on any page."""

    created_at: str
    case_id: str

    def encode(self) -> str:
        return f"{self.created_at}|{self.case_id}"

    @classmethod
    def decode(cls, text: str | None, name: str) -> Cursor | None:
        """None for no cursor; raises ``BadParameter`` for one this page did not write."""
        text = params.text(text, name)
        if text is None:
            return None
        created_at, _, case_id = text.rpartition("|")
        try:
            valid = datetime.fromisoformat(created_at).isoformat() == created_at
        except ValueError:
            valid = False
        if not valid or not params.CASE_ID.fullmatch(case_id):
            raise params.BadParameter(name, "cursor")
        return cls(created_at, case_id)


@dataclass(frozen=True)
class QueueRow:
    case_id: str
    kind: str
    status: str
    bank: str | None
    amount: float | None
    merchant: str | None
    card_last4: str | None
    channel: str
    sender_id: str
    created_at: datetime
    steps_done: int
    steps_total: int
    handoff_requested: bool
    cursor: Cursor


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    newer: Cursor | None
    older: Cursor | None


@dataclass(frozen=True)
class WaitingHandoff:
    handoff_id: int
    sender_id: str
    channel: str
    case_id: str | None
    requested_at: datetime
    waited: timedelta


@dataclass(frozen=True)
class Note:
    note_id: int
    at: datetime
    username: str
    text: str


@dataclass(frozen=True)
class Review:
    sender_id: str
    reviewed_by: str
    reviewed_at: datetime
    last_event_id: int | None


@dataclass(frozen=True)
class AuditEntry:
    entry_id: int
    at: datetime
    username: str
    action: str
    case_id: str | None
    sender_id: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class FlaggedExample:
    example_id: int
    sender_id: str
    event_id: int
    text: str
    annotated: str
    predicted_intent: str | None
    confidence: float | None
    intent: str
    flagged_by: str
    flagged_at: datetime


class ConsoleStore:
    """Opens the case store and its database, and applies the console's migrations.

    ``location`` is a SQLite file's path or a ``postgresql://`` URL.
    """

    def __init__(self, location: str | Path) -> None:
        self.cases: SQLiteCaseStore | PostgresCaseStore
        self.db: Database
        if is_postgres_url(location):
            from bot.cases_postgres import PostgresCaseStore  # SQLite deployments never load psycopg2

            postgres_cases, postgres = PostgresCaseStore(str(location)), PostgresDatabase(str(location))
            self.cases, self.db = postgres_cases, postgres
            self._closers = [postgres_cases.close, postgres.close]
        else:
            sqlite_cases = _open_case_store(location)
            # The case store's own connection: the console's writes queue behind the bot's.
            sqlite = SQLiteDatabase(sqlite_cases.db.conn)
            self.cases, self.db = sqlite_cases, sqlite
            self._closers = [sqlite.close]
        migrate_console(self.db)

    def close(self) -> None:
        """Give the database connections back; a process that opens many stores (tests) needs to."""
        for close in self._closers:
            close()

    # The queue

    def queue(
        self,
        case_filter: CaseFilter,
        *,
        after: Cursor | None = None,
        before: Cursor | None = None,
        limit: int = 50,
    ) -> QueuePage:
        """One page, newest first: after ``after`` (older cases) or before ``before`` (newer ones)."""
        sql, values = self.page_query(case_filter, after=after, before=before, limit=limit + 1)
        rows = [_queue_row(row) for row in self.db.query(sql, values)]
        more = len(rows) > limit
        rows = rows[:limit]
        if before is not None:
            rows.reverse()
        first, last = (rows[0].cursor, rows[-1].cursor) if rows else (None, None)
        return QueuePage(
            rows=rows,
            total=self.count(case_filter),
            newer=first if (before is not None and more) or after is not None else None,
            older=last if (before is None and more) or before is not None else None,
        )

    def page_query(
        self,
        case_filter: CaseFilter,
        *,
        after: Cursor | None = None,
        before: Cursor | None = None,
        limit: int = 51,
    ) -> tuple[str, list[Any]]:
        where, values = case_filter.where(self.db.dialect)
        order = "DESC"
        if after is not None:
            where += " AND (created_at, case_id) < (?, ?)"
            values += [after.created_at, after.case_id]
        elif before is not None:
            where += " AND (created_at, case_id) > (?, ?)"
            values += [before.created_at, before.case_id]
            order = "ASC"
        sql = f"SELECT * FROM cases WHERE {where} ORDER BY created_at {order}, case_id {order} LIMIT ?"
        return sql, [*values, limit]

    def count(self, case_filter: CaseFilter) -> int:
        where, values = case_filter.where(self.db.dialect)
        return self.db.execute(f"SELECT count(*) FROM cases WHERE {where}", values).fetchone()[0]

    def iter_cases(self, case_filter: CaseFilter) -> Iterator[dict[str, Any]]:
        """Every matching case row, newest first, for exports."""
        where, values = case_filter.where(self.db.dialect)
        yield from self.db.query(
            f"SELECT * FROM cases WHERE {where} ORDER BY created_at DESC, case_id DESC", values
        )

    def distinct_values(self, column: str) -> list[str]:
        if column not in ("bank", "channel"):
            raise ValueError(column)
        return [
            row[0]
            for row in self.db.execute(
                f"SELECT DISTINCT {column} FROM cases WHERE {column} IS NOT NULL ORDER BY {column}"
            )
        ]

    def all_tags(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT DISTINCT tag FROM case_tags ORDER BY tag")]

    def tags_by_case(self) -> dict[str, list[str]]:
        tags: dict[str, list[str]] = {}
        for case_id, tag in self.db.execute("SELECT case_id, tag FROM case_tags ORDER BY tag"):
            tags.setdefault(case_id, []).append(tag)
        return tags

    def cases_for_sender(self, sender_id: str) -> list[str]:
        return [
            row[0]
            for row in self.db.execute(
                "SELECT case_id FROM cases WHERE sender_id = ? ORDER BY created_at DESC", [sender_id]
            )
        ]

    # Handoffs

    def waiting_handoffs(self) -> list[WaitingHandoff]:
        """Unresolved requests for a human, longest waiting first."""
        current = now()
        return [
            WaitingHandoff(
                handoff_id=row["id"],
                sender_id=row["sender_id"],
                channel=row["channel"],
                case_id=row["case_id"],
                requested_at=datetime.fromisoformat(row["requested_at"]),
                waited=max(current - datetime.fromisoformat(row["requested_at"]), timedelta(0)),
            )
            for row in self.db.query(
                "SELECT * FROM handoffs WHERE resolved_at IS NULL ORDER BY requested_at, id"
            )
        ]

    def waiting_handoff_for_case(self, case_id: str) -> WaitingHandoff | None:
        return next((handoff for handoff in self.waiting_handoffs() if handoff.case_id == case_id), None)

    def resolve_handoff(self, handoff_id: int, username: str) -> WaitingHandoff | None:
        handoff = next((item for item in self.waiting_handoffs() if item.handoff_id == handoff_id), None)
        if handoff is None:
            return None
        with self.db.transaction() as db:
            db.execute("UPDATE handoffs SET resolved_at = ? WHERE id = ?", [now().isoformat(), handoff_id])
            write_audit(
                db, username, "handoff_resolved", handoff.case_id, handoff.sender_id, {"handoff": handoff_id}
            )
        return handoff

    # Changes to a case

    def set_status(self, case_id: str, status: str, username: str) -> Case:
        before = self.cases.get(case_id)
        case = self.cases.set_status(case_id, status)
        if before is not None and before.status != status:
            self.audit(
                username, "status_changed", case_id, case.sender_id, {"from": before.status, "to": status}
            )
        return case

    def revoke_checklist_links(self, case_id: str, username: str) -> int:
        revoked = self.cases.revoke_checklist_links(case_id, by=username)
        self.audit(username, "checklist_links_revoked", case_id, None, {"links": revoked})
        return revoked

    def add_note(self, case_id: str, text: str, username: str) -> Note:
        text = params.without_controls(text, keep="\n").strip()
        if not text or len(text) > MAX_NOTE_LENGTH:
            raise ValueError("note must be 1 to 2000 characters")
        at = now()
        with self.db.transaction() as db:
            note_id = db.insert(
                "case_notes",
                {"case_id": case_id, "at": at.isoformat(), "username": username, "text": text},
                returning="id",
            )
            write_audit(db, username, "note_added", case_id, None, {"note": note_id})
        return Note(note_id, at, username, text)

    def notes(self, case_id: str) -> list[Note]:
        return [
            Note(row["id"], datetime.fromisoformat(row["at"]), row["username"], row["text"])
            for row in self.db.query("SELECT * FROM case_notes WHERE case_id = ? ORDER BY id", [case_id])
        ]

    def add_tag(self, case_id: str, tag: str, username: str) -> str:
        tag = tag.strip()
        if not TAG_PATTERN.fullmatch(tag):
            raise ValueError("a tag is 1 to 20 letters, digits, - or _")
        with self.db.transaction() as db:
            added = db.execute(
                "INSERT INTO case_tags (case_id, tag, added_by, added_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (case_id, tag) DO NOTHING",
                [case_id, tag, username, now().isoformat()],
            ).rowcount
            if added:
                write_audit(db, username, "tag_added", case_id, None, {"tag": tag})
        return tag

    def remove_tag(self, case_id: str, tag: str, username: str) -> None:
        if not TAG_PATTERN.fullmatch(tag):
            raise ValueError("no such tag")
        with self.db.transaction() as db:
            removed = db.execute(
                "DELETE FROM case_tags WHERE case_id = ? AND tag = ?", [case_id, tag]
            ).rowcount
            if removed:
                write_audit(db, username, "tag_removed", case_id, None, {"tag": tag})

    def tags(self, case_id: str) -> list[str]:
        return [
            row[0]
            for row in self.db.execute("SELECT tag FROM case_tags WHERE case_id = ? ORDER BY tag", [case_id])
        ]

    # Reviews of conversations

    def mark_reviewed(
        self, sender_id: str, username: str, last_event_id: int | None, case_id: str | None = None
    ) -> Review:
        review = Review(sender_id, username, now(), last_event_id)
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO conversation_reviews (sender_id, reviewed_by, reviewed_at, last_event_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (sender_id) DO UPDATE SET "
                "reviewed_by = excluded.reviewed_by, reviewed_at = excluded.reviewed_at, "
                "last_event_id = excluded.last_event_id",
                [sender_id, username, review.reviewed_at.isoformat(), last_event_id],
            )
            write_audit(
                db, username, "conversation_reviewed", case_id, sender_id, {"last_event_id": last_event_id}
            )
        return review

    def review(self, sender_id: str) -> Review | None:
        row = self.db.execute(
            "SELECT reviewed_by, reviewed_at, last_event_id FROM conversation_reviews WHERE sender_id = ?",
            [sender_id],
        ).fetchone()
        if row is None:
            return None
        return Review(sender_id, row[0], datetime.fromisoformat(row[1]), row[2])

    # Teaching the bot

    def flag_example(
        self,
        *,
        sender_id: str,
        event_id: int,
        text: str,
        annotated: str,
        predicted_intent: str | None,
        confidence: float | None,
        intent: str,
        username: str,
        case_id: str | None = None,
    ) -> FlaggedExample:
        """Record the right intent (and entities) for a user message; flagging it again replaces it."""
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO flagged_examples (sender_id, event_id, text, annotated, predicted_intent, "
                "confidence, intent, flagged_by, flagged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(sender_id, event_id) DO UPDATE SET annotated = excluded.annotated, "
                "intent = excluded.intent, flagged_by = excluded.flagged_by, "
                "flagged_at = excluded.flagged_at",
                [sender_id, event_id, text, annotated, predicted_intent, confidence, intent, username,
                 now().isoformat()],
            )  # fmt: skip
            write_audit(
                db, username, "example_flagged", case_id, sender_id,
                {"event_id": event_id, "intent": intent, "annotated": annotated},
            )  # fmt: skip
        return next(example for example in self.flagged_examples() if example.event_id == event_id)

    def flagged_examples(self, sender_id: str | None = None) -> list[FlaggedExample]:
        where, values = ("WHERE sender_id = ?", [sender_id]) if sender_id else ("", [])
        return [
            FlaggedExample(
                example_id=row["id"],
                sender_id=row["sender_id"],
                event_id=row["event_id"],
                text=row["text"],
                annotated=row["annotated"],
                predicted_intent=row["predicted_intent"],
                confidence=row["confidence"],
                intent=row["intent"],
                flagged_by=row["flagged_by"],
                flagged_at=datetime.fromisoformat(row["flagged_at"]),
            )
            for row in self.db.query(
                f"SELECT * FROM flagged_examples {where} ORDER BY flagged_at DESC, id DESC", values
            )
        ]

    def delete_flag(self, example_id: int, username: str) -> None:
        with self.db.transaction() as db:
            deleted = db.execute(
                "DELETE FROM flagged_examples WHERE id = ? RETURNING sender_id, event_id", [example_id]
            ).fetchone()
            if deleted:
                sender_id, event_id = deleted
                write_audit(db, username, "example_unflagged", None, sender_id, {"event_id": event_id})

    # The audit log

    def audit(
        self,
        username: str,
        action: str,
        case_id: str | None = None,
        sender_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self.db.transaction() as db:
            write_audit(db, username, action, case_id, sender_id, detail)

    def audit_log(
        self,
        *,
        case_id: str | None = None,
        sender_id: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        clauses, values = [], []
        for column, value in (("case_id", case_id), ("sender_id", sender_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                values.append(value)
        if before_id is not None:
            clauses.append("id < ?")
            values.append(before_id)
        where = " AND ".join(clauses) or "1 = 1"
        return [
            AuditEntry(
                entry_id=row["id"],
                at=datetime.fromisoformat(row["at"]),
                username=row["username"],
                action=row["action"],
                case_id=row["case_id"],
                sender_id=row["sender_id"],
                detail=json.loads(row["detail"]),
            )
            for row in self.db.query(
                f"SELECT * FROM audit_log WHERE {where} ORDER BY id DESC LIMIT ?", [*values, limit]
            )
        ]

    # The dashboard

    def cases_per_day(self, case_filter: CaseFilter, days: int = 30) -> list[tuple[date, int]]:
        """Cases opened on each of the last ``days`` days (or the filter's range), zeros included."""
        last = case_filter.until or now().date()
        first = case_filter.since or last - timedelta(days=days - 1)
        ranged = replace(case_filter, since=first, until=last)
        where, values = ranged.where(self.db.dialect)
        # created_at is ISO 8601 in China time, so its first ten characters are the day there.
        counts = dict(
            self.db.execute(
                f"SELECT substr(created_at, 1, 10) AS day, count(*) FROM cases WHERE {where} GROUP BY day",
                values,
            ).fetchall()
        )
        span = (last - first).days + 1
        return [
            (first + timedelta(days=offset), counts.get((first + timedelta(days=offset)).isoformat(), 0))
            for offset in range(max(span, 0))
        ]

    def steps_reached(self, case_filter: CaseFilter) -> list[int]:
        """How many cases finished at least 0, 1, 2, … of their steps: the funnel."""
        where, values = case_filter.where(self.db.dialect)
        done_counts = dict(
            self.db.execute(
                f"SELECT {self.db.dialect.json_array_length('steps_done')} AS done, count(*) "
                f"FROM cases WHERE {where} GROUP BY done",
                values,
            ).fetchall()
        )
        kinds = [case_filter.kind] if case_filter.kind else list(KINDS)
        most_steps = max(len(step_ids_for(kind)) for kind in kinds)
        return [
            sum(count for done, count in done_counts.items() if done >= reached)
            for reached in range(most_steps + 1)
        ]

    def status_counts(self, case_filter: CaseFilter) -> dict[str, int]:
        where, values = case_filter.where(self.db.dialect)
        counts = dict(
            self.db.execute(
                f"SELECT status, count(*) FROM cases WHERE {where} GROUP BY status", values
            ).fetchall()
        )
        return {status: counts.get(status, 0) for status in STATUSES}


def write_audit(
    db: Database,
    username: str,
    action: str,
    case_id: str | None = None,
    sender_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One audit entry, in the caller's transaction so that it lands with the change it records."""
    db.insert(
        "audit_log",
        {
            "at": now().isoformat(),
            "username": username,
            "action": action,
            "case_id": case_id,
            "sender_id": sender_id,
            "detail": json.dumps(detail or {}, ensure_ascii=False),
        },
    )


def _open_case_store(path: str | Path, attempts: int = 5) -> SQLiteCaseStore:
    """`make run` starts the console and the action server together; on a fresh
    database both apply the case store's migrations, and the loser of that race
    finds a table already there. By the next attempt the winner has recorded it."""
    for _ in range(attempts - 1):
        try:
            return SQLiteCaseStore(path)
        except sqlite3.OperationalError as error:
            if "already exists" not in str(error):
                raise
            time.sleep(0.5)
    return SQLiteCaseStore(path)


def _queue_row(row: dict[str, Any]) -> QueueRow:
    return QueueRow(
        case_id=row["case_id"],
        kind=row["kind"],
        status=row["status"],
        bank=row["bank"],
        amount=row["amount"],
        merchant=row["merchant"],
        card_last4=row["card_last4"],
        channel=row["channel"],
        sender_id=row["sender_id"],
        created_at=datetime.fromisoformat(row["created_at"]),
        steps_done=len(json.loads(row["steps_done"])),
        steps_total=len(step_ids_for(row["kind"])),
        handoff_requested=bool(row["handoff_requested"]),
        cursor=Cursor(row["created_at"], row["case_id"]),
    )
