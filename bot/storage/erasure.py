"""A conversation's personal data: its export, its erasure, and the retention purge (PIPL Art. 19, 45, 47).

    report = erase_conversation(store, "web:3f2a…", requested_by="user", reason="self_service")
    erase_tracker_events(tracker, "web:3f2a…")      # its rows in Rasa's `events` table
    erase_redis_state(redis_client, "web:3f2a…")    # its wushua: keys
    data = export_conversation(store, "web:3f2a…")  # its cases with facts, events, follow-ups, feedback
    report = purge_closed_cases(store, tracker, older_than_days=180, dry_run=True)

``tracker`` is the tracker database: a ``Database``, a SQLAlchemy engine (the
Rasa tracker store's own), or its location as the console reads it
(``TRACKER_DB_URL``: a SQLite file's path or a ``postgresql://`` URL).

Erasure (``_erase``, the one place that says what is kept) runs in one
transaction of the case store. It deletes what only describes the person
(case events, notes, tags, checklist links, follow-ups and the opt-out,
conversation reviews, flagged message texts), empties the case facts and the
feedback comment, and keeps a tombstone for staff records: each case row with
its id, kind, role, channel, status and times, ``erased_at`` and
``erased_by``, and one ``data_erased`` event. An open case is closed. The
conversation's id becomes ``erased:<random>`` on the cases, handoffs and
audit entries that named it, so nothing links the tombstone to the person;
the audit details of those entries are replaced (they may quote a staff
reply). On SQLite, deleted pages are zeroed (``secure_delete``) and the
search index forgets the erased words (``Dialect.forget_erased``).

The live path (the user's 删除我的信息) runs under the conversation's lock in
the Rasa server. The purge touches only conversations silent for the whole
retention period, so no turn can be in flight; it deletes tracker events
before erasing the cases, so a run that stops halfway is finished by the next.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from bot.domain import clock
from bot.domain.cases import FACT_FIELDS, FINISHED_STATUSES, Case, CaseNotFound, Facts
from bot.infra.identity import namespace_of
from bot.storage.case_log import write_audit
from bot.storage.cases import SQLCaseStore, facts_to_row
from bot.storage.database import Database
from bot.storage.receipts import StoredReceipt
from bot.storage.redis_state import KEY_PREFIX, conversation_hash
from bot.storage.schema import (
    audit_log,
    case_events,
    case_feedback,
    case_notes,
    case_tags,
    cases,
    checklist_links,
    conversation_reviews,
    flagged_examples,
    follow_up_opt_outs,
    follow_ups,
    handoffs,
    receipts,
)

TrackerTarget = Database | sa.engine.Engine | str | Path

USER = "user"  # ``requested_by`` when the person asked for it themselves
ERASED_PREFIX = "erased:"
ERASED_EVENT = "data_erased"
PURGE_ACTION = "retention_purge"
RETENTION_VARIABLE = "RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 180
# A batch holds SQLite's write lock for its transaction: 500 took up to 1.04 s on a loaded
# 2-core machine (bench/history.md), so half that.
DEFAULT_BATCH_SIZE = 250
# A picture that never became a case's evidence (the user never reported, or declined and the
# erasure missed it) is kept this long at most, whatever the retention period.
LOOSE_RECEIPT_DAYS = 30
# Between batches: longer than SQLite's longest sleep between tries for a busy lock (100 ms),
# so a writer that waited for one batch takes the lock before the next batch does.
BATCH_PAUSE_SECONDS = 0.15
MERGE_PAUSE_SECONDS = 0.01
PURGE_BY = "系统"  # the name on purges the console schedules, as on its automatic hand-backs
# Every fact column empty, the list of unknown facts too.
ERASED_FACTS = {**dict.fromkeys(FACT_FIELDS), **facts_to_row(Facts())}
REDACTED_AUDIT = json.dumps({"redacted": ERASED_EVENT})
CLOSED = "closed"

# Per conversation (executed for many at once): its id becomes its tombstone's everywhere.
OLD, NEW, AT = sa.bindparam("old"), sa.bindparam("new"), sa.bindparam("at")
RENAME_HANDOFFS = (
    handoffs.update()
    .where(handoffs.c.sender_id == OLD)
    .values(sender_id=NEW, resolved_at=sa.func.coalesce(handoffs.c.resolved_at, AT))
)
RENAME_AUDIT = (
    audit_log.update().where(audit_log.c.sender_id == OLD).values(sender_id=NEW, detail=REDACTED_AUDIT)
)
TOMBSTONE = (
    cases.update()
    .where(cases.c.sender_id == OLD, cases.c.erased_at.is_(None))
    .values(
        sender_id=NEW,
        # No IN (…): its parameters expand, which an executemany cannot do.
        status=sa.case(
            (sa.or_(*(cases.c.status == s for s in FINISHED_STATUSES)), cases.c.status), else_=CLOSED
        ),
        erased_at=AT,
        erased_by=sa.bindparam("by"),
        **ERASED_FACTS,
    )
)


@dataclass
class ErasureReport:
    """What an erasure (or a purge's share of one) touched: case ids, and rows or keys per table or kind."""

    case_ids: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, other: ErasureReport) -> None:
        self.case_ids.extend(other.case_ids)
        self.counts.update(other.counts)

    def as_json(self) -> dict[str, Any]:
        return {"case_ids": self.case_ids, "counts": dict(sorted(self.counts.items()))}


@dataclass
class PurgeReport:
    """A purge run: the conversations and cases it selected (a dry run touches none of them)."""

    dry_run: bool
    cutoff: datetime
    conversations: int = 0
    erased: ErasureReport = field(default_factory=ErasureReport)

    def as_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "cutoff": self.cutoff.isoformat(),
                "conversations": self.conversations, **self.erased.as_json()}  # fmt: skip


# Erasure


def erase_conversation(
    store: SQLCaseStore, sender_id: str, *, requested_by: str, reason: str
) -> ErasureReport:
    """Erase the conversation's personal data from the case store, with one audit entry, in one transaction.

    ``requested_by``: ``USER`` or the staff member's name. The tracker's events and Redis
    keys are the caller's to erase too (``erase_tracker_events``, ``erase_redis_state``).
    """

    def erase() -> ErasureReport:
        report = _erase(store.db, [sender_id], requested_by=requested_by, reason=reason)
        store.db.dialect.forget_erased(store.db.connection)
        detail = {"reason": reason, **report.as_json()}
        write_audit(store.db, requested_by, ERASED_EVENT, detail=detail)
        return report

    return store.db.run(erase)


def erase_case(store: SQLCaseStore, case_id: str, *, requested_by: str, reason: str) -> ErasureReport:
    """Erase the conversation the case belongs to (``CaseNotFound`` if there is no such case).

    An erased case's conversation is gone already: nothing more is erased.
    """
    case = store.get(case_id)
    if case is None:
        raise CaseNotFound(case_id)
    if case.sender_id.startswith(ERASED_PREFIX):
        return ErasureReport()
    return erase_conversation(store, case.sender_id, requested_by=requested_by, reason=reason)


