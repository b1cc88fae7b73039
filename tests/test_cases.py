"""The case store. Behaviour tests run against both databases, SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from datetime import date, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from bot.domain.cases import MAX_NEW_CASES_PER_DAY, CaseNotFound, Facts, TooManyCases
from bot.domain.feedback import Rating
from bot.storage import open_store, store_from_env
from bot.storage.cases import SQLCaseStore
from bot.storage.database import RECONNECT_SECONDS, Database, sqlite_path_from_url
from bot.storage.migrations import MIGRATIONS, migrate
from bot.storage.schema import metadata
from scripts.pg_service import PostgresService

# store, store_url: the case store on SQLite and on PostgreSQL.
pytest_plugins = ["tests.store_backends"]

FACTS = Facts(bank="中国工商银行", amount=3000.0, txn_date=date(2026, 11, 20), merchant="华联超市")
AnyStore = SQLCaseStore


def PostgresCaseStore(
    url: str, *, pool_size: int = 4, reconnect_seconds: float = RECONNECT_SECONDS
) -> SQLCaseStore:
    """The store on PostgreSQL, with a pool of its own (``open_store`` shares the URL's)."""
    database = Database(url, pool_size=pool_size, reconnect_seconds=reconnect_seconds)
    migrate(database)
    return SQLCaseStore(database)


@contextmanager
def raw_database(url: str) -> Iterator[Any]:
    """A plain DB-API connection to the store's database, around the store's own code."""
    if url.startswith("sqlite:///"):
        database = sqlite3.connect(sqlite_path_from_url(url))
    else:
        database = psycopg2.connect(url)
    with closing(database), database:  # commits on success, as both drivers do
        yield database


def query(url: str, statement: str) -> list[tuple[Any, ...]]:
    with raw_database(url) as database:
        cursor = database.cursor()
        cursor.execute(statement)
        return cursor.fetchall()


def count_rows(url: str, table: str) -> int:
    return query(url, f"SELECT count(*) FROM {table}")[0][0]


def case_history(store: AnyStore, case_id: str) -> list[dict[str, Any]]:
    """The case's own events, without its follow-ups' (tests/test_follow_up_store.py has those)."""
    return [event for event in store.events(case_id) if not event["event"].startswith("follow_up_")]


def case_numbers(case_ids: list[str]) -> list[int]:
    return sorted(int(case_id.rsplit("-", 1)[1]) for case_id in case_ids)


def test_case_ids_follow_the_pattern_and_count_per_day(store: AnyStore) -> None:
    first = store.open_case("alice", "rest", "misswipe", FACTS)
    second = store.open_case("bob", "rest", "failed_charge", FACTS)
    assert re.fullmatch(r"WS-\d{8}-\d{4}", first.case_id)
    assert first.case_id.endswith("-0001")
    assert second.case_id.endswith("-0002")
    assert first.case_id[3:11] == second.case_id[3:11]


def test_a_new_case_is_open_and_holds_its_facts(store: AnyStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    assert case.status == "open"
    assert case.role == "cardholder"
    assert case.facts == FACTS
    assert case.steps_done == ()
    assert case.created_at.utcoffset() == timedelta(hours=8)
    assert store.get(case.case_id) == case


def test_merchant_cases_have_the_merchant_role(store: AnyStore) -> None:
    assert store.open_case("shop", "rest", "merchant", Facts(amount=10.0)).role == "merchant"


def test_a_conversation_holds_one_case_per_problem(store: AnyStore, store_url: str) -> None:
    first = store.open_case("alice", "rest", "misswipe", FACTS)
    second = store.open_case("alice", "rest", "failed_charge", Facts(amount=2500.0))
    assert second.case_id != first.case_id
    assert store.get(first.case_id).kind == "misswipe"  # the first case is left as it was
    assert store.current_case("alice") == second
    store.set_status(second.case_id, "resolved")
    store.open_case("bob", "rest", "misswipe", FACTS)
    owned = store.cases_for_owner("alice")
    assert [case.case_id for case in owned] == [first.case_id, second.case_id]  # unfinished first
    assert count_rows(store_url, "cases") == 3


def test_a_change_of_kind_is_its_own_event(store: AnyStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    changed = store.change_kind(case.case_id, "unauthorized")
    assert (changed.kind, changed.role) == ("unauthorized", "cardholder")
    assert store.change_kind(case.case_id, "merchant").role == "merchant"
    store.change_kind(case.case_id, "merchant")  # no change, no event
    kinds = [event["detail"] for event in store.events(case.case_id) if event["event"] == "kind_changed"]
    assert kinds == [{"from": "misswipe", "to": "unauthorized"}, {"from": "unauthorized", "to": "merchant"}]
    with pytest.raises(ValueError):
        store.change_kind(case.case_id, "lottery")


def test_unknown_facts_are_kept_until_given(store: AnyStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", Facts(bank="中国银行", unknown=frozenset({"amount"})))
    assert store.get(case.case_id).facts.unknown == {"amount"}
    case = store.update_facts(case.case_id, Facts(unknown=frozenset({"merchant"})))
    assert case.facts.unknown == {"amount", "merchant"}
    case = store.update_facts(case.case_id, Facts(amount=58.0))
    assert (case.facts.amount, case.facts.unknown) == (58.0, {"merchant"})
    assert case_history(store, case.case_id)[1]["detail"] == {"unknown": ["merchant"]}


def test_the_correct_amount_and_the_cross_border_flag_round_trip(store: AnyStore) -> None:
    facts = Facts(amount=580.0, correct_amount=58.0, cross_border=False)
    case = store.open_case("alice", "rest", "misswipe", facts)
    assert store.get(case.case_id).facts == facts
    assert store.get(case.case_id).facts.overcharge == 522.0
    assert store.update_facts(case.case_id, Facts(cross_border=True)).facts.cross_border is True


def test_concurrent_creation_from_many_connections_gives_unique_consecutive_ids(store_url: str) -> None:
    open_store(store_url).close()  # migrate first, so the threads race on cases, not on the schema
    barrier = threading.Barrier(8)

    def create(thread: int) -> list[str]:
        with closing(open_store(store_url)) as own_store:
            barrier.wait()
            return [
                own_store.open_case(f"user-{thread}-{n}", "rest", "misswipe", FACTS).case_id for n in range(3)
            ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [case_id for batch in pool.map(create, range(8)) for case_id in batch]
    assert case_numbers(ids) == list(range(1, 25))
    assert count_rows(store_url, "cases") == 24


def test_one_store_serves_more_threads_than_it_has_connections(store: AnyStore, store_url: str) -> None:
    def create(thread: int) -> str:
        return store.open_case(f"user-{thread}", "rest", "misswipe", FACTS).case_id

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(create, range(16)))
    assert case_numbers(ids) == list(range(1, 17))


def open_cases_in_a_process(url: str, senders: list[str], barrier: Barrier, results: Queue) -> None:
    with closing(open_store(url)) as own_store:
        barrier.wait(timeout=120)
        results.put([own_store.open_case(sender, "rest", "misswipe", FACTS).case_id for sender in senders])


def test_processes_creating_together_get_unique_ids(store_url: str) -> None:
    open_store(store_url).close()
    spawn = multiprocessing.get_context("spawn")  # a clean interpreter, as a second server would be
    barrier, results = spawn.Barrier(3), spawn.Queue()
    # Each process opens ten cases of its own, and one for "shared" in the middle.
    senders = [
        [*(f"p{n}-{i}" for i in range(5)), "shared", *(f"p{n}-{i}" for i in range(5, 10))] for n in range(3)
    ]
    processes = [
        spawn.Process(target=open_cases_in_a_process, args=(store_url, own, barrier, results))
        for own in senders
    ]
    for process in processes:
        process.start()
    batches = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    all_ids = {case_id for batch in batches for case_id in batch}
    assert case_numbers(list(all_ids)) == list(range(1, 34))  # 3 x 10 own cases + 3 for "shared"
    assert count_rows(store_url, "cases") == 33
    with closing(open_store(store_url)) as reader:
        assert len(reader.cases_for_owner("shared")) == 3


def test_a_resolved_case_lets_the_conversation_open_a_new_one(store: AnyStore) -> None:
    first = store.open_case("alice", "rest", "misswipe", FACTS)
    store.set_status(first.case_id, "resolved")
    second = store.open_case("alice", "rest", "unauthorized", FACTS)
    assert second.case_id != first.case_id
    assert store.current_case("alice") == second


def test_only_the_owner_sees_a_case(store: AnyStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    assert store.get_for_owner(case.case_id, "alice") == case
    assert store.get_for_owner(case.case_id.lower(), "alice") == case
    assert store.get_for_owner(case.case_id, "mallory") is None
    assert store.get_for_owner("WS-20200101-0001", "alice") is None


def test_facts_update_merges_and_is_logged(store: AnyStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    updated = store.update_facts(case.case_id, Facts(amount=2999.5, card_last4="1234"))
    assert updated.facts.amount == 2999.5
    assert updated.facts.card_last4 == "1234"
    assert updated.facts.merchant == "华联超市"
    assert [event["event"] for event in case_history(store, case.case_id)] == ["created", "facts_updated"]
    assert case_history(store, case.case_id)[-1]["detail"] == {"amount": 2999.5, "card_last4": "1234"}


def test_steps_are_recorded_once_in_order(store: AnyStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    store.mark_steps_done(case.case_id, ["contact_merchant"])
    case = store.mark_steps_done(case.case_id, ["contact_merchant", "gather_evidence"])
    assert case.steps_done == ("contact_merchant", "gather_evidence")
    assert store.get(case.case_id) == case


def test_status_changes_are_checked_and_logged(store: AnyStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    assert store.set_status(case.case_id, "with_bank").status == "with_bank"
    with pytest.raises(ValueError):
        store.set_status(case.case_id, "lost")
    assert case_history(store, case.case_id)[-1]["detail"] == {"from": "open", "to": "with_bank"}


def test_unknown_case_raises(store: AnyStore) -> None:
    with pytest.raises(CaseNotFound):
        store.set_status("WS-20261125-9999", "resolved")


def test_a_case_keeps_one_rating_the_latest_and_each_is_logged(store: AnyStore, store_url: str) -> None:
    case = store.set_status(store.open_case("alice", "rest", "misswipe", FACTS).case_id, "resolved")
    first = store.record_feedback(case.case_id, Rating(5, "satisfied"), None, "rest")
    assert (first.score, first.label, first.comment, first.channel) == (5, "satisfied", None, "rest")
    store.record_feedback(case.case_id.lower(), Rating(1, "dissatisfied"), "到账太慢", "wechat")
    latest = store.feedback(case.case_id)
    assert (latest.score, latest.label, latest.comment) == (1, "dissatisfied", "到账太慢")
    assert latest.channel == "wechat"
    assert latest.created_at.utcoffset() == timedelta(hours=8)
    assert count_rows(store_url, "case_feedback") == 1
    logged = [event["detail"] for event in store.events(case.case_id) if event["event"] == "feedback"]
    assert logged == [
        {"score": 5, "label": "satisfied", "commented": False},
        {"score": 1, "label": "dissatisfied", "commented": True},
    ]
    assert store.feedback(store.open_case("bob", "rest", "misswipe", FACTS).case_id) is None


def test_a_rating_and_its_event_commit_together(
    store: AnyStore, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    with pytest.raises(CaseNotFound):
        store.record_feedback("WS-20261125-9999", Rating(5, "satisfied"), None, "rest")

    def full_log(*args: object) -> None:
        raise OSError("the event log is full")

    monkeypatch.setattr(store, "_log", full_log)
    with pytest.raises(OSError):
        store.record_feedback(case.case_id, Rating(3, "neutral"), "还行", "rest")
    assert count_rows(store_url, "case_feedback") == 0


def test_handoff_is_recorded_with_and_without_a_case(store: AnyStore, store_url: str) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    handoff = store.request_handoff("alice", "rest", case.case_id)
    loose = store.request_handoff("carol", "wechat", None)
    assert store.get(case.case_id).handoff_requested is True
    assert handoff.case_id == case.case_id
    assert loose.case_id is None
    assert loose.handoff_id != handoff.handoff_id
    assert count_rows(store_url, "handoffs") == 2


def test_text_that_looks_like_sql_is_stored_as_text(store: AnyStore, store_url: str) -> None:
    merchant = "x'); DROP TABLE cases; --"
    case = store.open_case("alice", "rest", "misswipe", Facts(merchant=merchant))
    assert store.get(case.case_id).facts.merchant == merchant
    assert count_rows(store_url, "cases") == 1


def test_stores_starting_together_migrate_once(store_url: str) -> None:
    barrier = threading.Barrier(4)

    def start(_: int) -> None:
        barrier.wait()
        open_store(store_url).close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(start, range(4)))
    names = [name for (name,) in query(store_url, "SELECT name FROM _migrations ORDER BY name")]
    assert names == sorted(name for name, _ in MIGRATIONS)


# SQLite only


def test_sqlite_migrations_run_once_and_wal_is_on(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    open_store(str(path)).close()
    store = open_store(str(path))
    names = [row["name"] for row in store.db.query("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [name for name, _ in MIGRATIONS]
    assert migrate(store.db) == []
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_domain_loads_no_database_code_and_sqlite_no_postgres_driver(tmp_path: Path) -> None:
    script = f"""
import sys
import bot.domain.cases
drivers = {{"sqlalchemy", "sqlite_utils", "psycopg2"}}
assert not drivers & set(sys.modules), drivers & set(sys.modules)
from bot.storage import open_store
open_store("sqlite:///{tmp_path / "cases.db"}").get("WS-20261125-0001")
assert "psycopg2" not in sys.modules
"""
    environment = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    subprocess.run([sys.executable, "-c", script], check=True, env=environment)


def test_store_urls() -> None:
    assert sqlite_path_from_url("sqlite:///var/cases.db") == "var/cases.db"
    assert sqlite_path_from_url("var/cases.db") == "var/cases.db"
    with pytest.raises(ValueError):
        open_store("mysql://host/db")


# PostgreSQL only


def test_postgres_urls_open_the_postgres_store(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with closing(open_store(postgres_url.replace("postgresql://", "postgres://", 1))) as store:
        assert store.db.dialect.name == "postgresql"
    monkeypatch.setenv("CASE_STORE_URL", postgres_url)
    with closing(store_from_env()) as store:
        assert store.db.dialect.name == "postgresql"


def test_postgres_has_the_sqlite_tables_and_columns(tmp_path: Path, postgres_url: str) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'cases.db'}"
    open_store(sqlite_url).close()
    open_store(postgres_url).close()
    tables = [table.name for table in metadata.sorted_tables]
    assert {"cases", "checklist_links", "staff_users", "staff_sessions", "audit_log", "_migrations"} <= set(
        tables
    )
    for table in tables:
        sqlite_columns = [row[1] for row in query(sqlite_url, f"PRAGMA table_info({table})")]
        postgres_columns = [
            name
            for (name,) in query(
                postgres_url,
                "SELECT column_name FROM information_schema.columns "
                f"WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position",
            )
        ]
        assert postgres_columns == sqlite_columns, table


def test_postgres_migrations_are_named_like_sqlite_and_rerun_applies_nothing(postgres_url: str) -> None:
    open_store(postgres_url).close()
    names = [name for (name,) in query(postgres_url, "SELECT name FROM _migrations ORDER BY name")]
    assert names == sorted(name for name, _ in MIGRATIONS)
    database = Database(postgres_url)
    assert migrate(database) == []
    database.close()


def test_connections_the_server_dropped_are_replaced(postgres_url: str) -> None:
    with closing(PostgresCaseStore(postgres_url, pool_size=3)) as store:
        case = store.open_case("alice", "rest", "misswipe", FACTS)
        query(
            postgres_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'wushua-cases' AND datname = current_database()",
        )
        for _ in range(5):  # more calls than pooled connections: none may come back broken
            assert store.get(case.case_id) == case
        assert store.open_case("bob", "rest", "misswipe", FACTS).case_id.endswith("-0002")


def test_a_call_during_a_server_restart_waits_for_the_server(
    postgres_service: PostgresService, postgres_url: str
) -> None:
    with closing(PostgresCaseStore(postgres_url)) as store, ThreadPoolExecutor(1) as pool:
        case = store.open_case("alice", "rest", "misswipe", FACTS)
        postgres_service.stop()
        try:
            during = pool.submit(store.get, case.case_id)
            time.sleep(1)
            assert not during.done()
        finally:
            postgres_service.start()
        assert during.result(timeout=30) == case


def test_the_store_survives_a_server_restart(postgres_service: PostgresService, postgres_url: str) -> None:
    with closing(PostgresCaseStore(postgres_url, reconnect_seconds=0.5)) as store:
        case = store.open_case("alice", "rest", "misswipe", FACTS)
        postgres_service.stop()
        try:
            with pytest.raises(psycopg2.OperationalError):
                store.get(case.case_id)
        finally:
            postgres_service.start()
        assert store.get(case.case_id) == case
        assert store.set_status(case.case_id, "with_bank").status == "with_bank"


def test_a_conversation_waits_in_the_queue_once(store: AnyStore, store_url: str) -> None:
    first = store.request_handoff("web:alice", "socketio", None)
    again = store.request_handoff("web:alice", "socketio", None)
    assert (again.handoff_id, again.already_waiting, first.already_waiting) == (first.handoff_id, True, False)
    assert count_rows(store_url, "handoffs") == 1
    query(store_url, f"UPDATE handoffs SET resolved_at = 'now' WHERE id = {first.handoff_id} RETURNING id")
    assert store.request_handoff("web:alice", "socketio", None).handoff_id != first.handoff_id


def test_concurrent_requests_of_one_conversation_queue_it_once(store_url: str) -> None:
    open_store(store_url).close()
    barrier = threading.Barrier(6)

    def request(_: int) -> int:
        with closing(open_store(store_url)) as own_store:
            barrier.wait()
            return own_store.request_handoff("web:tapper", "socketio", None).handoff_id

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = set(pool.map(request, range(6)))
    assert len(ids) == 1 and count_rows(store_url, "handoffs") == 1


def test_a_conversation_opens_a_limited_number_of_cases_a_day(
    store: AnyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(MAX_NEW_CASES_PER_DAY):
        store.open_case("rest:script", "rest", "misswipe", FACTS)
    with pytest.raises(TooManyCases):
        store.open_case("rest:script", "rest", "misswipe", FACTS)
    assert store.open_case("rest:someone-else", "rest", "misswipe", FACTS)
    monkeypatch.setenv("WUSHUA_TODAY", "2026-11-26")
    assert store.open_case("rest:script", "rest", "misswipe", FACTS)  # a new day
