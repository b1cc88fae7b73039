"""The console's own tables, in the case store's database.

Ordered, named migrations like ``bot.cases.MIGRATIONS``, recorded in the same
``_migrations`` table under names prefixed ``console_`` so the two lists
never collide. The case store's migrations always run first (opening the
case store applies them), since some of these index its tables. The SQL is
the same on SQLite and PostgreSQL but for the ``id`` column and the search
index.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from bot.clock import now
from bot.console.database import Database, SQLiteDatabase
from bot.identity import legacy_conversation_id, namespace_of

ConsoleMigration = Callable[[Database], None]


def _create_staff_users(db: Database) -> None:
    db.execute(
        "CREATE TABLE staff_users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, "
        "created_at TEXT NOT NULL)"
    )


def _create_staff_sessions(db: Database) -> None:
    # `id` is the SHA-256 of the cookie's token, so a copy of the database opens no session.
    db.execute(
        "CREATE TABLE staff_sessions (id TEXT PRIMARY KEY, "
        "username TEXT NOT NULL REFERENCES staff_users(username), csrf_token TEXT NOT NULL, "
        "created_at TEXT NOT NULL, expires_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_staff_sessions_expires_at ON staff_sessions (expires_at)")


def _create_login_attempts(db: Database) -> None:
    db.execute(
        f"CREATE TABLE login_attempts ({db.dialect.id_column}, at TEXT NOT NULL, username TEXT NOT NULL, "
        "ip TEXT NOT NULL, succeeded INTEGER NOT NULL)"
    )
    db.execute("CREATE INDEX idx_login_attempts_username_at ON login_attempts (username, at)")
    db.execute("CREATE INDEX idx_login_attempts_ip_at ON login_attempts (ip, at)")


def _create_audit_log(db: Database) -> None:
    db.execute(
        f"CREATE TABLE audit_log ({db.dialect.id_column}, at TEXT NOT NULL, username TEXT NOT NULL, "
        "action TEXT NOT NULL, case_id TEXT, sender_id TEXT, detail TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_audit_log_case_id_id ON audit_log (case_id, id)")


def _create_case_notes(db: Database) -> None:
    db.execute(
        f"CREATE TABLE case_notes ({db.dialect.id_column}, "
        "case_id TEXT NOT NULL REFERENCES cases(case_id), at TEXT NOT NULL, username TEXT NOT NULL, "
        "text TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_case_notes_case_id_id ON case_notes (case_id, id)")


def _create_case_tags(db: Database) -> None:
    db.execute(
        "CREATE TABLE case_tags (case_id TEXT REFERENCES cases(case_id), tag TEXT, "
        "added_by TEXT NOT NULL, added_at TEXT NOT NULL, PRIMARY KEY (case_id, tag))"
    )
    db.execute("CREATE INDEX idx_case_tags_tag_case_id ON case_tags (tag, case_id)")


def _create_conversation_reviews(db: Database) -> None:
    # Reviewed up to `last_event_id`, so later messages in the conversation show as new.
    db.execute(
        "CREATE TABLE conversation_reviews (sender_id TEXT PRIMARY KEY, reviewed_by TEXT NOT NULL, "
        "reviewed_at TEXT NOT NULL, last_event_id INTEGER)"
    )


def _create_flagged_examples(db: Database) -> None:
    db.execute(
        f"CREATE TABLE flagged_examples ({db.dialect.id_column}, sender_id TEXT NOT NULL, "
        "event_id INTEGER NOT NULL, text TEXT NOT NULL, annotated TEXT NOT NULL, predicted_intent TEXT, "
        "confidence FLOAT, intent TEXT NOT NULL, flagged_by TEXT NOT NULL, flagged_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_flagged_examples_sender_id_event_id "
        "ON flagged_examples (sender_id, event_id)"
    )


def _index_cases_for_queue(db: Database) -> None:
    # The queue is ordered newest first with case_id breaking ties (keyset
    # pagination); each filter gets an index in that order so a page is a range scan.
    db.execute("CREATE INDEX idx_cases_created_at_case_id ON cases (created_at, case_id)")
    for column in ("status", "kind", "bank", "channel"):
        db.execute(
            f"CREATE INDEX idx_cases_{column}_created_at_case_id ON cases ({column}, created_at, case_id)"
        )


def _enable_cases_fts(db: Database) -> None:
    # Trigram tokens match any part of a Chinese merchant name, a card tail or
    # a case id; the triggers keep the index current when the bot writes a case.
    # PostgreSQL has no such index without an extension (pg_trgm), which a
    # managed server may not offer; its search is a case-insensitive LIKE scan,
    # fast enough at the console's scale, so there is nothing to create there.
    if isinstance(db, SQLiteDatabase):
        sqlite_utils.Database(db.connection)["cases"].enable_fts(
            ["case_id", "card_last4", "merchant"], create_triggers=True, tokenize="trigram", replace=True
        )


def _namespace_sender_ids(db: Database) -> None:
    # A conversation that has a case takes the id its case was given (the
    # channel is recorded there); others are named by their id's shape.
    by_local_id = {
        row["sender_id"].partition(":")[2]: row["sender_id"]
        for row in db.query("SELECT DISTINCT sender_id FROM cases")
    }
    for table in ("audit_log", "conversation_reviews", "flagged_examples"):
        for row in db.query(f"SELECT DISTINCT sender_id FROM {table} WHERE sender_id IS NOT NULL"):
            old = row["sender_id"]
            new = old if namespace_of(old) else by_local_id.get(old) or legacy_conversation_id(old, None)
            if new != old:
                db.execute(f"UPDATE {table} SET sender_id = ? WHERE sender_id = ?", [new, old])


def _add_staff_roles(db: Database) -> None:
    # Every account could do everything until roles existed; it keeps that.
    # Accounts added from now on are agents unless made admins.
    db.execute("ALTER TABLE staff_users ADD COLUMN role TEXT NOT NULL DEFAULT 'agent'")
    db.execute("UPDATE staff_users SET role = 'admin'")


def _add_staff_disabled_at(db: Database) -> None:
    db.execute("ALTER TABLE staff_users ADD COLUMN disabled_at TEXT")


def _add_session_last_seen(db: Database) -> None:
    # The idle timeout counts from a session's last request; sessions already open count from their start.
    db.execute("ALTER TABLE staff_sessions ADD COLUMN last_seen_at TEXT")
    db.execute("UPDATE staff_sessions SET last_seen_at = created_at")
    db.execute("CREATE INDEX idx_staff_sessions_username ON staff_sessions (username)")


CONSOLE_MIGRATIONS: list[tuple[str, ConsoleMigration]] = [
    ("console_0001_create_staff_users", _create_staff_users),
    ("console_0002_create_staff_sessions", _create_staff_sessions),
    ("console_0003_create_login_attempts", _create_login_attempts),
    ("console_0004_create_audit_log", _create_audit_log),
    ("console_0005_create_case_notes", _create_case_notes),
    ("console_0006_create_case_tags", _create_case_tags),
    ("console_0007_create_conversation_reviews", _create_conversation_reviews),
    ("console_0008_create_flagged_examples", _create_flagged_examples),
    ("console_0009_index_cases_for_queue", _index_cases_for_queue),
    ("console_0010_enable_cases_fts", _enable_cases_fts),
    ("console_0011_namespace_sender_ids", _namespace_sender_ids),
    ("console_0012_add_staff_roles", _add_staff_roles),
    ("console_0013_add_staff_disabled_at", _add_staff_disabled_at),
    ("console_0014_add_session_last_seen", _add_session_last_seen),
]


def migrate_console(db: Database) -> list[str]:
    """Apply pending console migrations in one transaction; returns the names applied.

    The migration transaction makes processes that start together (console,
    action servers) take turns, so the second sees the first one's work. On
    SQLite ``enable_fts`` commits on its own (``executescript``), which
    commits the migrations before it early; each is recorded with its work,
    and ``enable_fts`` is written to be re-run safely should the process stop
    before its record.
    """
    pending = {name for name, _ in CONSOLE_MIGRATIONS} - {
        row["name"] for row in db.query("SELECT name FROM _migrations")
    }
    if not pending:
        return []
    newly_applied = []
    with db.migration_transaction() as tx:
        # Read again under the lock: another process may have applied some while we waited.
        applied = {row["name"] for row in tx.query("SELECT name FROM _migrations")}
        for name, migration in CONSOLE_MIGRATIONS:
            if name not in applied:
                migration(tx)
                tx.insert("_migrations", {"name": name, "applied_at": now().isoformat()})
                newly_applied.append(name)
    return newly_applied
