"""Databases the earlier stores made open with ``bot.storage``, on SQLite and PostgreSQL.

The dumps in ``tests/databases`` were written by the code before it (see
their README): ``current`` at its last migration, ``early`` at an earlier
one, ``early-upgraded`` what that code made of ``early``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from database_dumps import load_dump

from bot.console.auth import AccountDisabled, StaffAuth
from bot.console.settings import Settings
from bot.console.store import CaseFilter, ConsoleStore
from bot.domain.cases import Facts
from bot.domain.clock import CHINA, now
from bot.storage import open_store
from bot.storage.schema import metadata

PASSWORD = "correct horse battery"  # every staff account's in the dumps
# Migrations written after the dumps: today's code adds them to a dumped database.
MIGRATIONS_AFTER_THE_DUMPS = {
    "0008_create_follow_ups",
    "0009_create_case_feedback",
    "0010_add_erasure_tombstones",
    "0011_create_receipts",
    "console_0015_index_audit_log_by_sender",
}


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    yield tmp_path / "cases.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.fixture
def twin(request: pytest.FixtureRequest, location: Path | str, tmp_path: Path) -> Path | str:
    """A second database on the same kind of server."""
    if isinstance(location, Path):
        return tmp_path / "twin.db"
    service = request.getfixturevalue("postgres_service")
    twin_url = service.create_database(location.rsplit("/", 1)[1] + "_twin")
    request.addfinalizer(lambda: service.drop_database(twin_url.rsplit("/", 1)[1]))
    return twin_url


def rows(location: Path | str, statement: str) -> list[tuple[Any, ...]]:
    database = psycopg2.connect(location) if isinstance(location, str) else sqlite3.connect(location)
    with closing(database):
        cursor = database.cursor()
        cursor.execute(statement)
        return cursor.fetchall()


def contents(location: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of our tables, in order; when each migration ran is left out."""
    found = {}
    for table in metadata.sorted_tables:
        columns = ", ".join(column.name for column in table.columns if column.name != "applied_at")
        found[table.name] = sorted(rows(location, f"SELECT {columns} FROM {table.name}"), key=repr)
    return found


def structure(location: Path | str) -> dict[str, Any]:
    """Tables, columns (name, type, null, default, position), indexes, constraints and triggers.

    SQLite reports a TEXT primary key made without NOT NULL as nullable; it is
    a key either way, so key columns are compared without it.
    """
    if isinstance(location, str):
        return {
            name: sorted(rows(location, statement))
            for name, statement in (
                ("columns", "SELECT table_name, column_name, ordinal_position, data_type, is_nullable, "
                            "column_default, is_identity FROM information_schema.columns "
                            "WHERE table_schema = 'public'"),
                ("indexes", "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"),
                ("constraints", "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                                "FROM pg_constraint WHERE connamespace = 'public'::regnamespace"),
            )
        }  # fmt: skip
    tables = [name for (name,) in rows(location, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    columns = {
        table: [(cid, name, kind, 0 if key else null, default, key)
                for cid, name, kind, null, default, key in rows(location, f"PRAGMA table_info('{table}')")]
        for table in tables
    }  # fmt: skip
    keys = {table: rows(location, f"PRAGMA foreign_key_list('{table}')") for table in tables}
    schema = rows(location, "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')")
    # The same statement whoever wrote it: sqlite-utils quotes names and breaks lines, SQLAlchemy does not.
    normal = {(kind, name, re.sub(r'[\s"\[\]]', "", sql or "").lower()) for kind, name, sql in schema}
    return {"columns": columns, "foreign_keys": keys, "indexes_and_triggers": sorted(normal)}


def migrations(location: Path | str) -> list[tuple[str, str]]:
    return sorted(rows(location, "SELECT name, applied_at FROM _migrations"))


def test_a_database_of_the_last_stores_opens_as_it_is_and_works(location: Path | str) -> None:
    load_dump("current", location)
    recorded = migrations(location)
    store = ConsoleStore(location)
    ran = [migration for migration in migrations(location) if migration not in recorded]
    assert sorted(name for name, _ in ran) == sorted(MIGRATIONS_AFTER_THE_DUMPS)  # nothing ran again
    first = store.cases.get("WS-20261125-0001")
    assert (first.sender_id, first.facts.merchant, first.facts.correct_amount, first.steps_done) == (
        "rest:alice", "华联超市", 300.0, ("contact_merchant",)
    )  # fmt: skip
    assert first.facts.unknown == {"card_type"} and first.facts.cross_border is False
    assert [case.status for case in store.cases.cases_for_owner("rest:alice")] == ["open"]
    assert store.cases.case_for_checklist_link("a" * 64) == first
    assert store.cases.case_for_checklist_link("b" * 64) is None  # revoked
    assert store.cases.request_handoff("rest:alice", "rest", None).already_waiting
    assert [row.case_id for row in store.queue(CaseFilter(search="华联超市")).rows] == ["WS-20261125-0001"]
    assert [row.case_id for row in store.queue(CaseFilter(search="会员店")).rows] == ["WS-20261125-0002"]
    assert [note.text for note in store.notes(first.case_id)] == ["已电话联系用户"]
    assert store.tags(first.case_id) == ["需回电"] and store.review("rest:alice").last_event_id == 42
    assert store.audit_log(case_id="WS-20261125-0002")[0].action == "status_changed"
    # After the dump's login attempts (13:31 on the pinned day) whatever the time of day the test
    # runs: before them, those attempts would count as recent failures and delay the login.
    after_the_dump = datetime(2026, 11, 25, 23, 0, tzinfo=CHINA)
    auth = StaffAuth(store.db, Settings(case_db=location, tracker_db=location), clock=lambda: after_the_dump)
    assert auth.login("alice", PASSWORD, "10.0.0.9").is_admin
    with pytest.raises(AccountDisabled):
        auth.login("bob", PASSWORD, "10.0.0.9")
    assert store.cases.open_case("rest:carol", "rest", "misswipe", Facts()).case_id == "WS-20261125-0004"
    store.close()


def test_an_earlier_database_is_upgraded_as_the_earlier_code_upgraded_it(
    location: Path | str, twin: Path | str
) -> None:
    load_dump("early", location)
    open_store(str(location)).close()
    load_dump("early-upgraded", twin)
    open_store(str(twin)).close()  # adds what came after the dumps, and nothing else
    assert [name for name, _ in migrations(location)] == [name for name, _ in migrations(twin)]
    assert contents(location) == contents(twin)
    assert structure(location) == structure(twin)
    store = ConsoleStore(location)  # and the search index followed the renamed conversations
    assert [row.sender_id for row in store.queue(CaseFilter(search="华联超市")).rows] == ["rest:alice"]
    store.close()


def test_a_new_database_has_the_schema_the_earlier_code_made(location: Path | str, twin: Path | str) -> None:
    open_store(str(location)).close()
    load_dump("current", twin)
    open_store(str(twin)).close()  # adds what came after the dumps, and nothing else
    assert [name for name, _ in migrations(location)] == [name for name, _ in migrations(twin)]
    assert structure(location) == structure(twin)


def test_a_checklist_link_of_an_earlier_database_keeps_working_until_it_expires(
    location: Path | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_dump("early", location)
    store = open_store(str(location))
    assert store.case_for_checklist_link("c" * 64).sender_id == "rest:alice"
    monkeypatch.setenv("WUSHUA_TODAY", (now() + timedelta(days=31)).date().isoformat())
    assert store.case_for_checklist_link("c" * 64) is None
    store.close()