def _erase(db: Database, senders: Sequence[str], *, requested_by: str, reason: str) -> ErasureReport:
    """Erase these conversations in the caller's transaction; every rule of what is kept is here."""
    at = clock.now().isoformat()
    owned = sa.select(cases.c.case_id, cases.c.sender_id, cases.c.status).where(
        cases.c.sender_id.in_(senders), cases.c.erased_at.is_(None)
    )
    found = db.execute(owned.order_by(cases.c.case_id).with_for_update()).all()
    case_ids = [row.case_id for row in found]
    report = ErasureReport(case_ids=case_ids)
    count = report.counts
    of_cases = sa.bindparam("case_ids", case_ids, expanding=True)
    of_senders = sa.bindparam("senders", list(senders), expanding=True)
    for table in (case_events, case_notes, case_tags, checklist_links):
        count[table.name] = db.execute(table.delete().where(table.c.case_id.in_(of_cases))).rowcount
    count["follow_ups"] = db.execute(
        follow_ups.delete().where(
            sa.or_(follow_ups.c.case_id.in_(of_cases), follow_ups.c.sender_id.in_(of_senders))
        )
    ).rowcount
    # Pictures go whole: a photo of a slip is personal data from edge to edge.
    count["receipts"] = db.execute(
        receipts.delete().where(
            sa.or_(receipts.c.case_id.in_(of_cases), receipts.c.sender_id.in_(of_senders))
        )
    ).rowcount
    for table in (follow_up_opt_outs, conversation_reviews, flagged_examples):
        count[table.name] = db.execute(table.delete().where(table.c.sender_id.in_(of_senders))).rowcount
    commented = case_feedback.c.case_id.in_(of_cases) & case_feedback.c.comment.is_not(None)
    count["case_feedback_comments"] = db.execute(
        case_feedback.update().where(commented).values(comment=None)
    ).rowcount

    # The audit entries on these cases keep who did what and when, not what they said.
    on_cases = audit_log.c.case_id.in_(of_cases) & audit_log.c.sender_id.is_(None)
    count["audit_log"] = db.execute(audit_log.update().where(on_cases).values(detail=REDACTED_AUDIT)).rowcount
    for table, key in ((handoffs, "handoffs"), (audit_log, "audit_log")):
        named = sa.select(sa.func.count()).where(table.c.sender_id.in_(of_senders))
        count[key] += db.execute(named).scalar_one()
    # A new id per conversation, which nothing links to the old one.
    renames = [{"old": sender, "new": ERASED_PREFIX + secrets.token_hex(12), "at": at} for sender in senders]
    for statement in (RENAME_HANDOFFS, RENAME_AUDIT):
        db.execute(statement, renames)
    db.execute(TOMBSTONE, [{**rename, "by": requested_by} for rename in renames])
    count["cases"] = len(case_ids)
    events = []
    for row in found:
        detail: dict[str, Any] = {"by": requested_by, "reason": reason}
        if row.status not in FINISHED_STATUSES:
            detail["status"] = {"from": row.status, "to": CLOSED}
        events.append({"case_id": row.case_id, "at": at, "event": ERASED_EVENT, "detail": json.dumps(detail)})
    if events:
        db.execute(case_events.insert(), events)
    return report


# Rasa's tracker database


def erase_tracker_events(tracker: TrackerTarget, sender_id: str) -> int:
    """Delete the conversation's rows from Rasa's ``events`` table; how many there were."""
    return _delete_events(tracker, [sender_id])


def _delete_events(tracker: TrackerTarget, senders: Sequence[str]) -> int:
    if not senders:
        return 0
    with _tracker_engine(tracker) as engine, engine.begin() as connection:
        if not sa.inspect(connection).has_table("events"):
            return 0  # Rasa creates it on its first start
        delete = sa.text("DELETE FROM events WHERE sender_id IN :senders").bindparams(
            sa.bindparam("senders", expanding=True)
        )
        return connection.execute(delete, {"senders": list(senders)}).rowcount


def _last_events(tracker: TrackerTarget, senders: Sequence[str]) -> dict[str, float]:
    """The Unix time of each conversation's last tracker event (those with none are left out)."""
    if not senders:
        return {}
    with _tracker_engine(tracker) as engine, engine.connect() as connection:
        if not sa.inspect(connection).has_table("events"):
            return {}
        last = sa.text(
            "SELECT sender_id, max(timestamp) FROM events WHERE sender_id IN :senders GROUP BY sender_id"
        ).bindparams(sa.bindparam("senders", expanding=True))
        return {sender: stamp for sender, stamp in connection.execute(last, {"senders": list(senders)})}


class _tracker_engine:
    """The engine of a tracker target; one opened here from a location is closed after use."""

    def __init__(self, tracker: TrackerTarget) -> None:
        self._opened = None if isinstance(tracker, Database | sa.engine.Engine) else Database(tracker)
        database = self._opened or tracker
        self.engine = database.engine if isinstance(database, Database) else database

    def __enter__(self) -> sa.engine.Engine:
        return self.engine

    def __exit__(self, *exc: object) -> None:
        if self._opened is not None:
            self._opened.close()


