"""The case store: one record per reported problem, behind a narrow interface.

``CaseStore`` is what the actions use. ``SQLiteCaseStore`` is the embedded
default (sqlite-utils, WAL mode); ``PostgresCaseStore`` (``bot.cases_postgres``)
implements the same protocol on the same tables for deployments with several
action servers. ``open_store`` picks one from the URL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

from bot.clock import now
from bot.identity import legacy_conversation_id
from bot.private_files import private_file

KINDS = ("misswipe", "failed_charge", "unauthorized", "merchant")
ROLES = {
    "misswipe": "cardholder",
    "failed_charge": "cardholder",
    "unauthorized": "cardholder",
    "merchant": "merchant",
}
STATUSES = ("open", "waiting_merchant", "with_bank", "escalated", "resolved", "closed")
FINISHED_STATUSES = ("resolved", "closed")
FACT_FIELDS = (
    "bank",
    "amount",
    "correct_amount",
    "txn_date",
    "merchant",
    "card_last4",
    "card_type",
    "cross_border",
)


@dataclass(frozen=True)
class Facts:
    """What the user told us about the transaction.

    ``amount`` is the wrong transaction as charged; ``correct_amount`` what it
    should have been, when the amount (not the count) was wrong. ``unknown``
    names the facts the user said they do not know: an answer, not a gap, so
    the form does not ask again and the advice says where to find them.
    """

    bank: str | None = None
    amount: float | None = None
    correct_amount: float | None = None
    txn_date: date | None = None
    merchant: str | None = None
    card_last4: str | None = None
    card_type: str | None = None
    cross_border: bool | None = None
    unknown: frozenset[str] = frozenset()

    def merged_with(self, other: Facts) -> Facts:
        """Facts from ``other`` win where they are known; a fact given is no longer unknown."""
        updates = {name: getattr(other, name) for name in FACT_FIELDS if getattr(other, name) is not None}
        unknown = (self.unknown | other.unknown) - updates.keys()
        return replace(self, **updates, unknown=frozenset(unknown))

    @property
    def overcharge(self) -> float | None:
        """How much too much was charged, when both amounts are known and differ that way."""
        if self.amount is None or self.correct_amount is None or self.amount <= self.correct_amount:
            return None
        return round(self.amount - self.correct_amount, 2)


@dataclass(frozen=True)
class Case:
    case_id: str
    kind: str
    role: str
    sender_id: str
    channel: str
    status: str
    facts: Facts
    steps_done: tuple[str, ...]
    handoff_requested: bool
    created_at: datetime
    updated_at: datetime
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_open(self) -> bool:
        return self.status not in FINISHED_STATUSES


@dataclass(frozen=True)
class Handoff:
    handoff_id: int
    sender_id: str
    channel: str
    case_id: str | None
    requested_at: datetime
    # True when the conversation was already waiting: asking again adds nothing to the queue.
    already_waiting: bool = False


class CaseStore(Protocol):
    def open_case(self, sender_id: str, channel: str, kind: str, facts: Facts) -> Case:
        """Create a new case; a conversation may hold several (one per problem), and open at most
        ``MAX_NEW_CASES_PER_DAY`` a day (``TooManyCases``)."""

    def get(self, case_id: str) -> Case | None: ...

    def get_for_owner(self, case_id: str, sender_id: str) -> Case | None:
        """The case only if ``sender_id`` owns it; otherwise None, as if it did not exist."""

    def current_case(self, sender_id: str) -> Case | None:
        """The conversation's most recent unfinished case."""

    def cases_for_owner(self, sender_id: str) -> list[Case]:
        """Every case of the conversation, unfinished ones first, newest first within each."""

    def update_facts(self, case_id: str, facts: Facts) -> Case: ...

    def change_kind(self, case_id: str, kind: str) -> Case:
        """Give the case another kind (the user confirmed it), logged as ``kind_changed``."""

    def mark_steps_done(self, case_id: str, step_ids: list[str]) -> Case: ...

    def set_status(self, case_id: str, status: str) -> Case: ...

    def request_handoff(self, sender_id: str, channel: str, case_id: str | None) -> Handoff:
        """Queue the conversation for staff; at most one waiting request per conversation."""

    def add_checklist_link(self, case_id: str, token_hash: str, expires_at: datetime) -> None:
        """Remember a link to the case's printable checklist by the hash of its token."""

    def case_for_checklist_link(self, token_hash: str) -> Case | None:
        """The case a link opens, while the link is neither expired nor revoked."""

    def revoke_checklist_links(self, case_id: str, by: str) -> int:
        """Make every link to the case's checklist stop working; how many were live."""


