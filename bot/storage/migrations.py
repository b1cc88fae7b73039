"""The database's history: ordered, named migrations, applied once each on SQLite and PostgreSQL.

Each is recorded in ``_migrations`` by its name; the names are the ones the
first stores gave them (the case store's ``0001``–``0007``, the console's
``console_0001``–``console_0014``), so a database either of them created is
upgraded from where it stands. A migration brings part of the schema
(``bot.storage.schema``) into being: it creates the tables, columns and
indexes it names where they are missing, and changes the data that must
change. A new database thus gets each table whole from the migration that
first created it, and the later ones find nothing of theirs left to add.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from bot.domain.clock import now
from bot.infra.identity import legacy_conversation_id, namespace_of
from bot.storage import schema
from bot.storage.database import Database

Migration = Callable[[Database], None]


def _create(*tables: sa.Table) -> Migration:
    def create(db: Database) -> None:
        schema.metadata.create_all(db.connection, tables=list(tables), checkfirst=True)

    return create


def _add_columns(db: Database, *columns: sa.Column) -> None:
    for column in columns:
        existing = {found["name"] for found in sa.inspect(db.connection).get_columns(column.table.name)}
        if column.name not in existing:
            spec = sa.schema.CreateColumn(column).compile(dialect=db.engine.dialect)
            db.execute(f"ALTER TABLE {column.table.name} ADD COLUMN {spec}")


def _create_indexes(db: Database, *indexes: sa.Index) -> None:
    for index in indexes:
        index.create(db.connection, checkfirst=True)


def _several_cases(db: Database) -> None:
    _add_columns(db, schema.cases.c.correct_amount, schema.cases.c.cross_border, schema.cases.c.unknown_facts)
    # A conversation may now hold one case per problem the user reported.
    db.execute("DROP INDEX IF EXISTS idx_cases_one_open_per_sender")
    _create_indexes(
        db, *(index for index in schema.cases.indexes if index.name.endswith("sender_id_created_at"))
    )


def _namespace_sender_ids(db: Database) -> None:
    """Conversations recorded before each channel had its own id namespace take their namespaced id."""
    for table in (schema.cases, schema.handoffs):
        rows = db.execute(sa.select(table.c.sender_id, table.c.channel).distinct()).all()
        renames = {(legacy_conversation_id(sender_id, channel), sender_id) for sender_id, channel in rows}
        for new, old in sorted(renames):
            if new != old:
                db.execute(table.update().where(table.c.sender_id == old).values(sender_id=new))


def _one_waiting_handoff_per_conversation(db: Database) -> None:
    handoffs = schema.handoffs
    # Earlier duplicates are marked resolved, keeping each conversation's first request.
    first_waiting = sa.select(sa.func.min(handoffs.c.id)).where(schema.WAITING).group_by(handoffs.c.sender_id)
    db.execute(
        handoffs.update()
        .where(schema.WAITING, handoffs.c.id.not_in(first_waiting.scalar_subquery()))
        .values(resolved_at=handoffs.c.requested_at)
    )
    _create_indexes(db, schema.ONE_WAITING_HANDOFF)


def _namespace_console_sender_ids(db: Database) -> None:
    # A conversation that has a case takes the id its case was given (the
    # channel is recorded there); others are named by their id's shape.
    by_local_id = {
        sender_id.partition(":")[2]: sender_id
        for (sender_id,) in db.execute(sa.select(schema.cases.c.sender_id).distinct())
    }
    for table in (schema.audit_log, schema.conversation_reviews, schema.flagged_examples):
        for (old,) in db.execute(
            sa.select(table.c.sender_id).distinct().where(table.c.sender_id.is_not(None))
        ):
            new = old if namespace_of(old) else by_local_id.get(old) or legacy_conversation_id(old, None)
            if new != old:
                db.execute(table.update().where(table.c.sender_id == old).values(sender_id=new))


def _add_staff_roles(db: Database) -> None:
    _add_columns(db, schema.staff_users.c.role)
    # Every account could do everything until roles existed; it keeps that.
    # Accounts added from now on are agents unless made admins.
    db.execute(schema.staff_users.update().values(role="admin"))


def _add_session_last_seen(db: Database) -> None:
    sessions = schema.staff_sessions
    _add_columns(db, sessions.c.last_seen_at)
    # The idle timeout counts from a session's last request; sessions already open count from their start.
    db.execute(
        sessions.update().where(sessions.c.last_seen_at.is_(None)).values(last_seen_at=sessions.c.created_at)
    )
    _create_indexes(db, *(index for index in sessions.indexes if index.name.endswith("_username")))


def _index_audit_log_by_sender(db: Database) -> None:
    by_sender = [index for index in schema.audit_log.indexes if index.name.endswith("_sender_id_id")]
    _create_indexes(db, *by_sender)


MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_create_cases", _create(schema.cases, schema.case_counters)),
    ("0002_create_case_events", _create(schema.case_events)),
    ("0003_create_handoffs", _create(schema.handoffs)),
    ("0004_fact_columns_and_several_cases", _several_cases),
    ("0005_create_checklist_links", _create(schema.checklist_links)),
    ("0006_namespace_sender_ids", _namespace_sender_ids),
    ("0007_one_waiting_handoff_per_conversation", _one_waiting_handoff_per_conversation),
    ("0008_create_follow_ups", _create(schema.follow_ups, schema.follow_up_opt_outs)),
    ("0009_create_case_feedback", _create(schema.case_feedback)),
    (
        "0010_add_erasure_tombstones",
        lambda db: _add_columns(db, schema.cases.c.erased_at, schema.cases.c.erased_by),
    ),
    ("0011_create_receipts", _create(schema.receipts)),
    ("console_0001_create_staff_users", _create(schema.staff_users)),
    ("console_0002_create_staff_sessions", _create(schema.staff_sessions)),
    ("console_0003_create_login_attempts", _create(schema.login_attempts)),
    ("console_0004_create_audit_log", _create(schema.audit_log)),
    ("console_0005_create_case_notes", _create(schema.case_notes)),
    ("console_0006_create_case_tags", _create(schema.case_tags)),
    ("console_0007_create_conversation_reviews", _create(schema.conversation_reviews)),
    ("console_0008_create_flagged_examples", _create(schema.flagged_examples)),
    ("console_0009_index_cases_for_queue", lambda db: _create_indexes(db, *schema.QUEUE_INDEXES)),
    ("console_0010_enable_cases_fts", lambda db: db.dialect.enable_search(db.connection)),
    ("console_0011_namespace_sender_ids", _namespace_console_sender_ids),
    ("console_0012_add_staff_roles", _add_staff_roles),
    ("console_0013_add_staff_disabled_at", lambda db: _add_columns(db, schema.staff_users.c.disabled_at)),
    ("console_0014_add_session_last_seen", _add_session_last_seen),
    (
        "console_0015_index_audit_log_by_sender",
        lambda db: _create_indexes(
            db, *(i for i in schema.audit_log.indexes if i.name.endswith("_sender_id_id"))
        ),
    ),
]


def migrate(db: Database, migrations: list[tuple[str, Migration]] = MIGRATIONS) -> list[str]:
    """Apply pending migrations in one transaction; returns the names applied.

    Under the migration lock, processes that start together (action servers,
    the console) take turns, and the second one finds the first one's work recorded.
    """
    newly_applied = []
    with db.transaction():
        db.dialect.lock_for_migrations(db.connection)
        schema.migrations.create(db.connection, checkfirst=True)
        applied = set(db.execute(sa.select(schema.migrations.c.name)).scalars())
        for name, migration in migrations:
            if name not in applied:
                migration(db)
                db.execute(schema.migrations.insert().values(name=name, applied_at=now().isoformat()))
                newly_applied.append(name)
    return newly_applied