def tracker_transcript(tracker: str | Path, sender_id: str) -> list[dict[str, Any]]:
    """The conversation's user and bot messages (secrets masked) with their times, for an export."""
    from bot.console.transcripts import TrackerReader  # the console's reader, the one way to read transcripts

    reader = TrackerReader(tracker)
    try:
        turns = reader.transcript(sender_id)
    finally:
        reader.close()
    return [
        {"speaker": turn.speaker, "at": turn.at.isoformat(), "text": turn.text, "buttons": list(turn.buttons)}
        for turn in turns
        if turn.speaker in ("user", "bot")
    ]


# Redis


def redis_keys(client: redis.Redis, sender_id: str) -> list[str]:
    """Every wushua: key about the conversation: named by its hash (split card number, rate
    limit, WeChat turns and outcomes) or its OpenID (WeChat menu), or holding its OpenID
    (the WeChat nonce of a message without a MsgId)."""
    hashed = conversation_hash(sender_id)
    found = [key for key in (f"{KEY_PREFIX}split:{hashed}",) if client.exists(key)]
    for pattern in (f"{KEY_PREFIX}rate:*:{hashed}:*", f"{KEY_PREFIX}wechat:*:{hashed}:*"):
        found.extend(client.scan_iter(match=pattern, count=1000))
    if namespace_of(sender_id) == "wechat":
        openid = sender_id.partition(":")[2]
        found.extend(key for key in (f"{KEY_PREFIX}wechat:menu:{openid}",) if client.exists(key))
        for key in client.scan_iter(match=f"{KEY_PREFIX}wechat:nonce:*", count=1000):
            if (client.get(key) or "").startswith(f"{openid}:"):
                found.append(key)
    return found


def erase_redis_state(client: redis.Redis, sender_id: str) -> int:
    """Delete every wushua: key about the conversation; how many there were.

    ``client`` is synchronous (``redis_state.sync_client``); from an event loop, run it in a thread.
    Rasa's lock (``wushua:lock:<sender id>`` in the lock store's database) is held by the
    eraser itself and removed by Rasa when the turn ends.
    """
    keys = sorted(set(redis_keys(client, sender_id)))  # needs ``decode_responses`` (``sync_client``)
    return int(client.delete(*keys)) if keys else 0


# Export


def export_conversation(store: SQLCaseStore, sender_id: str) -> dict[str, Any]:
    """The conversation's cases with their facts, events, follow-ups and feedback, as JSON-able data."""
    return {
        "conversation": sender_id,
        "cases": [_exported_case(store, case) for case in store.cases_for_owner(sender_id)],
        "follow_ups_turned_off": store.follow_ups.opted_out(sender_id),
        "receipts": [
            _exported_receipt(store, receipt) for receipt in store.receipts.of_conversation(sender_id)
        ],
    }


def _exported_receipt(store: SQLCaseStore, receipt: StoredReceipt) -> dict[str, Any]:
    image = store.receipts.image(receipt.receipt_id) or b""
    return {
        "case_id": receipt.case_id,
        "sent_at": receipt.created_at.isoformat(),
        "status": receipt.status,
        "read": {"kind": receipt.reading.kind, **receipt.reading.facts()},
        "image_jpeg_base64": base64.b64encode(image).decode("ascii"),
    }


def _exported_case(store: SQLCaseStore, case: Case) -> dict[str, Any]:
    feedback = store.feedback(case.case_id)
    facts = facts_to_row(case.facts)
    return {
        "case_id": case.case_id,
        "kind": case.kind,
        "status": case.status,
        "channel": case.channel,
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "facts": {name: value for name, value in facts.items() if name != "unknown_facts"},
        "unknown_facts": sorted(case.facts.unknown),
        "steps_done": list(case.steps_done),
        "events": [
            {name: event[name] for name in ("at", "event", "detail")} for event in store.events(case.case_id)
        ],
        "follow_ups": [
            {"step": item.step_id, "due_at": item.due_at.isoformat(), "status": item.status}
            for item in store.follow_ups.for_case(case.case_id)
        ],
        "feedback": feedback
        and {
            "score": feedback.score,
            "label": feedback.label,
            "comment": feedback.comment,
            "at": feedback.created_at.isoformat(),
        },
    }