class CaseNotFound(LookupError):
    pass


class TooManyCases(RuntimeError):
    """The conversation opened ``MAX_NEW_CASES_PER_DAY`` cases today already."""


# A person has one or two problems at a time; more new cases in one day from one
# conversation is a script filling the staff queue.
MAX_NEW_CASES_PER_DAY = 5


Migration = Callable[[sqlite_utils.Database], None]


def _create_cases(db: sqlite_utils.Database) -> None:
    db["cases"].create(
        {
            "case_id": str,
            "kind": str,
            "role": str,
            "sender_id": str,
            "channel": str,
            "status": str,
            "bank": str,
            "amount": float,
            "txn_date": str,
            "merchant": str,
            "card_last4": str,
            "card_type": str,
            "steps_done": str,
            "handoff_requested": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="case_id",
        not_null={"kind", "role", "sender_id", "channel", "status", "steps_done", "created_at", "updated_at"},
        defaults={"steps_done": "[]", "handoff_requested": 0},
    )
    # One unfinished case per conversation, even when two requests race.
    db.execute(
        "CREATE UNIQUE INDEX idx_cases_one_open_per_sender ON cases(sender_id) "
        "WHERE status NOT IN ('resolved', 'closed')"
    )
    db["cases"].create_index(["status", "created_at"])
    db["case_counters"].create({"day": str, "last": int}, pk="day")


def _create_case_events(db: sqlite_utils.Database) -> None:
    db["case_events"].create(
        {"id": int, "case_id": str, "at": str, "event": str, "detail": str},
        pk="id",
        foreign_keys=[("case_id", "cases", "case_id")],
    )
    db["case_events"].create_index(["case_id"])


def _create_handoffs(db: sqlite_utils.Database) -> None:
    db["handoffs"].create(
        {
            "id": int,
            "sender_id": str,
            "channel": str,
            "case_id": str,
            "requested_at": str,
            "resolved_at": str,
        },
        pk="id",
    )
    db["handoffs"].create_index(["resolved_at", "requested_at"])


def _add_fact_columns_and_allow_several_cases(db: sqlite_utils.Database) -> None:
    db["cases"].add_column("correct_amount", float)
    db["cases"].add_column("cross_border", int)
    db["cases"].add_column("unknown_facts", str, not_null_default="[]")
    # A conversation may now hold one case per problem the user reported.
    db.execute("DROP INDEX idx_cases_one_open_per_sender")
    db["cases"].create_index(["sender_id", "created_at"])


def _one_waiting_handoff_per_conversation(db: sqlite_utils.Database) -> None:
    # Earlier duplicates are marked resolved, keeping each conversation's first request.
    db.execute(
        "UPDATE handoffs SET resolved_at = requested_at WHERE resolved_at IS NULL AND id NOT IN "
        "(SELECT min(id) FROM handoffs WHERE resolved_at IS NULL GROUP BY sender_id)"
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_handoffs_one_waiting_per_sender ON handoffs(sender_id) "
        "WHERE resolved_at IS NULL"
    )


def _create_checklist_links(db: sqlite_utils.Database) -> None:
    db["checklist_links"].create(
        {"token_hash": str, "case_id": str, "created_at": str, "expires_at": str, "revoked_at": str},
        pk="token_hash",
        not_null={"case_id", "created_at", "expires_at"},
        foreign_keys=[("case_id", "cases", "case_id")],
    )
    db["checklist_links"].create_index(["case_id"])


def namespace_conversations(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(new, old) sender ids for rows of (sender_id, channel) recorded before namespaces."""
    changes = {(legacy_conversation_id(row["sender_id"], row["channel"]), row["sender_id"]) for row in rows}
    return sorted(change for change in changes if change[0] != change[1])


def _namespace_sender_ids(db: sqlite_utils.Database) -> None:
    for table in ("cases", "handoffs"):
        rows = list(db.query(f"SELECT DISTINCT sender_id, channel FROM {table}"))
        for new, old in namespace_conversations(rows):
            db.execute(f"UPDATE {table} SET sender_id = ? WHERE sender_id = ?", [new, old])


# Ordered and named; applied once each and recorded in `_migrations`.
MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_create_cases", _create_cases),
    ("0002_create_case_events", _create_case_events),
    ("0003_create_handoffs", _create_handoffs),
    ("0004_fact_columns_and_several_cases", _add_fact_columns_and_allow_several_cases),
    ("0005_create_checklist_links", _create_checklist_links),
    ("0006_namespace_sender_ids", _namespace_sender_ids),
    ("0007_one_waiting_handoff_per_conversation", _one_waiting_handoff_per_conversation),
]


def migrate(db: sqlite_utils.Database, migrations: list[tuple[str, Migration]] = MIGRATIONS) -> list[str]:
    """Apply pending migrations in one write transaction; returns the names applied.

    BEGIN IMMEDIATE makes processes that start together (action server,
    console) take turns, so the second one sees the first one's work.
    """
    newly_applied = []
    db.execute("BEGIN IMMEDIATE")
    try:
        db["_migrations"].create({"name": str, "applied_at": str}, pk="name", if_not_exists=True)
        applied = {row["name"] for row in db["_migrations"].rows}
        for name, migration in migrations:
            if name not in applied:
                migration(db)
                db["_migrations"].insert({"name": name, "applied_at": now().isoformat()})
                newly_applied.append(name)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return newly_applied


def sqlite_path_from_url(url: str) -> str:
    """``sqlite:///var/cases.db`` → ``var/cases.db``; a bare path is accepted too."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if "://" in url:
        raise ValueError(f"unsupported case store URL scheme: {url.split('://')[0]}")
    return url


def _enable_wal(db: sqlite_utils.Database, attempts: int = 50) -> None:
    """Switch a new file to WAL (a no-op once it is: the mode is stored in the file).

    The switch needs an exclusive lock, and when several connections open a
    new file at once SQLite can report "database is locked" straight away
    instead of waiting out busy_timeout, so we wait and try again ourselves.
    """
    for _ in range(attempts - 1):
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
            time.sleep(0.05)
    db.enable_wal()


class SQLiteCaseStore:
    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            private_file(path)
        # Autocommit mode: every write goes through `_transaction`, which takes
        # the write lock up front so concurrent creators queue instead of failing.
        connection = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self._db = sqlite_utils.Database(connection)
        self._db.execute("PRAGMA busy_timeout = 30000")
        if str(path) != ":memory:":
            _enable_wal(self._db)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._lock = threading.Lock()
        with self._lock:
            migrate(self._db)

    @property
    def db(self) -> sqlite_utils.Database:
        return self._db

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite_utils.Database]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def open_case(self, sender_id: str, channel: str, kind: str, facts: Facts) -> Case:
        check_kind(kind)
        with self._transaction() as db:
            timestamp = now()
            (opened_today,) = db.execute(OPENED_TODAY, [sender_id, timestamp.date().isoformat()]).fetchone()
            if opened_today >= MAX_NEW_CASES_PER_DAY:
                raise TooManyCases(sender_id)
            case_id = self._next_case_id(db, timestamp.date())
            db["cases"].insert(new_case_row(case_id, kind, sender_id, channel, facts, timestamp))
            self._log(db, case_id, "created", {"kind": kind, "channel": channel})
        return self._require(case_id)

    def get(self, case_id: str) -> Case | None:
        rows = list(self._db["cases"].rows_where("case_id = ?", [case_id.upper()]))
        return case_from_row(rows[0]) if rows else None

    def get_for_owner(self, case_id: str, sender_id: str) -> Case | None:
        case = self.get(case_id)
        if case is None or case.sender_id != sender_id:
            return None
        return case

    def current_case(self, sender_id: str) -> Case | None:
        row = self._current_row(self._db, sender_id)
        return case_from_row(row) if row else None

    def cases_for_owner(self, sender_id: str) -> list[Case]:
        rows = self._db["cases"].rows_where(
            "sender_id = ?", [sender_id], order_by=f"{UNFINISHED_FIRST}, created_at DESC"
        )
        return [case_from_row(row) for row in rows]

    def update_facts(self, case_id: str, facts: Facts) -> Case:
        with self._transaction() as db:
            case = self._require(case_id)
            merged = case.facts.merged_with(facts)
            db["cases"].update(case.case_id, {**facts_to_row(merged), "updated_at": now().isoformat()})
            self._log(db, case.case_id, "facts_updated", facts_change(facts))
        return self._require(case_id)

    def change_kind(self, case_id: str, kind: str) -> Case:
        check_kind(kind)
        with self._transaction() as db:
            case = self._require(case_id)
            if case.kind != kind:
                db["cases"].update(
                    case.case_id, {"kind": kind, "role": ROLES[kind], "updated_at": now().isoformat()}
                )
                self._log(db, case.case_id, "kind_changed", {"from": case.kind, "to": kind})
        return self._require(case_id)

    def mark_steps_done(self, case_id: str, step_ids: list[str]) -> Case:
        with self._transaction() as db:
            case = self._require(case_id)
            new_steps = [step for step in step_ids if step not in case.steps_done]
            if new_steps:
                steps_done = [*case.steps_done, *new_steps]
                db["cases"].update(
                    case_id, {"steps_done": json.dumps(steps_done), "updated_at": now().isoformat()}
                )
                self._log(db, case_id, "steps_done", new_steps)
        return self._require(case_id)

    def set_status(self, case_id: str, status: str) -> Case:
        if status not in STATUSES:
            raise ValueError(f"unknown status: {status}")
        with self._transaction() as db:
            case = self._require(case_id)
            if case.status != status:
                db["cases"].update(case_id, {"status": status, "updated_at": now().isoformat()})
                self._log(db, case_id, "status", {"from": case.status, "to": status})
        return self._require(case_id)

    def request_handoff(self, sender_id: str, channel: str, case_id: str | None) -> Handoff:
        timestamp = now()
        with self._transaction() as db:
            waiting = next(iter(db.query(WAITING_HANDOFF, [sender_id])), None)
            if waiting is not None:
                return handoff_from_row(waiting, already_waiting=True)
            table = db["handoffs"]
            table.insert(
                {
                    "sender_id": sender_id,
                    "channel": channel,
                    "case_id": case_id,
                    "requested_at": timestamp.isoformat(),
                    "resolved_at": None,
                }
            )
            handoff_id = table.last_pk
            if case_id is not None:
                db["cases"].update(case_id, {"handoff_requested": 1, "updated_at": timestamp.isoformat()})
                self._log(db, case_id, "handoff_requested", {"channel": channel})
        return Handoff(handoff_id, sender_id, channel, case_id, timestamp)

    def add_checklist_link(self, case_id: str, token_hash: str, expires_at: datetime) -> None:
        with self._transaction() as db:
            db["checklist_links"].insert(new_link_row(self._require(case_id).case_id, token_hash, expires_at))

    def case_for_checklist_link(self, token_hash: str) -> Case | None:
        rows = self._db.query(
            f"SELECT cases.* FROM checklist_links JOIN cases USING (case_id) WHERE {LIVE_LINK}",
            [token_hash, now().isoformat()],
        )
        row = next(iter(rows), None)
        return case_from_row(row) if row else None

    def revoke_checklist_links(self, case_id: str, by: str) -> int:
        with self._transaction() as db:
            case = self._require(case_id)
            timestamp = now().isoformat()
            revoked = db.execute(
                "UPDATE checklist_links SET revoked_at = ? "
                "WHERE case_id = ? AND revoked_at IS NULL AND expires_at > ?",
                [timestamp, case.case_id, timestamp],
            ).rowcount
            self._log(db, case.case_id, "checklist_links_revoked", {"by": by, "links": revoked})
        return revoked

    def events(self, case_id: str) -> list[dict[str, Any]]:
        return [
            {**row, "detail": json.loads(row["detail"])}
            for row in self._db["case_events"].rows_where("case_id = ?", [case_id], order_by="id")
        ]

    def _require(self, case_id: str) -> Case:
        case = self.get(case_id)
        if case is None:
            raise CaseNotFound(case_id)
        return case

    @staticmethod
    def _current_row(db: sqlite_utils.Database, sender_id: str) -> dict[str, Any] | None:
        rows = list(
            db["cases"].rows_where(
                "sender_id = ? AND status NOT IN ('resolved', 'closed')",
                [sender_id],
                order_by="created_at DESC",
                limit=1,
            )
        )
        return rows[0] if rows else None

    @staticmethod
    def _next_case_id(db: sqlite_utils.Database, day: date) -> str:
        key = day.strftime("%Y%m%d")
        (last,) = db.execute(
            "INSERT INTO case_counters(day, last) VALUES (?, 1) "
            "ON CONFLICT(day) DO UPDATE SET last = last + 1 RETURNING last",
            [key],
        ).fetchone()
        return f"WS-{key}-{last:04d}"

    @staticmethod
    def _log(db: sqlite_utils.Database, case_id: str, event: str, detail: Any) -> None:
        db["case_events"].insert(
            {
                "case_id": case_id,
                "at": now().isoformat(),
                "event": event,
                "detail": json.dumps(detail, ensure_ascii=False),
            }
        )


DEFAULT_CASE_STORE_URL = "sqlite:///var/cases.db"


POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# ORDER BY fragment, the same in both databases' SQL.
UNFINISHED_FIRST = "CASE WHEN status IN ('resolved', 'closed') THEN 1 ELSE 0 END"


# Queries the same in both databases' SQL (? placeholders; PostgreSQL's store swaps them).
OPENED_TODAY = "SELECT count(*) FROM cases WHERE sender_id = ? AND substr(created_at, 1, 10) = ?"
WAITING_HANDOFF = "SELECT * FROM handoffs WHERE sender_id = ? AND resolved_at IS NULL"


def handoff_from_row(row: dict[str, Any], already_waiting: bool = False) -> Handoff:
    return Handoff(
        handoff_id=row["id"],
        sender_id=row["sender_id"],
        channel=row["channel"],
        case_id=row["case_id"],
        requested_at=datetime.fromisoformat(row["requested_at"]),
        already_waiting=already_waiting,
    )


# The WHERE clause of a link lookup (token hash, now), the same in both databases' SQL.
LIVE_LINK = "token_hash = ? AND revoked_at IS NULL AND expires_at > ?"


def new_link_row(case_id: str, token_hash: str, expires_at: datetime) -> dict[str, Any]:
    return {
        "token_hash": token_hash,
        "case_id": case_id,
        "created_at": now().isoformat(),
        "expires_at": expires_at.isoformat(),
        "revoked_at": None,
    }


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown case kind: {kind}")


def open_store(url: str) -> CaseStore:
    """``sqlite:///path`` or a bare path → SQLite; ``postgresql://…`` → PostgreSQL."""
    if url.startswith(POSTGRES_SCHEMES):
        # Imported here so that SQLite deployments never load psycopg2.
        from bot.cases_postgres import PostgresCaseStore

        return PostgresCaseStore(url)
    return SQLiteCaseStore(sqlite_path_from_url(url))


def store_from_env() -> CaseStore:
    """The store named by ``CASE_STORE_URL``; the action server and the Rasa server share it."""
    return open_store(os.environ.get("CASE_STORE_URL", DEFAULT_CASE_STORE_URL))


# Row ↔ dataclass mapping, shared by both stores: the columns are the same.
def new_case_row(
    case_id: str, kind: str, sender_id: str, channel: str, facts: Facts, timestamp: datetime
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "kind": kind,
        "role": ROLES[kind],
        "sender_id": sender_id,
        "channel": channel,
        "status": "open",
        **facts_to_row(facts),
        "steps_done": "[]",
        "handoff_requested": 0,
        "created_at": timestamp.isoformat(),
        "updated_at": timestamp.isoformat(),
    }


def facts_to_row(facts: Facts) -> dict[str, Any]:
    """The columns of the known facts, and the whole list of unknown ones."""
    row = {name: value for name, value in asdict(facts).items() if name in FACT_FIELDS}
    row["txn_date"] = facts.txn_date.isoformat() if facts.txn_date else None
    row["cross_border"] = None if facts.cross_border is None else int(facts.cross_border)
    known = {name: value for name, value in row.items() if value is not None}
    return {**known, "unknown_facts": json.dumps(sorted(facts.unknown))}


def facts_change(facts: Facts) -> dict[str, Any]:
    """A ``facts_updated`` event's detail: what this change said, unknown facts included."""
    row = facts_to_row(facts)
    unknown = json.loads(row.pop("unknown_facts"))
    return {**row, "unknown": unknown} if unknown else row


def facts_from_row(row: dict[str, Any]) -> Facts:
    return Facts(
        bank=row["bank"],
        amount=row["amount"],
        correct_amount=row["correct_amount"],
        txn_date=date.fromisoformat(row["txn_date"]) if row["txn_date"] else None,
        merchant=row["merchant"],
        card_last4=row["card_last4"],
        card_type=row["card_type"],
        cross_border=None if row["cross_border"] is None else bool(row["cross_border"]),
        unknown=frozenset(json.loads(row["unknown_facts"] or "[]")),
    )


def case_from_row(row: dict[str, Any]) -> Case:
    return Case(
        case_id=row["case_id"],
        kind=row["kind"],
        role=row["role"],
        sender_id=row["sender_id"],
        channel=row["channel"],
        status=row["status"],
        facts=facts_from_row(row),
        steps_done=tuple(json.loads(row["steps_done"])),
        handoff_requested=bool(row["handoff_requested"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )
