from __future__ import annotations

import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from bot.cases import (
    MIGRATIONS,
    CaseNotFound,
    Facts,
    SQLiteCaseStore,
    migrate,
    open_store,
    sqlite_path_from_url,
)

FACTS = Facts(bank="中国工商银行", amount=3000.0, txn_date=date(2026, 11, 20), merchant="华联超市")


@pytest.fixture
def store(tmp_path: Path) -> SQLiteCaseStore:
    return SQLiteCaseStore(tmp_path / "cases.db")


def test_case_ids_follow_the_pattern_and_count_per_day(store: SQLiteCaseStore) -> None:
    first = store.open_case("alice", "rest", "misswipe", FACTS)
    second = store.open_case("bob", "rest", "failed_charge", FACTS)
    assert re.fullmatch(r"WS-\d{8}-\d{4}", first.case_id)
    assert first.case_id.endswith("-0001")
    assert second.case_id.endswith("-0002")
    assert first.case_id[3:11] == second.case_id[3:11]


def test_a_new_case_is_open_and_holds_its_facts(store: SQLiteCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    assert case.status == "open"
    assert case.role == "cardholder"
    assert case.facts == FACTS
    assert case.steps_done == ()
    assert store.get(case.case_id) == case


def test_merchant_cases_have_the_merchant_role(store: SQLiteCaseStore) -> None:
    assert store.open_case("shop", "rest", "merchant", Facts(amount=10.0)).role == "merchant"


def test_opening_twice_in_one_conversation_keeps_one_case(store: SQLiteCaseStore) -> None:
    first = store.open_case("alice", "rest", "misswipe", FACTS)
    again = store.open_case("alice", "rest", "misswipe", Facts(amount=2500.0))
    assert again.case_id == first.case_id
    assert again.facts.amount == 2500.0
    assert again.facts.bank == "中国工商银行"
    assert store.db["cases"].count == 1


def test_concurrent_creation_from_many_connections_gives_unique_ids(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    SQLiteCaseStore(path)
    barrier = threading.Barrier(8)

    def create(sender: str) -> str:
        store = SQLiteCaseStore(path)
        barrier.wait()
        return store.open_case(sender, "rest", "misswipe", FACTS).case_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, [f"user-{i % 8}" for i in range(8)] * 3))
    assert len(set(ids)) == 8
    assert SQLiteCaseStore(path).db["cases"].count == 8


def test_concurrent_duplicates_of_one_conversation_make_one_case(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    SQLiteCaseStore(path)
    barrier = threading.Barrier(6)

    def create(_: int) -> str:
        store = SQLiteCaseStore(path)
        barrier.wait()
        return store.open_case("same-sender", "rest", "misswipe", FACTS).case_id

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = set(pool.map(create, range(6)))
    assert len(ids) == 1


def test_a_resolved_case_lets_the_conversation_open_a_new_one(store: SQLiteCaseStore) -> None:
    first = store.open_case("alice", "rest", "misswipe", FACTS)
    store.set_status(first.case_id, "resolved")
    second = store.open_case("alice", "rest", "unauthorized", FACTS)
    assert second.case_id != first.case_id
    assert store.current_case("alice") == second


def test_only_the_owner_sees_a_case(store: SQLiteCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    assert store.get_for_owner(case.case_id, "alice") == case
    assert store.get_for_owner(case.case_id.lower(), "alice") == case
    assert store.get_for_owner(case.case_id, "mallory") is None
    assert store.get_for_owner("WS-20200101-0001", "alice") is None


def test_facts_update_merges_and_is_logged(store: SQLiteCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    updated = store.update_facts(case.case_id, Facts(amount=2999.5, card_last4="1234"))
    assert updated.facts.amount == 2999.5
    assert updated.facts.card_last4 == "1234"
    assert updated.facts.merchant == "华联超市"
    assert [event["event"] for event in store.events(case.case_id)] == ["created", "facts_updated"]


def test_steps_are_recorded_once_in_order(store: SQLiteCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    store.mark_steps_done(case.case_id, ["contact_merchant"])
    case = store.mark_steps_done(case.case_id, ["contact_merchant", "gather_evidence"])
    assert case.steps_done == ("contact_merchant", "gather_evidence")


def test_status_changes_are_checked_and_logged(store: SQLiteCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    assert store.set_status(case.case_id, "with_bank").status == "with_bank"
    with pytest.raises(ValueError):
        store.set_status(case.case_id, "lost")
    assert store.events(case.case_id)[-1]["detail"] == {"from": "open", "to": "with_bank"}


def test_unknown_case_raises(store: SQLiteCaseStore) -> None:
    with pytest.raises(CaseNotFound):
        store.set_status("WS-20261125-9999", "resolved")


def test_handoff_is_recorded_with_and_without_a_case(store: SQLiteCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    handoff = store.request_handoff("alice", "rest", case.case_id)
    loose = store.request_handoff("carol", "wechat", None)
    assert store.get(case.case_id).handoff_requested is True
    assert handoff.case_id == case.case_id
    assert loose.case_id is None
    assert store.db["handoffs"].count == 2


def test_text_that_looks_like_sql_is_stored_as_text(store: SQLiteCaseStore) -> None:
    merchant = "x'); DROP TABLE cases; --"
    case = store.open_case("alice", "rest", "misswipe", Facts(merchant=merchant))
    assert store.get(case.case_id).facts.merchant == merchant
    assert store.db["cases"].count == 1


def test_migrations_run_once_and_wal_is_on(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    SQLiteCaseStore(path)
    store = SQLiteCaseStore(path)
    assert [row["name"] for row in store.db["_migrations"].rows] == [name for name, _ in MIGRATIONS]
    assert migrate(store.db) == []
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_one_open_case_per_sender_is_enforced_by_the_schema(store: SQLiteCaseStore) -> None:
    case = store.open_case("alice", "rest", "misswipe", FACTS)
    row = dict(next(store.db["cases"].rows))
    row["case_id"] = "WS-20261125-0099"
    with pytest.raises(sqlite3.IntegrityError):
        store.db["cases"].insert(row)
    assert store.current_case("alice").case_id == case.case_id


def test_store_urls() -> None:
    assert sqlite_path_from_url("sqlite:///var/cases.db") == "var/cases.db"
    assert sqlite_path_from_url("var/cases.db") == "var/cases.db"
    with pytest.raises(ValueError):
        open_store("mysql://host/db")


def test_processes_starting_together_migrate_once(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    barrier = threading.Barrier(4)

    def start(_: int) -> int:
        barrier.wait()
        return SQLiteCaseStore(path).db["_migrations"].count

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert set(pool.map(start, range(4))) == {len(MIGRATIONS)}