# Retention


def retention_days_from_env() -> int:
    """``RETENTION_DAYS`` (default 180); 0 turns the scheduled purge off."""
    text = os.environ.get(RETENTION_VARIABLE, "").strip()
    if not text:
        return DEFAULT_RETENTION_DAYS
    if not text.isdecimal():
        raise ValueError(f"{RETENTION_VARIABLE}: a whole number of days (0: never purge), not {text!r}")
    return int(text)


def purge_candidates(
    store: SQLCaseStore,
    tracker: TrackerTarget,
    cutoff: datetime,
    *,
    after: str = "",
    limit: int = DEFAULT_BATCH_SIZE,
) -> tuple[list[str], str | None]:
    """The next conversations the purge takes, in sender id order after ``after``, and where to go on.

    A conversation is taken when all its cases (none yet erased) are finished, none changed
    since ``cutoff``, and its last tracker event is older too. Returns (taken, next ``after``);
    the second is None when no conversation is left. The dry run and the real run both walk this.
    """
    unfinished = sa.func.sum(sa.case((cases.c.status.in_(FINISHED_STATUSES), 0), else_=1))
    query = (
        sa.select(cases.c.sender_id)
        .where(cases.c.erased_at.is_(None), cases.c.sender_id > after)
        .group_by(cases.c.sender_id)
        .having(sa.and_(unfinished == 0, sa.func.max(cases.c.updated_at) < cutoff.isoformat()))
        .order_by(cases.c.sender_id)
        .limit(limit)
    )
    senders = [row[0] for row in store.db.execute(query)]
    if not senders:
        return [], None
    last_events = _last_events(tracker, senders)
    silent = [sender for sender in senders if last_events.get(sender, 0) < cutoff.timestamp()]
    return silent, senders[-1]


def purge_closed_cases(
    store: SQLCaseStore,
    tracker: TrackerTarget,
    *,
    older_than_days: int = DEFAULT_RETENTION_DAYS,
    dry_run: bool,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: Callable[[], datetime] = clock.now,
    by: str = PURGE_BY,
) -> PurgeReport:
    """Erase the conversations whose cases all closed more than ``older_than_days`` ago, with their
    tracker events: each batch in its own transaction, one audit entry for the run.

    The dry run selects exactly as the real run does, and lists the cases without touching them.
    """
    if older_than_days < 1:
        raise ValueError("older_than_days: at least 1")
    report = PurgeReport(dry_run=dry_run, cutoff=now() - timedelta(days=older_than_days))
    entry = store.db.run(lambda: _claim_run(store.db, by, None, now()))
    assert entry is not None
    return _run_purge(
        store, tracker, report, entry, by=by, older_than_days=older_than_days, batch_size=batch_size
    )


def scheduled_purge(
    store: SQLCaseStore,
    tracker: TrackerTarget,
    *,
    every: timedelta = timedelta(days=1),
    now: Callable[[], datetime] = clock.now,
) -> PurgeReport | None:
    """The console's daily purge: runs unless ``RETENTION_DAYS`` is 0 or a run started within ``every``.

    The run's audit entry is its claim, taken under a lock, so of several console processes one runs it.
    """
    days = retention_days_from_env()
    if days == 0:
        return None
    started = now()
    entry = store.db.run(lambda: _claim_run(store.db, PURGE_BY, started - every, started))
    if entry is None:
        return None
    report = PurgeReport(dry_run=False, cutoff=started - timedelta(days=days))
    return _run_purge(
        store, tracker, report, entry, by=PURGE_BY, older_than_days=days, batch_size=DEFAULT_BATCH_SIZE
    )


