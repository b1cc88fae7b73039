"""The case store on SQLite or PostgreSQL: ``bot.domain.cases.CaseStore``, written once for both.

    store = open_store("sqlite:///var/cases.db")  # or postgresql://…
    case = store.open_case("rest:alice", "rest", "misswipe", Facts(amount=3000.0))

Concurrency, across threads, processes and machines:

- Every change is one transaction that first locks what it changes
  (``locked_case``): on SQLite the database's write lock, on PostgreSQL the
  case's row, so concurrent fact merges and step lists do not overwrite each other.
- Case ids: the day's counter row is upserted in the same transaction as the
  case insert. Its lock makes other creators wait until we commit, so ids are
  unique and consecutive, and a rolled-back creation gives its number back.
- A conversation may hold several cases, one per problem; Rasa's lock store
  runs one conversation's turns one at a time, so creating a case needs no
  guard of its own against a duplicate.
- A conversation waits in the staff queue once: a partial unique index on the
  waiting requests, and an insert that does nothing where one is waiting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from bot.domain.cases import (
    FACT_FIELDS,
    FINISHED_STATUSES,
    MAX_NEW_CASES_PER_DAY,
    ROLES,
    STATUSES,
    Case,
    CaseNotFound,
    Facts,
    Handoff,
    TooManyCases,
    check_kind,
)
from bot.domain.clock import now
from bot.domain.feedback import Feedback, Rating
from bot.storage.case_log import log_case_event
from bot.storage.database import Database
from bot.storage.follow_ups import SQLFollowUpStore
from bot.storage.receipts import SQLReceiptStore
from bot.storage.schema import (
    WAITING,
    case_counters,
    case_events,
    case_feedback,
    cases,
    checklist_links,
    handoffs,
)

# New column values, the event's name and its detail; None when nothing changes.
Change = tuple[dict[str, Any], str, Any] | None

# The statements of every turn, built once: SQLAlchemy reuses their compiled form.
CASE = sa.select(cases).where(cases.c.case_id == sa.bindparam("key"))
LOCKED_CASE = CASE.with_for_update()  # SQLite ignores it: its writing transactions lock the database
UPDATE_CASE = cases.update().where(cases.c.case_id == sa.bindparam("key"))
OPENED_ON = sa.select(sa.func.count()).where(
    cases.c.sender_id == sa.bindparam("sender_id"),
    sa.func.substr(cases.c.created_at, 1, 10) == sa.bindparam("day"),
)
LAST_NUMBER = sa.select(case_counters.c.last).where(case_counters.c.day == sa.bindparam("day"))
CURRENT_CASE = (
    sa.select(cases)
    .where(cases.c.sender_id == sa.bindparam("sender_id"), cases.c.status.not_in(FINISHED_STATUSES))
    .order_by(cases.c.created_at.desc())
    .limit(1)
)


class SQLCaseStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Rescheduled in the transaction of every change to a case, so a change never leaves
        # a follow-up that no longer fits (a resolved case, a step done, a date moved).
        self.follow_ups = SQLFollowUpStore(db)
        self.receipts = SQLReceiptStore(db)

    def close(self) -> None:
        self.db.close()

    def open_case(self, sender_id: str, channel: str, kind: str, facts: Facts) -> Case:
        check_kind(kind)

        def create() -> Case:
            timestamp = now()
            opened = {"sender_id": sender_id, "day": timestamp.date().isoformat()}
            if self.db.execute(OPENED_ON, opened).scalar_one() >= MAX_NEW_CASES_PER_DAY:
                raise TooManyCases(sender_id)
            case_id = self._next_case_id(timestamp.date())
            self.db.execute(cases.insert(), new_case_row(case_id, kind, sender_id, channel, facts, timestamp))
            self._log(case_id, "created", {"kind": kind, "channel": channel})
            case = self.locked_case(case_id)
            self.follow_ups.reschedule(case)
            return case

        return self.db.run(create)

    def get(self, case_id: str) -> Case | None:
        return next(iter(self._cases(CASE, key=case_id.upper())), None)

    def get_for_owner(self, case_id: str, sender_id: str) -> Case | None:
        case = self.get(case_id)
        if case is None or case.sender_id != sender_id:
            return None
        return case

    def current_case(self, sender_id: str) -> Case | None:
        return next(iter(self._cases(CURRENT_CASE, sender_id=sender_id)), None)

    def cases_for_owner(self, sender_id: str) -> list[Case]:
        finished_last = sa.case((cases.c.status.in_(FINISHED_STATUSES), 1), else_=0)
        owned = sa.select(cases).where(cases.c.sender_id == sender_id)
        return self._cases(owned.order_by(finished_last, cases.c.created_at.desc()))

    def update_facts(self, case_id: str, facts: Facts) -> Case:
        def merge(case: Case) -> Change:
            return facts_to_row(case.facts.merged_with(facts)), "facts_updated", facts_change(facts)

        return self._change(case_id, merge)

    def change_kind(self, case_id: str, kind: str) -> Case:
        check_kind(kind)

        def change(case: Case) -> Change:
            if case.kind == kind:
                return None
            return {"kind": kind, "role": ROLES[kind]}, "kind_changed", {"from": case.kind, "to": kind}

        return self._change(case_id, change)

    def mark_steps_done(self, case_id: str, step_ids: list[str]) -> Case:
        def mark(case: Case) -> Change:
            new_steps = [step for step in step_ids if step not in case.steps_done]
            if not new_steps:
                return None
            return {"steps_done": json.dumps([*case.steps_done, *new_steps])}, "steps_done", new_steps

        return self._change(case_id, mark)

    def set_status(self, case_id: str, status: str) -> Case:
        if status not in STATUSES:
            raise ValueError(f"unknown status: {status}")

        def change(case: Case) -> Change:
            if case.status == status:
                return None
            return {"status": status}, "status", {"from": case.status, "to": status}

        return self._change(case_id, change)

    def request_handoff(self, sender_id: str, channel: str, case_id: str | None) -> Handoff:
        timestamp = now()
        row = {
            "sender_id": sender_id,
            "channel": channel,
            "case_id": case_id,
            "requested_at": timestamp.isoformat(),
        }

        def record() -> Handoff:
            insert = self.db.dialect.insert(handoffs).values(row)
            inserted = self.db.execute(
                insert.on_conflict_do_nothing(index_elements=["sender_id"], index_where=WAITING)
            )
            if not inserted.rowcount:
                waiting = sa.select(handoffs).where(handoffs.c.sender_id == sender_id, WAITING)
                return handoff_from_row(self.db.execute(waiting).mappings().one(), already_waiting=True)
            if case_id is not None:
                case = self.locked_case(case_id)
                changes = {"key": case.case_id, "handoff_requested": 1, "updated_at": timestamp.isoformat()}
                self.db.execute(UPDATE_CASE, changes)
                self._log(case.case_id, "handoff_requested", {"channel": channel})
            return Handoff(inserted.inserted_primary_key[0], sender_id, channel, case_id, timestamp)

        return self.db.run(record)

    def add_checklist_link(self, case_id: str, token_hash: str, expires_at: datetime) -> None:
        def add() -> None:
            link = new_link_row(self.locked_case(case_id).case_id, token_hash, expires_at)
            self.db.execute(checklist_links.insert().values(link))

        self.db.run(add)

    def case_for_checklist_link(self, token_hash: str) -> Case | None:
        live = (
            sa.select(cases)
            .join(checklist_links)
            .where(
                checklist_links.c.token_hash == token_hash,
                checklist_links.c.revoked_at.is_(None),
                checklist_links.c.expires_at > now().isoformat(),
            )
        )
        return next(iter(self._cases(live)), None)

    def revoke_checklist_links(self, case_id: str, by: str) -> int:
        def revoke() -> int:
            case, timestamp = self.locked_case(case_id), now().isoformat()
            live = checklist_links.update().where(
                checklist_links.c.case_id == case.case_id,
                checklist_links.c.revoked_at.is_(None),
                checklist_links.c.expires_at > timestamp,
            )
            revoked = self.db.execute(live.values(revoked_at=timestamp)).rowcount
            self._log(case.case_id, "checklist_links_revoked", {"by": by, "links": revoked})
            return revoked

        return self.db.run(revoke)

    def record_event(self, case_id: str, event: str, detail: Any) -> None:
        """An event on the case that changes none of its facts (a message that could not be delivered)."""
        self.db.run(lambda: self._log(self.locked_case(case_id).case_id, event, detail))

    def record_feedback(self, case_id: str, rating: Rating, comment: str | None, channel: str) -> Feedback:
        def record() -> Feedback:
            row = {"case_id": self.locked_case(case_id).case_id, "score": rating.score, "label": rating.label,
                   "comment": comment, "created_at": now().isoformat(), "channel": channel}  # fmt: skip
            insert = self.db.dialect.insert(case_feedback).values(row)
            replaced = {column: insert.excluded[column] for column in row if column != "case_id"}
            self.db.execute(insert.on_conflict_do_update(index_elements=["case_id"], set_=replaced))
            # The comment's words stay in case_feedback alone.
            detail = {"score": rating.score, "label": rating.label, "commented": comment is not None}
            self._log(row["case_id"], "feedback", detail)
            return feedback_from_row(row)

        return self.db.run(record)

    def feedback(self, case_id: str) -> Feedback | None:
        given = sa.select(case_feedback).where(case_feedback.c.case_id == case_id.upper())
        return next((feedback_from_row(row) for row in self.db.query(given)), None)

    def events(self, case_id: str) -> list[dict[str, Any]]:
        logged = sa.select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.id)
        return [{**row, "detail": json.loads(row["detail"])} for row in self.db.query(logged)]

    def locked_case(self, case_id: str) -> Case:
        """The case, which no other transaction changes until the caller's ends (``CaseNotFound``
        if there is none)."""
        return case_from_row(self._locked_row(case_id))

    def _locked_row(self, case_id: str) -> dict[str, Any]:
        row = self.db.execute(LOCKED_CASE, {"key": case_id.upper()}).mappings().first()
        if row is None:
            raise CaseNotFound(case_id)
        return dict(row)

    def _change(self, case_id: str, change: Callable[[Case], Change]) -> Case:
        """Lock the case and apply what ``change`` makes of it, with its event, in one transaction."""

        def apply() -> Case:
            row = self._locked_row(case_id)
            case = case_from_row(row)
            changed = change(case)
            if changed is None:
                return case
            values, event, detail = changed
            values = {**values, "updated_at": now().isoformat()}
            self.db.execute(UPDATE_CASE, {"key": case.case_id, **values})
            self._log(case.case_id, event, detail)
            changed_case = case_from_row({**row, **values})
            self.follow_ups.reschedule(changed_case)
            return changed_case

        return self.db.run(apply)

    def _cases(self, query: sa.sql.Select, **params: Any) -> list[Case]:
        return self.db.run(
            lambda: [case_from_row(row) for row in self.db.execute(query, params).mappings()], write=False
        )

    def _next_case_id(self, day: date) -> str:
        key = day.strftime("%Y%m%d")
        count = self.db.dialect.insert(case_counters).values(day=key, last=1)
        self.db.execute(
            count.on_conflict_do_update(index_elements=["day"], set_={"last": case_counters.c.last + 1})
        )
        last = self.db.execute(LAST_NUMBER, {"day": key}).scalar_one()
        return f"WS-{key}-{last:04d}"

    def _log(self, case_id: str, event: str, detail: Any) -> None:
        log_case_event(self.db, case_id, event, detail)


# Row ↔ dataclass mapping: the columns hold the facts one by one, lists as JSON text.


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


def facts_from_row(row: Any) -> Facts:
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


def case_from_row(row: Any) -> Case:
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
        erased_at=datetime.fromisoformat(row["erased_at"]) if row.get("erased_at") else None,
        erased_by=row.get("erased_by"),
    )


def feedback_from_row(row: Any) -> Feedback:
    return Feedback(
        case_id=row["case_id"],
        score=row["score"],
        label=row["label"],
        comment=row["comment"],
        channel=row["channel"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def handoff_from_row(row: Any, already_waiting: bool = False) -> Handoff:
    return Handoff(
        handoff_id=row["id"],
        sender_id=row["sender_id"],
        channel=row["channel"],
        case_id=row["case_id"],
        requested_at=datetime.fromisoformat(row["requested_at"]),
        already_waiting=already_waiting,
    )


def new_link_row(case_id: str, token_hash: str, expires_at: datetime) -> dict[str, Any]:
    return {
        "token_hash": token_hash,
        "case_id": case_id,
        "created_at": now().isoformat(),
        "expires_at": expires_at.isoformat(),
        "revoked_at": None,
    }
