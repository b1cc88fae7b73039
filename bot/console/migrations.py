"""The console's own tables, in the case store's database.

Ordered, named migrations like ``bot.cases.MIGRATIONS``, recorded in the same
``_migrations`` table under names prefixed ``console_`` so the two lists
never collide. The case store's migrations always run first (opening a
``SQLiteCaseStore`` applies them), since some of these index its tables.
"""

from __future__ import annotations

import sqlite_utils

from bot.cases import Migration
from bot.clock import now


def _create_staff_users(db: sqlite_utils.Database) -> None:
    db["staff_users"].create(
        {"username": str, "password_hash": str, "created_at": str},
        pk="username",
        not_null={"password_hash", "created_at"},
    )


def _create_staff_sessions(db: sqlite_utils.Database) -> None:
    # `id` is the SHA-256 of the cookie's token, so a copy of the database opens no session.
    db["staff_sessions"].create(
        {"id": str, "username": str, "csrf_token": str, "created_at": str, "expires_at": str},
        pk="id",
        not_null={"username", "csrf_token", "created_at", "expires_at"},
        foreign_keys=[("username", "staff_users", "username")],
    )
    db["staff_sessions"].create_index(["expires_at"])


def _create_login_attempts(db: sqlite_utils.Database) -> None:
    db["login_attempts"].create(
        {"id": int, "at": str, "username": str, "ip": str, "succeeded": int},
        pk="id",
        not_null={"at", "username", "ip", "succeeded"},
    )
    db["login_attempts"].create_index(["username", "at"])
    db["login_attempts"].create_index(["ip", "at"])


def _create_audit_log(db: sqlite_utils.Database) -> None:
    db["audit_log"].create(
        {
            "id": int,
            "at": str,
            "username": str,
            "action": str,
            "case_id": str,
            "sender_id": str,
            "detail": str,
        },
        pk="id",
        not_null={"at", "username", "action", "detail"},
    )
    db["audit_log"].create_index(["case_id", "id"])


def _create_case_notes(db: sqlite_utils.Database) -> None:
    db["case_notes"].create(
        {"id": int, "case_id": str, "at": str, "username": str, "text": str},
        pk="id",
        not_null={"case_id", "at", "username", "text"},
        foreign_keys=[("case_id", "cases", "case_id")],
    )
    db["case_notes"].create_index(["case_id", "id"])


def _create_case_tags(db: sqlite_utils.Database) -> None:
    db["case_tags"].create(
        {"case_id": str, "tag": str, "added_by": str, "added_at": str},
        pk=("case_id", "tag"),
        not_null={"added_by", "added_at"},
        foreign_keys=[("case_id", "cases", "case_id")],
    )
    db["case_tags"].create_index(["tag", "case_id"])


def _create_conversation_reviews(db: sqlite_utils.Database) -> None:
    # Reviewed up to `last_event_id`, so later messages in the conversation show as new.
    db["conversation_reviews"].create(
        {"sender_id": str, "reviewed_by": str, "reviewed_at": str, "last_event_id": int},
        pk="sender_id",
        not_null={"reviewed_by", "reviewed_at"},
    )


def _create_flagged_examples(db: sqlite_utils.Database) -> None:
    db["flagged_examples"].create(
        {
            "id": int,
            "sender_id": str,
            "event_id": int,
            "text": str,
            "annotated": str,
            "predicted_intent": str,
            "confidence": float,
            "intent": str,
            "flagged_by": str,
            "flagged_at": str,
        },
        pk="id",
        not_null={"sender_id", "event_id", "text", "annotated", "intent", "flagged_by", "flagged_at"},
    )
    db["flagged_examples"].create_index(["sender_id", "event_id"], unique=True)


def _index_cases_for_queue(db: sqlite_utils.Database) -> None:
    # The queue is ordered newest first with case_id breaking ties (keyset
    # pagination); each filter gets an index in that order so a page is a range scan.
    db["cases"].create_index(["created_at", "case_id"])
    for column in ("status", "kind", "bank", "channel"):
        db["cases"].create_index([column, "created_at", "case_id"])


def _enable_cases_fts(db: sqlite_utils.Database) -> None:
    # Trigram tokens match any part of a Chinese merchant name, a card tail or
    # a case id; the triggers keep the index current when the bot writes a case.
    db["cases"].enable_fts(
        ["case_id", "card_last4", "merchant"], create_triggers=True, tokenize="trigram", replace=True
    )


CONSOLE_MIGRATIONS: list[tuple[str, Migration]] = [
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
]


def migrate_console(db: sqlite_utils.Database) -> list[str]:
    """Apply pending console migrations; returns the names applied.

    Each runs in its own transaction with its record, except that
    ``enable_fts`` commits on its own (``executescript``); it is written to be
    re-run safely should the process stop in between.
    """
    applied = {row["name"] for row in db["_migrations"].rows}
    newly_applied = []
    for name, migration in CONSOLE_MIGRATIONS:
        if name in applied:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone() is None:
                migration(db)
                db["_migrations"].insert({"name": name, "applied_at": now().isoformat()})
                newly_applied.append(name)
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
        if db.conn.in_transaction:
            db.execute("COMMIT")
    return newly_applied
