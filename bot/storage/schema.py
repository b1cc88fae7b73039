"""Every table of the case store's database, defined once for SQLite and PostgreSQL.

The definition is the schema as it stands after the last migration
(``bot.storage.migrations``), and what the queries are written against.
Columns are in the order the migrations added them, so a new database and an
upgraded one list the same columns in the same order. Times are ISO 8601 text
in China time (``bot.domain.clock``), which sorts in time order; amounts are floats;
lists and event details are JSON text.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

metadata = sa.MetaData()

# An `id` the database numbers itself: a rowid on SQLite, an identity column on PostgreSQL.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Amounts: DOUBLE PRECISION on PostgreSQL, REAL on SQLite, as the first stores created them.
Amount = sa.Float().with_variant(sqlite.REAL(), "sqlite")
EMPTY_LIST = sa.text("'[]'")


def _id() -> sa.Column:
    return sa.Column("id", Id, sa.Identity(), primary_key=True)


def _text(name: str, *args: object, **kwargs: object) -> sa.Column:
    return sa.Column(name, sa.Text, *args, **kwargs)


migrations = sa.Table("_migrations", metadata, _text("name", primary_key=True), _text("applied_at"))

# The case store's tables.

cases = sa.Table(
    "cases",
    metadata,
    _text("case_id", primary_key=True),
    *(_text(name, nullable=False) for name in ("kind", "role", "sender_id", "channel", "status")),
    _text("bank"),
    sa.Column("amount", Amount),
    _text("txn_date"),
    _text("merchant"),
    _text("card_last4"),
    _text("card_type"),
    _text("steps_done", nullable=False, server_default=EMPTY_LIST),
    sa.Column("handoff_requested", sa.Integer, server_default=sa.text("0")),
    _text("created_at", nullable=False),
    _text("updated_at", nullable=False),
    sa.Column("correct_amount", Amount),
    sa.Column("cross_border", sa.Integer),
    _text("unknown_facts", nullable=False, server_default=EMPTY_LIST),
    # Set when the conversation's personal data was erased (``bot.storage.erasure``): the row
    # stays as a tombstone, and ``erased_by`` says at whose request ("user" or a staff name).
    _text("erased_at"),
    _text("erased_by"),
    sa.Index("idx_cases_status_created_at", "status", "created_at"),
    sa.Index("idx_cases_sender_id_created_at", "sender_id", "created_at"),
    # The console's queue is newest first with case_id breaking ties (keyset
    # pagination); each filter has an index in that order, so a page is a range scan.
    sa.Index("idx_cases_created_at_case_id", "created_at", "case_id"),
    *(
        sa.Index(f"idx_cases_{column}_created_at_case_id", column, "created_at", "case_id")
        for column in ("status", "kind", "bank", "channel")
    ),
)
# The queue's filters, each with its own index above.
QUEUE_INDEXES = tuple(index for index in cases.indexes if index.name.endswith("_case_id"))

case_counters = sa.Table(
    "case_counters", metadata, _text("day", primary_key=True), sa.Column("last", sa.Integer)
)

case_events = sa.Table(
    "case_events",
    metadata,
    _id(),
    _text("case_id", sa.ForeignKey("cases.case_id")),
    _text("at"),
    _text("event"),
    _text("detail"),
    sa.Index("idx_case_events_case_id", "case_id"),
)

handoffs = sa.Table(
    "handoffs",
    metadata,
    _id(),
    *(_text(name) for name in ("sender_id", "channel", "case_id", "requested_at", "resolved_at")),
    sa.Index("idx_handoffs_resolved_at_requested_at", "resolved_at", "requested_at"),
)
WAITING = handoffs.c.resolved_at.is_(None)
# A conversation waits in the staff queue once, however often it asks.
ONE_WAITING_HANDOFF = sa.Index(
    "idx_handoffs_one_waiting_per_sender",
    handoffs.c.sender_id,
    unique=True,
    sqlite_where=WAITING,
    postgresql_where=WAITING,
)

checklist_links = sa.Table(
    "checklist_links",
    metadata,
    _text("token_hash", primary_key=True),
    _text("case_id", sa.ForeignKey("cases.case_id"), nullable=False),
    _text("created_at", nullable=False),
    _text("expires_at", nullable=False),
    _text("revoked_at"),
    sa.Index("idx_checklist_links_case_id", "case_id"),
)

# Follow-ups (``bot.storage.follow_ups``): the bot's questions on a case's dates, in the
# database so that they survive restarts and each is sent by one replica. A sender claims
# a due one by taking its lease (``claimed_by``, ``lease_until``) while it stays pending.
follow_ups = sa.Table(
    "follow_ups",
    metadata,
    _id(),
    _text("case_id", sa.ForeignKey("cases.case_id"), nullable=False),
    *(_text(name, nullable=False) for name in ("sender_id", "channel", "step_id", "due_at", "status")),
    _text("reason"),
    _text("claimed_by"),
    _text("lease_until"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    _text("created_at", nullable=False),
    _text("updated_at", nullable=False),
    sa.Index("idx_follow_ups_status_due_at", "status", "due_at"),
    sa.Index("idx_follow_ups_case_id", "case_id"),
    sa.Index("idx_follow_ups_sender_id_status", "sender_id", "status"),
)

# Conversations whose user asked for no more follow-ups (不用提醒我了).
follow_up_opt_outs = sa.Table(
    "follow_up_opt_outs",
    metadata,
    _text("sender_id", primary_key=True),
    _text("at", nullable=False),
)

# One rating per case, asked once the money came back; a second rating replaces the first.
case_feedback = sa.Table(
    "case_feedback",
    metadata,
    _text("case_id", sa.ForeignKey("cases.case_id"), primary_key=True),
    sa.Column("score", sa.Integer, nullable=False),
    _text("label", nullable=False),
    _text("comment"),
    _text("created_at", nullable=False),
    _text("channel", nullable=False),
)

# Receipt photos (``bot.storage.receipts``): the picture as stored (full card numbers covered,
# no metadata) and what was read from it, under the conversation and, once it has one, its case.
# ``receipt_id`` is random: knowing it opens nothing, every read is checked against the owner.
receipts = sa.Table(
    "receipts",
    metadata,
    _text("receipt_id", primary_key=True),
    *(_text(name, nullable=False) for name in ("sender_id", "channel", "status", "kind", "reading")),
    _text("case_id", sa.ForeignKey("cases.case_id")),
    sa.Column("image", sa.LargeBinary, nullable=False),
    sa.Column("numbers_covered", sa.Integer, nullable=False),
    _text("created_at", nullable=False),
    _text("updated_at", nullable=False),
    sa.Index("idx_receipts_sender_id_created_at", "sender_id", "created_at"),
    sa.Index("idx_receipts_case_id", "case_id"),
)

# The staff console's tables.

staff_users = sa.Table(
    "staff_users",
    metadata,
    _text("username", primary_key=True),
    _text("password_hash", nullable=False),
    _text("created_at", nullable=False),
    _text("role", nullable=False, server_default=sa.text("'agent'")),
    _text("disabled_at"),
)

staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    # The SHA-256 of the cookie's token, so a copy of the database opens no session.
    _text("id", primary_key=True),
    _text("username", sa.ForeignKey("staff_users.username"), nullable=False),
    *(_text(name, nullable=False) for name in ("csrf_token", "created_at", "expires_at")),
    _text("last_seen_at"),
    sa.Index("idx_staff_sessions_expires_at", "expires_at"),
    sa.Index("idx_staff_sessions_username", "username"),
)

login_attempts = sa.Table(
    "login_attempts",
    metadata,
    _id(),
    *(_text(name, nullable=False) for name in ("at", "username", "ip")),
    sa.Column("succeeded", sa.Integer, nullable=False),
    sa.Index("idx_login_attempts_username_at", "username", "at"),
    sa.Index("idx_login_attempts_ip_at", "ip", "at"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    _id(),
    *(_text(name, nullable=False) for name in ("at", "username", "action")),
    _text("case_id"),
    _text("sender_id"),
    _text("detail", nullable=False),
    sa.Index("idx_audit_log_case_id_id", "case_id", "id"),
    # A case page lists who looked at its conversation: entries found by sender, newest first.
    sa.Index("idx_audit_log_sender_id_id", "sender_id", "id"),
)

case_notes = sa.Table(
    "case_notes",
    metadata,
    _id(),
    _text("case_id", sa.ForeignKey("cases.case_id"), nullable=False),
    *(_text(name, nullable=False) for name in ("at", "username", "text")),
    sa.Index("idx_case_notes_case_id_id", "case_id", "id"),
)

case_tags = sa.Table(
    "case_tags",
    metadata,
    _text("case_id", sa.ForeignKey("cases.case_id"), primary_key=True),
    _text("tag", primary_key=True),
    _text("added_by", nullable=False),
    _text("added_at", nullable=False),
    sa.Index("idx_case_tags_tag_case_id", "tag", "case_id"),
)

conversation_reviews = sa.Table(
    "conversation_reviews",
    metadata,
    _text("sender_id", primary_key=True),
    _text("reviewed_by", nullable=False),
    _text("reviewed_at", nullable=False),
    # Reviewed up to this event, so later messages in the conversation show as new.
    sa.Column("last_event_id", sa.Integer),
)

flagged_examples = sa.Table(
    "flagged_examples",
    metadata,
    _id(),
    _text("sender_id", nullable=False),
    sa.Column("event_id", sa.Integer, nullable=False),
    _text("text", nullable=False),
    _text("annotated", nullable=False),
    _text("predicted_intent"),
    sa.Column("confidence", sa.Float),
    *(_text(name, nullable=False) for name in ("intent", "flagged_by", "flagged_at")),
    sa.Index("idx_flagged_examples_sender_id_event_id", "sender_id", "event_id", unique=True),
)

# Searched by the console: trigram full-text on SQLite, ILIKE on PostgreSQL (``Dialect.search``).
SEARCHED_COLUMNS = ("case_id", "card_last4", "merchant")
