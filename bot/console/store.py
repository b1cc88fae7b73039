"""The console's data: the case store's database, with the console's own tables in it.

Reads cases for the queue, the case page, the dashboard and exports (the
queries are ``bot.storage.console_queries``); writes only the console's own
tables, except that status changes and revoked links go through the case
store (which logs them to ``case_events``). Every change a staff member makes
is written to ``audit_log`` with who and when, in the change's own transaction,
and so is every time staff look at a case or a conversation (``record_view``).
"""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.console import params
from bot.domain.cases import KINDS, STATUSES, Case
from bot.domain.checklist import step_ids_for
from bot.domain.clock import now
from bot.domain.follow_ups import FollowUp
from bot.storage import SQLCaseStore, console_queries, open_database
from bot.storage.case_log import write_audit
from bot.storage.database import Database
from bot.storage.schema import cases

MAX_NOTE_LENGTH = 2000
TAG_PATTERN = re.compile(r"^[\w\-·]{1,20}$")
# Staff looking at personal data: a case page, a conversation (its page, or its live stream). The
# queue and the dashboard are not logged: they list and count, and a row per case shown would bury
# the log; exports are logged as such (``exported``).
VIEW_ACTIONS = ("case_viewed", "conversation_viewed")
# A view repeats one already logged for the same staff member, the same target and the same day
# within this window is not logged again: reloads, and the live stream a page opens right after it,
# would otherwise bury the log. Each staff member's first look of each day is always logged, and a
# page kept open logs again when its stream reconnects after the window.
VIEW_WINDOW = timedelta(minutes=10)
# The views in the window are among the newest entries, so the check reads only these (audit_log has
# no index on sender_id). A burst of more entries than this in the window logs a view twice: harmless.
RECENT_ENTRIES = 5000
# Staff deleted the personal data of a conversation: one entry per case of it, found by case id.


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


@dataclass(frozen=True)
class Resolved:
    """A resolved case: opened at ``created_at``, resolved (last) at ``resolved_at``, and its rating."""

    kind: str
    created_at: datetime
    resolved_at: datetime
    score: int | None
    label: str | None

    @property
    def days(self) -> float:
        return (self.resolved_at - self.created_at).total_seconds() / 86400


@dataclass(frozen=True)
class Outcomes:
    """Time to resolution and satisfaction of the resolved cases of one path or one ISO week."""

    group: str
    resolved: int
    median_days: float | None
    mean_days: float | None
    ratings: int
    average_score: float | None
    satisfied_share: float | None

    @classmethod
    def of(cls, group: str, resolved: list[Resolved]) -> Outcomes:
        days = [case.days for case in resolved]
        scores = [case.score for case in resolved if case.score is not None]
        satisfied = sum(case.label == "satisfied" for case in resolved)
        return cls(
            group=group,
            resolved=len(resolved),
            median_days=statistics.median(days) if days else None,
            mean_days=statistics.fmean(days) if days else None,
            ratings=len(scores),
            average_score=statistics.fmean(scores) if scores else None,
            satisfied_share=satisfied / len(scores) if scores else None,
        )


