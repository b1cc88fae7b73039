"""Follow-ups in the database: scheduled with their case, claimed by one sender, answered or cancelled.

    follow_ups = SQLFollowUpStore(db)          # or store.follow_ups of an SQLCaseStore
    follow_ups.reschedule(case)                # in the case's transaction: what ``plan`` says now
    for follow_up in follow_ups.claim_due(now(), owner="rasa-1", lease_seconds=300, limit=20):
        ...                                    # send it, then
        follow_ups.mark_sent(follow_up)        # or mark_undelivered(follow_up, "wechat_window_closed")

Claims work across processes and replicas with the same SQL on SQLite and
PostgreSQL: one UPDATE takes the lease of due pending rows whose lease is
free or expired, and its WHERE is checked again on each row it changes
(SQLite: the writer holds the database's lock; PostgreSQL: a row another
transaction just claimed is re-read after its commit and no longer matches),
so each due follow-up goes to one claimer. A sender that dies mid-send leaves
the row pending, and it is claimed again once the lease runs out; a sender
slower than its lease may find its result refused (``mark_sent`` is False).

Every status change writes a ``case_events`` row in its own transaction.
Times are stored with microseconds in China time, so that as text they sort
as the times do.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.domain.cases import FINISHED_STATUSES, Case
from bot.domain.clock import CHINA, now
from bot.domain.delivery import WIDGET_OFFLINE
from bot.domain.follow_ups import FollowUp, PlannedFollowUp, plan
from bot.storage.case_log import log_case_event
from bot.storage.database import Database
from bot.storage.schema import cases, follow_up_opt_outs, follow_ups

PENDING = follow_ups.c.status == "pending"
# Cancellations that followed the case (a step done, a date moved, the case finished), not a person.
# Reasons a cancelled follow-up may come back: the case came back to its step, or the user
# asked for follow-ups again after turning them off.
CANCELLED_BY_THE_CASE = frozenset(
    {"plan_changed", "no_longer_needed", "opted_out", *(f"case_{s}" for s in FINISHED_STATUSES)}
)
ORDER = (follow_ups.c.due_at, follow_ups.c.id)


def stamp(moment: datetime) -> str:
    return moment.astimezone(CHINA).isoformat(timespec="microseconds")


class SQLFollowUpStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # Scheduling

    def reschedule(self, case: Case) -> None:
        """Make the case's pending follow-ups what ``plan`` says: those still planned stay (even if
        due), the others are cancelled, new ones are added only for times still to come."""

        def apply() -> None:
            current = now()
            planned = [] if self.opted_out(case.sender_id) else plan(case)
            rows = self._rows(sa.select(follow_ups).where(follow_ups.c.case_id == case.case_id))
            pending = [row for row in rows if row["status"] == "pending"]
            wanted = {(item.step_id, stamp(item.due_at)) for item in planned}
            # A question is asked once: one sent, answered or cancelled by staff is not asked again.
            # Those cancelled because the case moved on come back if the case comes back to them.
            have = {(row["step_id"], row["due_at"]) for row in rows if not _cancelled_by_the_case(row)}
            reason = "plan_changed" if case.is_open else f"case_{case.status}"
            for row in pending:
                if (row["step_id"], row["due_at"]) not in wanted:
                    self._change(row, "cancelled", reason, "follow_up_cancelled")
            for item in planned:
                if (item.step_id, stamp(item.due_at)) not in have and item.due_at > current:
                    self._insert(case, item)

        self.db.run(apply)

    def _insert(self, case: Case, item: PlannedFollowUp) -> None:
        at = stamp(now())
        row = {"case_id": case.case_id, "sender_id": case.sender_id, "channel": case.channel,
               "step_id": item.step_id, "due_at": stamp(item.due_at), "status": "pending",
               "attempts": 0, "created_at": at, "updated_at": at}  # fmt: skip
        follow_up_id = self.db.execute(follow_ups.insert().values(row)).inserted_primary_key[0]
        detail = {"follow_up": follow_up_id, "step": item.step_id, "due_at": row["due_at"]}
        log_case_event(self.db, case.case_id, "follow_up_scheduled", detail)

    # Reading

    def get(self, follow_up_id: int) -> FollowUp | None:
        rows = self._rows(sa.select(follow_ups).where(follow_ups.c.id == follow_up_id), write=False)
        return next((follow_up_from_row(row) for row in rows), None)

    def for_case(self, case_id: str) -> list[FollowUp]:
        query = sa.select(follow_ups).where(follow_ups.c.case_id == case_id).order_by(*ORDER)
        return [follow_up_from_row(row) for row in self._rows(query, write=False)]

    def due(self, at: datetime) -> list[FollowUp]:
        """Pending follow-ups whose time has come, claimed or not."""
        query = sa.select(follow_ups).where(PENDING, follow_ups.c.due_at <= stamp(at)).order_by(*ORDER)
        return [follow_up_from_row(row) for row in self._rows(query, write=False)]

    def undelivered_for_open_cases(self) -> list[FollowUp]:
        """What staff should take up: questions the channel could not deliver, on cases still open
        (not those waiting for a widget to reopen: its user sees them then)."""
        query = (
            sa.select(follow_ups)
            .join(cases, cases.c.case_id == follow_ups.c.case_id)
            .where(
                follow_ups.c.status == "undelivered",
                follow_ups.c.reason != WIDGET_OFFLINE,
                cases.c.status.not_in(FINISHED_STATUSES),
            )
            .order_by(*ORDER)
        )
        return [follow_up_from_row(row) for row in self._rows(query, write=False)]

    def opted_out(self, sender_id: str) -> bool:
        query = sa.select(follow_up_opt_outs.c.sender_id).where(follow_up_opt_outs.c.sender_id == sender_id)
        return bool(self._rows(query, write=False))

    # Sending

    def claim_due(self, at: datetime, owner: str, lease_seconds: float, limit: int) -> list[FollowUp]:
        """Take up to ``limit`` due follow-ups for ``lease_seconds``; each goes to one claimer."""
        now_text = stamp(at)
        claimable = sa.and_(
            PENDING,
            follow_ups.c.due_at <= now_text,
            sa.or_(follow_ups.c.lease_until.is_(None), follow_ups.c.lease_until <= now_text),
        )
        first_due = sa.select(follow_ups.c.id).where(claimable).order_by(*ORDER).limit(limit)
        # A token per claim: the rows this claim took are the ones that carry it.
        token = f"{owner}/{uuid.uuid4().hex}"
        take = (
            follow_ups.update()
            .where(follow_ups.c.id.in_(first_due.scalar_subquery()), claimable)
            .values(
                claimed_by=token,
                lease_until=stamp(at + timedelta(seconds=lease_seconds)),
                attempts=follow_ups.c.attempts + 1,
                updated_at=now_text,
            )
        )

        def claim() -> list[FollowUp]:
            self.db.execute(take)
            taken = sa.select(follow_ups).where(follow_ups.c.claimed_by == token).order_by(*ORDER)
            return [follow_up_from_row(row) for row in self._rows(taken)]

        return self.db.run(claim)

    def mark_sent(self, follow_up: FollowUp) -> bool:
        return self._finish(follow_up, "sent", None)

    def mark_undelivered(self, follow_up: FollowUp, reason: str) -> bool:
        return self._finish(follow_up, "undelivered", reason)

    def release(self, follow_up: FollowUp, reason: str) -> bool:
        """Cancel a claimed follow-up that no longer fits its case (resolved, step done)."""
        return self._finish(follow_up, "cancelled", reason)

    def _finish(self, follow_up: FollowUp, status: str, reason: str | None) -> bool:
        """The claimer's result; refused (False) when its lease was lost to another claimer."""

        def finish() -> bool:
            mine = sa.select(follow_ups).where(
                follow_ups.c.id == follow_up.follow_up_id,
                PENDING,
                follow_ups.c.claimed_by == follow_up.claimed_by,
            )
            rows = self._rows(mine.with_for_update())
            for row in rows:
                self._change(row, status, reason, f"follow_up_{status}")
            return bool(rows)

        return self.db.run(finish)

    def take_awaiting_return(self, sender_id: str) -> list[FollowUp]:
        """The conversation's follow-ups that found its widget closed, now marked sent: the
        widget shows them when it reconnects. One replica takes each."""

        def take() -> list[FollowUp]:
            waiting = sa.select(follow_ups).where(
                follow_ups.c.sender_id == sender_id,
                follow_ups.c.status == "undelivered",
                follow_ups.c.reason == WIDGET_OFFLINE,
            )
            rows = self._rows(waiting.order_by(*ORDER).with_for_update())
            for row in rows:
                self._change(row, "sent", None, "follow_up_sent")
            return [follow_up_from_row({**row, "status": "sent", "reason": None}) for row in rows]

        return self.db.run(take)

    # Answers and cancellations

    def mark_answered(self, case_id: str, answer: str) -> int:
        """The user answered the case's question (到账了 / 还没有 / 商户拒绝了)."""
        sent = sa.select(follow_ups).where(follow_ups.c.case_id == case_id, follow_ups.c.status == "sent")
        return self._change_all(sent, "answered", answer, "follow_up_answered")

    def cancel(self, follow_up_id: int, reason: str, by: str | None = None) -> FollowUp | None:
        """Cancel one pending follow-up; None when it is not pending (sent, answered, gone)."""

        def cancel_one() -> FollowUp | None:
            query = sa.select(follow_ups).where(follow_ups.c.id == follow_up_id, PENDING).with_for_update()
            rows = self._rows(query)
            for row in rows:
                self._change(row, "cancelled", reason, "follow_up_cancelled", by=by)
            return next((follow_up_from_row(row) for row in rows), None)

        return self.db.run(cancel_one)

    def cancel_for_case(self, case_id: str, reason: str) -> int:
        query = sa.select(follow_ups).where(follow_ups.c.case_id == case_id, PENDING)
        return self._change_all(query, "cancelled", reason, "follow_up_cancelled")

    def opt_out(self, sender_id: str) -> int:
        """No more follow-ups for the conversation, now or when its cases change; how many were pending."""

        def record() -> int:
            insert = self.db.dialect.insert(follow_up_opt_outs).values(sender_id=sender_id, at=stamp(now()))
            self.db.execute(insert.on_conflict_do_nothing(index_elements=["sender_id"]))
            query = sa.select(follow_ups).where(follow_ups.c.sender_id == sender_id, PENDING)
            return self._change_all(query, "cancelled", "opted_out", "follow_up_cancelled")

        return self.db.run(record)

    def opt_in(self, sender_id: str, cases: list[Case]) -> int:
        """Follow-ups again for the conversation (after 不用提醒我了): its cases are planned anew,
        dates already past are not; how many follow-ups are pending now."""

        def record() -> int:
            self.db.execute(follow_up_opt_outs.delete().where(follow_up_opt_outs.c.sender_id == sender_id))
            for case in cases:
                self.reschedule(case)
            query = sa.select(follow_ups).where(follow_ups.c.sender_id == sender_id, PENDING)
            return len(self._rows(query))

        return self.db.run(record)

    # Helpers

    def _change_all(self, query: sa.sql.Select, status: str, reason: str, event: str) -> int:
        def change() -> int:
            rows = self._rows(query.order_by(*ORDER).with_for_update())
            for row in rows:
                self._change(row, status, reason, event)
            return len(rows)

        return self.db.run(change)

    def _change(
        self, row: dict[str, Any], status: str, reason: str | None, event: str, by: str | None = None
    ) -> None:
        """One row's new status and its case event, inside the caller's transaction."""
        values = {"status": status, "reason": reason, "lease_until": None, "updated_at": stamp(now())}
        self.db.execute(follow_ups.update().where(follow_ups.c.id == row["id"]).values(values))
        detail = {"follow_up": row["id"], "step": row["step_id"], "from": row["status"], "to": status}
        detail.update({"reason": reason} if reason else {})
        detail.update({"by": by} if by else {})
        log_case_event(self.db, row["case_id"], event, detail)

    def _rows(self, query: sa.sql.Select, write: bool = True) -> list[dict[str, Any]]:
        return self.db.run(lambda: [dict(row) for row in self.db.execute(query).mappings()], write=write)


def _cancelled_by_the_case(row: dict[str, Any]) -> bool:
    return row["status"] == "cancelled" and row["reason"] in CANCELLED_BY_THE_CASE


def follow_up_from_row(row: Any) -> FollowUp:
    def moment(name: str) -> datetime | None:
        return datetime.fromisoformat(row[name]) if row[name] else None

    return FollowUp(
        follow_up_id=row["id"],
        case_id=row["case_id"],
        sender_id=row["sender_id"],
        channel=row["channel"],
        step_id=row["step_id"],
        due_at=datetime.fromisoformat(row["due_at"]),
        status=row["status"],
        reason=row["reason"],
        claimed_by=row["claimed_by"],
        lease_until=moment("lease_until"),
        attempts=row["attempts"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )
