"""Writes the dumps in this folder with the store's code as it was before ``bot/storage``.

    PYTHONPATH=. .venv/bin/python tests/databases/make_dumps.py

Run once, at the commit that added it (the code it drives was replaced in the
next one); the dumps are what the upgrade tests open. Needs the ``sqlite3``
command-line shell (its ``.dump`` keeps the FTS5 index, Python's ``iterdump``
does not) and PostgreSQL's programs (``pg_dump``).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import psycopg2
import sqlite_utils

sys.path.insert(0, str(Path(__file__).parents[1]))
from server_env import free_port  # noqa: E402

import bot.console.migrations as console_migrations  # noqa: E402
from bot import cases_postgres  # noqa: E402
from bot.cases import MIGRATIONS, Facts, migrate, open_store  # noqa: E402
from bot.clock import now  # noqa: E402
from bot.console.auth import StaffAuth, hash_password  # noqa: E402
from bot.console.database import PostgresDatabase, SQLiteDatabase  # noqa: E402
from bot.console.settings import Settings  # noqa: E402
from bot.console.store import ConsoleStore  # noqa: E402
from scripts.pg_service import PostgresService  # noqa: E402

HERE = Path(__file__).parent
PASSWORD = "correct horse battery"
WIDGET_ID = "0f3a9c5e0f3a9c5e0f3a9c5e0f3a9c5e"
OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz"
ALL_CONSOLE_MIGRATIONS = console_migrations.CONSOLE_MIGRATIONS


def current(location: Path | str) -> None:
    """Every migration of the day, and a row in every table, written through the stores."""
    cases = open_store(str(location) if isinstance(location, str) else f"sqlite:///{location}")
    console = ConsoleStore(location)
    auth = StaffAuth(console.db, Settings(case_db=location, tracker_db=location))
    auth.add_user("alice", PASSWORD, role="admin", by="setup")
    auth.add_user("bob", PASSWORD, role="agent", by="alice")
    auth.login("alice", PASSWORD, "10.0.0.1")
    auth.login("bob", "wrong password", "10.0.0.2")
    auth.set_disabled("bob", True, by="alice")

    first = cases.open_case(
        "rest:alice",
        "rest",
        "misswipe",
        Facts(bank="中国工商银行", amount=3000.0, txn_date=date(2026, 11, 20), merchant="华联超市",
              card_last4="1234", unknown=frozenset({"card_type"})),
    )  # fmt: skip
    cases.update_facts(first.case_id, Facts(correct_amount=300.0, cross_border=False))
    cases.mark_steps_done(first.case_id, ["contact_merchant"])
    cases.request_handoff("rest:alice", "rest", first.case_id)
    cases.add_checklist_link(first.case_id, "a" * 64, now() + timedelta(days=30))
    console.add_note(first.case_id, "已电话联系用户", "alice")
    console.add_tag(first.case_id, "需回电", "alice")
    console.mark_reviewed("rest:alice", "alice", 42, first.case_id)

    second = cases.open_case(
        f"wechat:{OPENID}", "wechat", "failed_charge", Facts(bank="招商银行", merchant="沃尔玛山姆会员店")
    )
    cases.change_kind(second.case_id, "unauthorized")
    cases.add_checklist_link(second.case_id, "b" * 64, now() + timedelta(days=30))
    console.revoke_checklist_links(second.case_id, "alice")
    console.set_status(second.case_id, "resolved", "alice")

    cases.open_case(f"web:{WIDGET_ID}", "socketio", "merchant", Facts(merchant="老王烧烤", amount=10.0))
    loose = cases.request_handoff(f"web:{WIDGET_ID}", "socketio", None)
    console.resolve_handoff(loose.handoff_id, "alice")
    console.flag_example(
        sender_id=f"web:{WIDGET_ID}", event_id=7, text="在华联被扣两次", annotated="在[华联](merchant)被扣两次",
        predicted_intent="nlu_fallback", confidence=0.4, intent="report_misswipe", username="alice",
    )  # fmt: skip
    console.close()
    cases.close()


EARLY_CASE_MIGRATIONS = 5  # to 0005_create_checklist_links
EARLY_CONSOLE_MIGRATIONS = 10  # to console_0010_enable_cases_fts


def early(location: Path | str) -> None:
    """Before conversation namespaces, staff roles and the one-waiting-handoff rule: legacy
    sender ids, a conversation queued twice, an account with no role, a session never touched."""
    console_migrations.CONSOLE_MIGRATIONS = ALL_CONSOLE_MIGRATIONS[:EARLY_CONSOLE_MIGRATIONS]
    if isinstance(location, str):
        connection = psycopg2.connect(location)
        cases_postgres.migrate(connection, cases_postgres.MIGRATIONS[:EARLY_CASE_MIGRATIONS])
        connection.close()
        db: SQLiteDatabase | PostgresDatabase = PostgresDatabase(location)
    else:
        connection = sqlite3.connect(location, isolation_level=None)
        migrate(sqlite_utils.Database(connection), MIGRATIONS[:EARLY_CASE_MIGRATIONS])
        db = SQLiteDatabase(connection)
    console_migrations.migrate_console(db)
    at = now().isoformat()
    rows = {
        "cases": [
            case_row("WS-20261120-0001", "alice", "rest", "华联超市", at),
            case_row("WS-20261120-0002", WIDGET_ID, "socketio", "全家便利店", at),
            case_row("WS-20261121-0001", OPENID, "wechat", "沃尔玛", at),
        ],
        "case_counters": [{"day": "20261120", "last": 2}, {"day": "20261121", "last": 1}],
        "case_events": [
            {"case_id": "WS-20261120-0001", "at": at, "event": "created", "detail": '{"kind": "misswipe"}'}
        ],
        "handoffs": [
            handoff_row("alice", "rest", "WS-20261120-0001", at, None),
            handoff_row("alice", "rest", None, at, None),  # the same conversation, queued again
            handoff_row(OPENID, "wechat", "WS-20261121-0001", at, at),
            handoff_row(WIDGET_ID, "socketio", None, at, None),
        ],
        "checklist_links": [
            {"token_hash": "c" * 64, "case_id": "WS-20261120-0001", "created_at": at,
             "expires_at": (now() + timedelta(days=30)).isoformat(), "revoked_at": None},
        ],  # fmt: skip
        "staff_users": [{"username": "old", "password_hash": hash_password(PASSWORD), "created_at": at}],
        "staff_sessions": [
            {"id": "d" * 64, "username": "old", "csrf_token": "e" * 43, "created_at": at,
             "expires_at": (now() + timedelta(hours=12)).isoformat()},
        ],  # fmt: skip
        "login_attempts": [{"at": at, "username": "old", "ip": "10.0.0.1", "succeeded": 1}],
        "audit_log": [
            {"at": at, "username": "old", "action": "conversation_reviewed", "case_id": "WS-20261120-0001",
             "sender_id": "alice", "detail": "{}"},
            {"at": at, "username": "old", "action": "example_flagged", "case_id": None,
             "sender_id": WIDGET_ID, "detail": "{}"},
        ],  # fmt: skip
        "case_notes": [{"case_id": "WS-20261120-0001", "at": at, "username": "old", "text": "回电"}],
        "case_tags": [{"case_id": "WS-20261120-0001", "tag": "需回电", "added_by": "old", "added_at": at}],
        "conversation_reviews": [
            {"sender_id": "alice", "reviewed_by": "old", "reviewed_at": at, "last_event_id": 3},
            {"sender_id": "someone-else", "reviewed_by": "old", "reviewed_at": at, "last_event_id": 9},
        ],
        "flagged_examples": [
            {"sender_id": WIDGET_ID, "event_id": 7, "text": "扣两次", "annotated": "扣两次",
             "predicted_intent": None, "confidence": None, "intent": "report_misswipe", "flagged_by": "old",
             "flagged_at": at},
        ],  # fmt: skip
    }
    with db.transaction() as tx:
        for table, table_rows in rows.items():
            for row in table_rows:
                tx.insert(table, row)
    db.close() if isinstance(db, PostgresDatabase) else connection.close()


def case_row(case_id: str, sender_id: str, channel: str, merchant: str, at: str) -> dict[str, object]:
    return {
        "case_id": case_id, "kind": "misswipe", "role": "cardholder", "sender_id": sender_id,
        "channel": channel, "status": "open", "bank": "中国银行", "amount": 58.0, "txn_date": "2026-11-19",
        "merchant": merchant, "card_last4": None, "card_type": None, "steps_done": "[]",
        "handoff_requested": 0, "created_at": at, "updated_at": at, "correct_amount": None,
        "cross_border": None, "unknown_facts": "[]",
    }  # fmt: skip


def handoff_row(
    sender_id: str, channel: str, case_id: str | None, at: str, resolved_at: str | None
) -> dict[str, object]:
    return {"sender_id": sender_id, "channel": channel, "case_id": case_id, "requested_at": at,
            "resolved_at": resolved_at}  # fmt: skip


def upgrade_with_todays_code(location: Path | str) -> None:
    console_migrations.CONSOLE_MIGRATIONS = ALL_CONSOLE_MIGRATIONS
    ConsoleStore(location).close()


def dump_sqlite(path: Path, name: str) -> None:
    dump = subprocess.run(["sqlite3", str(path), ".dump"], check=True, capture_output=True, text=True)
    (HERE / f"{name}.sqlite.sql").write_text(dump.stdout)


def dump_postgres(service: PostgresService, url: str, name: str) -> None:
    dump = subprocess.run(
        [str(service.bin_dir / "pg_dump"), "--no-owner", "--no-privileges", "--inserts", url],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (HERE / f"{name}.postgresql.sql").write_text(dump.stdout)


def main() -> None:
    os.environ["WUSHUA_TODAY"] = "2026-11-25"
    # Each step is dumped after it runs: early-upgraded is the very database early was.
    steps = [("current", current), ("early", early), ("early-upgraded", upgrade_with_todays_code)]
    with tempfile.TemporaryDirectory(prefix="wushua-dumps-") as work:
        for name, step in steps:
            path = Path(work) / ("early.db" if name.startswith("early") else f"{name}.db")
            step(path)
            dump_sqlite(path, name)
    # Not under work: the SQLite stores made that owner-only, and as root the server runs as 'postgres'.
    with tempfile.TemporaryDirectory(prefix="wushua-dumps-pg-", ignore_cleanup_errors=True) as data_dir:
        service = PostgresService(Path(data_dir), free_port(), durable=False)
        service.start()
        try:
            for name, step in steps:
                url = service.create_database("early" if name.startswith("early") else name)
                step(url)
                dump_postgres(service, url, name)
        finally:
            service.stop()


if __name__ == "__main__":
    main()
