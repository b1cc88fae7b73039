"""The console's questions about the cases: its queue, search and statistics, on either database.

Each takes a selection (the console's ``CaseFilter``) and answers from
``cases`` (``resolved`` adds their status changes and ratings); the search is
the dialect's (``Dialect.search``). The queue
is newest first with the case id breaking ties, and pages by keyset, so a
deep page is an index range like the first (``schema.QUEUE_INDEXES``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from bot.storage.database import Database
from bot.storage.schema import case_events, case_feedback, case_tags, cases

Position = tuple[str, str]  # (created_at, case_id): a place in the queue


class CaseSelection(Protocol):
    statuses: tuple[str, ...]
    kind: str | None
    bank: str | None
    channel: str | None
    since: date | None
    until: date | None
    search: str | None
    tag: str | None


def conditions(selection: CaseSelection, db: Database) -> list[sa.ColumnElement]:
    found = [cases.c.status.in_(selection.statuses)] if selection.statuses else []
    found += [cases.c[column] == getattr(selection, column) for column in ("kind", "bank", "channel")
              if getattr(selection, column)]  # fmt: skip
    # created_at is ISO 8601 in China time, so a date compares correctly with it.
    if selection.since:
        found.append(cases.c.created_at >= selection.since.isoformat())
    if selection.until:
        found.append(cases.c.created_at < (selection.until + timedelta(days=1)).isoformat())
    if selection.tag:
        found.append(
            cases.c.case_id.in_(sa.select(case_tags.c.case_id).where(case_tags.c.tag == selection.tag))
        )
    if selection.search:
        found += db.dialect.search(selection.search.split())
    return found


def page(
    selection: CaseSelection, db: Database, *, after: Position | None, before: Position | None, limit: int
) -> sa.sql.Select:
    """Up to ``limit`` cases after ``after`` (older ones, newest first) or before ``before``
    (newer ones, oldest first)."""
    key, where = sa.tuple_(cases.c.created_at, cases.c.case_id), conditions(selection, db)
    if after is not None:
        where.append(key < sa.tuple_(*after))
    elif before is not None:
        where.append(key > sa.tuple_(*before))
    order = sa.asc if before is not None and after is None else sa.desc
    return (
        sa.select(cases)
        .where(*where)
        .order_by(order(cases.c.created_at), order(cases.c.case_id))
        .limit(limit)
    )


def count(selection: CaseSelection, db: Database) -> int:
    return db.execute(
        sa.select(sa.func.count()).select_from(cases).where(*conditions(selection, db))
    ).fetchone()[0]


def newest_first(selection: CaseSelection, db: Database) -> Iterator[dict[str, Any]]:
    query = sa.select(cases).where(*conditions(selection, db))
    yield from db.query(query.order_by(cases.c.created_at.desc(), cases.c.case_id.desc()))


def counts_by(column: sa.ColumnElement, selection: CaseSelection, db: Database) -> dict[Any, int]:
    """How many selected cases have each value of ``column`` (an expression over ``cases``)."""
    grouped = sa.select(column, sa.func.count()).select_from(cases).where(*conditions(selection, db))
    return dict(db.execute(grouped.group_by(column)).fetchall())


def per_day(selection: CaseSelection, db: Database) -> dict[str, int]:
    # created_at is ISO 8601 in China time, so its first ten characters are the day there.
    return counts_by(sa.func.substr(cases.c.created_at, 1, 10), selection, db)


def steps_done(selection: CaseSelection, db: Database) -> dict[int, int]:
    return counts_by(db.dialect.json_array_length(cases.c.steps_done), selection, db)


def distinct_values(column: str, db: Database) -> list[str]:
    if column not in ("bank", "channel"):
        raise ValueError(column)
    values = sa.select(cases.c[column]).distinct().where(cases.c[column].is_not(None))
    return [value for (value,) in db.execute(values.order_by(cases.c[column]))]


def resolved(selection: CaseSelection, db: Database) -> Iterator[dict[str, Any]]:
    """The selected cases that are resolved, one row per status change of each (``at``, its JSON
    ``detail``), with the case's rating (``score``, ``label``, NULL without one), in time order.

    Which change resolved the case is read from ``detail`` by the caller, so
    the SQL stays the same on both databases.
    """
    columns = (cases.c.case_id, cases.c.kind, cases.c.created_at, case_events.c.at, case_events.c.detail)
    changes = (
        sa.select(*columns, case_feedback.c.score, case_feedback.c.label)
        .select_from(cases.join(case_events).outerjoin(case_feedback))
        .where(case_events.c.event == "status", cases.c.status == "resolved", *conditions(selection, db))
        .order_by(cases.c.case_id, case_events.c.id)
    )
    yield from db.query(changes)