def iso_week(moment: datetime) -> str:
    """2026-W48: the ISO week (Monday to Sunday) of a China-time moment."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


class ConsoleStore:
    """The case store and its database; ``location`` is a SQLite file's path or a ``postgresql://`` URL."""

    def __init__(self, location: str | Path) -> None:
        self.db: Database = open_database(location)
        self.cases = SQLCaseStore(self.db)

    def close(self) -> None:
        """Give the database connections back; a process that opens many stores (tests) needs to."""
        self.db.close()

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
        query = self.page_query(case_filter, after=after, before=before, limit=limit + 1)
        rows = [_queue_row(row) for row in self.db.query(query)]
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
    ) -> sa.sql.Select:
        return console_queries.page(
            case_filter,
            self.db,
            after=(after.created_at, after.case_id) if after else None,
            before=(before.created_at, before.case_id) if before else None,
            limit=limit,
        )

    def count(self, case_filter: CaseFilter) -> int:
        return console_queries.count(case_filter, self.db)

    def iter_cases(self, case_filter: CaseFilter) -> Iterator[dict[str, Any]]:
        """Every matching case row, newest first, for exports."""
        return console_queries.newest_first(case_filter, self.db)

    def distinct_values(self, column: str) -> list[str]:
        return console_queries.distinct_values(column, self.db)

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
        with self.db.transaction() as db:
            handoff = next((item for item in self.waiting_handoffs() if item.handoff_id == handoff_id), None)
            if handoff is None:
                return None
            db.execute("UPDATE handoffs SET resolved_at = ? WHERE id = ?", [now().isoformat(), handoff_id])
            write_audit(
                db, username, "handoff_resolved", handoff.case_id, handoff.sender_id, {"handoff": handoff_id}
            )
        return handoff

    # Changes to a case

    def set_status(self, case_id: str, status: str, username: str) -> Case:
        def change() -> Case:
            before = self.cases.locked_case(case_id)
            case = self.cases.set_status(case_id, status)
            if before.status != status:
                detail = {"from": before.status, "to": status}
                write_audit(self.db, username, "status_changed", case_id, case.sender_id, detail)
            return case

        return self.db.run(change)

    def revoke_checklist_links(self, case_id: str, username: str) -> int:
        def revoke() -> int:
            revoked = self.cases.revoke_checklist_links(case_id, by=username)
            write_audit(self.db, username, "checklist_links_revoked", case_id, None, {"links": revoked})
            return revoked

        return self.db.run(revoke)

    # Follow-ups

    def follow_ups(self, case_id: str) -> list[FollowUp]:
        return self.cases.follow_ups.for_case(case_id)

    def undelivered_follow_ups(self) -> list[FollowUp]:
        return self.cases.follow_ups.undelivered_for_open_cases()

    def cancel_follow_up(self, case_id: str, follow_up_id: int, username: str) -> FollowUp:
        """Cancel one pending follow-up of the case; ``ValueError`` if the case has no such
        follow-up or it is no longer pending (sent, answered, cancelled)."""

        def cancel() -> FollowUp:
            found = self.cases.follow_ups.get(follow_up_id)
            cancelled = None
            if found is not None and found.case_id == case_id:
                cancelled = self.cases.follow_ups.cancel(follow_up_id, "cancelled_by_staff", by=username)
            if cancelled is None:
                raise ValueError(f"no pending follow-up {follow_up_id} in case {case_id}")
            detail = {"follow_up": follow_up_id, "step": cancelled.step_id}
            write_audit(self.db, username, "follow_up_cancelled", case_id, cancelled.sender_id, detail)
            return cancelled

        return self.db.run(cancel)

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

    def record_view(
        self, username: str, action: str, case_id: str | None = None, sender_id: str | None = None
    ) -> bool:
        """Log that ``username`` looked at a case (``case_viewed``, by its case id) or a conversation
        (``conversation_viewed``, by its sender id), unless the same look is already logged within
        ``VIEW_WINDOW`` today. A conversation counts as looked at on the page of one of its cases too.
        Only ids are written: nothing the user said. True if an entry was written."""
        assert action in VIEW_ACTIONS
        current = now()
        since = max(current - VIEW_WINDOW, current.replace(hour=0, minute=0, second=0, microsecond=0))
        target, value = ("case_id", case_id) if action == "case_viewed" else ("sender_id", sender_id)
        with self.db.transaction() as db:
            last = db.execute(
                f"SELECT at FROM (SELECT * FROM audit_log ORDER BY id DESC LIMIT {RECENT_ENTRIES}) recent "
                f"WHERE username = ? AND action IN ({', '.join('?' for _ in VIEW_ACTIONS)}) "
                f"AND {target} = ? ORDER BY id DESC LIMIT 1",
                [username, *VIEW_ACTIONS, value],
            ).fetchone()
            fresh = last is None or datetime.fromisoformat(last[0]) < since
            if fresh:
                write_audit(db, username, action, case_id, sender_id)
        return fresh

    def audit_log(
        self,
        *,
        case_id: str | None = None,
        sender_id: str | None = None,
        views: bool | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first. With a case id and a sender id: the case's entries and those of its
        conversation that name no case (its page, takeovers). ``views``: only staff views (True),
        only changes (False), or both (None)."""
        clauses: list[str] = []
        values: list[Any] = []
        if case_id is not None and sender_id is not None:
            clauses.append("(case_id = ? OR (case_id IS NULL AND sender_id = ?))")
            values.extend([case_id, sender_id])
        else:
            for column, value in (("case_id", case_id), ("sender_id", sender_id)):
                if value is not None:
                    clauses.append(f"{column} = ?")
                    values.append(value)
        if views is not None:
            placeholders = ", ".join("?" for _ in VIEW_ACTIONS)
            clauses.append(f"action {'IN' if views else 'NOT IN'} ({placeholders})")
            values.extend(VIEW_ACTIONS)
        if before_id is not None:
            clauses.append("id < ?")
            values.append(before_id)
        where = " AND ".join(clauses) or "1 = 1"
        return [
            _audit_entry(row)
            for row in self.db.query(
                f"SELECT * FROM audit_log WHERE {where} ORDER BY id DESC LIMIT ?", [*values, limit]
            )
        ]

    # The dashboard

    def cases_per_day(self, case_filter: CaseFilter, days: int = 30) -> list[tuple[date, int]]:
        """Cases opened on each of the last ``days`` days (or the filter's range), zeros included."""
        first, last = window(case_filter, days)
        counts = console_queries.per_day(replace(case_filter, since=first, until=last), self.db)
        span = (last - first).days + 1
        return [
            (first + timedelta(days=offset), counts.get((first + timedelta(days=offset)).isoformat(), 0))
            for offset in range(max(span, 0))
        ]

    def steps_reached(self, case_filter: CaseFilter) -> list[int]:
        """How many cases finished at least 0, 1, 2, … of their steps: the funnel."""
        done_counts = console_queries.steps_done(case_filter, self.db)
        kinds = [case_filter.kind] if case_filter.kind else list(KINDS)
        most_steps = max(len(step_ids_for(kind)) for kind in kinds)
        return [
            sum(count for done, count in done_counts.items() if done >= reached)
            for reached in range(most_steps + 1)
        ]

    def status_counts(self, case_filter: CaseFilter) -> dict[str, int]:
        counts = console_queries.counts_by(cases.c.status, case_filter, self.db)
        return {status: counts.get(status, 0) for status in STATUSES}

    def resolved_cases(self, case_filter: CaseFilter, days: int = 30) -> list[Resolved]:
        """The resolved cases opened in the last ``days`` days (or the filter's range)."""
        found: dict[str, Resolved] = {}
        first, last = window(case_filter, days)
        for row in console_queries.resolved(replace(case_filter, since=first, until=last), self.db):
            # A case reopened and resolved again counts from its last resolution.
            if json.loads(row["detail"]).get("to") == "resolved":
                found[row["case_id"]] = Resolved(
                    kind=row["kind"],
                    created_at=datetime.fromisoformat(row["created_at"]),
                    resolved_at=datetime.fromisoformat(row["at"]),
                    score=row["score"],
                    label=row["label"],
                )
        return list(found.values())

    def outcomes(self, case_filter: CaseFilter, days: int = 30) -> tuple[list[Outcomes], list[Outcomes]]:
        """Per path (every kind, in order) and per ISO week of resolution (oldest first)."""
        by_kind: dict[str, list[Resolved]] = defaultdict(list)
        by_week: dict[str, list[Resolved]] = defaultdict(list)
        for case in self.resolved_cases(case_filter, days):
            by_kind[case.kind].append(case)
            by_week[iso_week(case.resolved_at)].append(case)
        return (
            [Outcomes.of(kind, by_kind[kind]) for kind in KINDS],
            [Outcomes.of(week, by_week[week]) for week in sorted(by_week)],
        )


def window(case_filter: CaseFilter, days: int) -> tuple[date, date]:
    """The filter's range, or the last ``days`` days up to its end or today (the dashboard's window)."""
    last = case_filter.until or now().date()
    return case_filter.since or last - timedelta(days=days - 1), last


def _audit_entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        entry_id=row["id"],
        at=datetime.fromisoformat(row["at"]),
        username=row["username"],
        action=row["action"],
        case_id=row["case_id"],
        sender_id=row["sender_id"],
        detail=json.loads(row["detail"]),
    )


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