def _claim_run(db: Database, by: str, not_since: datetime | None, at: datetime) -> int | None:
    """The id of a new run's audit entry; None if a scheduled run started after ``not_since``."""
    db.dialect.lock_for_purge(db.connection)
    if not_since is not None:
        runs = sa.select(audit_log.c.id).where(
            audit_log.c.action == PURGE_ACTION,
            audit_log.c.username == by,
            audit_log.c.at > not_since.isoformat(),
        )
        if db.execute(runs.limit(1)).first() is not None:
            return None
    write_audit(db, by, PURGE_ACTION, detail={"started_at": at.isoformat(), "completed": False})
    latest = sa.select(sa.func.max(audit_log.c.id)).where(audit_log.c.action == PURGE_ACTION)
    return db.execute(latest).scalar_one()


def _run_purge(
    store: SQLCaseStore,
    tracker: TrackerTarget,
    report: PurgeReport,
    entry: int,
    *,
    by: str,
    older_than_days: int,
    batch_size: int,
) -> PurgeReport:
    after: str | None = ""
    try:
        with _tracker_engine(tracker) as engine:
            while after is not None:
                senders, after = purge_candidates(store, engine, report.cutoff, after=after, limit=batch_size)
                report.conversations += len(senders)
                if senders and report.dry_run:
                    report.erased.add(_dry_run(store, senders))
                elif senders:
                    report.erased.add(_purge(store, engine, senders, by, entry))
                    time.sleep(BATCH_PAUSE_SECONDS)
        loose_since = report.cutoff + timedelta(days=max(older_than_days - LOOSE_RECEIPT_DAYS, 0))
        report.erased.counts["receipts_without_case"] = store.db.run(
            lambda: _take_loose_receipts(store.db, loose_since, dry_run=report.dry_run)
        )
        if not report.dry_run and report.erased.case_ids:
            # Once per run, not per batch, and in short steps with writers let in between: done
            # at once it rewrites the whole index in one write (about 0.1 s per 30,000 cases).
            while store.db.run(lambda: store.db.dialect.forget_erased_step(store.db.connection)):
                time.sleep(MERGE_PAUSE_SECONDS)
    finally:
        # Counts only: each case's own ``data_erased`` event names the run's reason.
        detail = {
            "dry_run": report.dry_run,
            "older_than_days": older_than_days,
            "cutoff": report.cutoff.isoformat(),
            "conversations": report.conversations,
            "cases": len(report.erased.case_ids),
            "counts": dict(sorted(report.erased.counts.items())),
            "completed": after is None,
        }
        finish = audit_log.update().where(audit_log.c.id == entry).values(detail=json.dumps(detail))
        store.db.run(lambda: store.db.execute(finish))
    return report


def _take_loose_receipts(db: Database, cutoff: datetime, *, dry_run: bool) -> int:
    """Pictures under no case, sent before ``cutoff``: deleted, or only counted in a dry run."""
    loose = receipts.c.case_id.is_(None) & (receipts.c.created_at < cutoff.isoformat())
    if dry_run:
        return db.execute(sa.select(sa.func.count()).select_from(receipts).where(loose)).scalar_one()
    return db.execute(receipts.delete().where(loose)).rowcount


def _purge(
    store: SQLCaseStore, tracker: sa.engine.Engine, senders: Sequence[str], by: str, run: int
) -> ErasureReport:
    """One batch: the tracker events first, so that a batch that fails later is taken again next time.

    Each case's ``data_erased`` event names the run by its audit entry."""
    tracker_rows = _delete_events(tracker, senders)
    reason = f"{PURGE_ACTION}:{run}"
    batch = store.db.run(lambda: _erase(store.db, senders, requested_by=by, reason=reason))
    batch.counts["tracker_events"] = tracker_rows
    return batch


def _dry_run(store: SQLCaseStore, senders: Sequence[str]) -> ErasureReport:
    taken = sa.select(cases.c.case_id).where(cases.c.sender_id.in_(senders), cases.c.erased_at.is_(None))
    case_ids = [row[0] for row in store.db.execute(taken.order_by(cases.c.case_id))]
    return ErasureReport(case_ids=case_ids, counts=Counter(cases=len(case_ids)))
