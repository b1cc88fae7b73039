"""The retention purge (PIPL Art. 19): conversations whose cases all closed long ago, and nothing else.

Runs on SQLite and PostgreSQL. Cases are aged by moving their ``updated_at``
back, and their transcripts are written with old timestamps.
"""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from personal_data import case_location, database_rows, tracker_location

from bot.domain.cases import Facts
from bot.domain.clock import now
from bot.domain.receipts import ReceiptReading
from bot.storage import open_store
from bot.storage.cases import SQLCaseStore
from bot.storage.erasure import (
    LOOSE_RECEIPT_DAYS,
    PURGE_ACTION,
    purge_closed_cases,
    retention_days_from_env,
    scheduled_purge,
)
from bot.storage.schema import cases, receipts
from tests.console.tracker_events import reply, session, user, write_events

# store, store_url: the case store on SQLite and on PostgreSQL.
pytest_plugins = ["tests.store_backends"]

DAYS = 180


def conversation(
    store: SQLCaseStore,
    tracker: Path | str,
    sender: str,
    statuses: list[str],
    days_ago: int,
    silent: int,
) -> list[str]:
    """Cases in these statuses last changed ``days_ago``; the transcript's last event ``silent`` days old."""
    ids = []
    for status in statuses:
        case = store.open_case(sender, "rest", "misswipe", Facts(merchant="华联超市", card_last4="4821"))
        store.set_status(case.case_id, status)
        changed = (now() - timedelta(days=days_ago)).isoformat()
        aged = cases.update().where(cases.c.case_id == case.case_id).values(updated_at=changed)
        store.db.execute(aged)
        ids.append(case.case_id)
    said = user(f"{sender} 在华联超市被扣了两次", "report_misswipe")
    last = now() - timedelta(days=silent)
    write_events(tracker, sender, [*session(), said, *reply("utter_ok", "好的")], last)
    return ids


def test_dry_run_and_real_run_take_the_same_old_closed_conversations_and_nothing_else(
    store: SQLCaseStore, store_url: str, tmp_path: Path
) -> None:
    tracker = tracker_location(case_location(store_url), tmp_path)
    old = [
        *conversation(store, tracker, "rest:old-1", ["closed"], DAYS + 20, DAYS + 20),
        *conversation(store, tracker, "rest:old-2", ["resolved", "closed"], DAYS + 1, DAYS + 1),
        *conversation(store, tracker, "rest:old-3", ["resolved"], DAYS + 300, DAYS + 300),
    ]
    kept = {
        "open": conversation(store, tracker, "rest:open", ["open"], DAYS + 20, DAYS + 20),
        "one open": conversation(store, tracker, "rest:mixed", ["closed", "with_bank"], DAYS + 20, DAYS + 20),
        "closed lately": conversation(store, tracker, "rest:recent", ["closed"], DAYS - 1, DAYS - 1),
        "spoke lately": conversation(store, tracker, "rest:talking", ["resolved"], DAYS + 20, 3),
    }
    before = database_rows(case_location(store_url))

    dry = purge_closed_cases(store, tracker, older_than_days=DAYS, dry_run=True, batch_size=2)
    assert sorted(dry.erased.case_ids) == sorted(old) and dry.conversations == 3
    unchanged = database_rows(case_location(store_url))
    assert {name: rows for name, rows in unchanged.items() if name != "audit_log"} == {
        name: rows for name, rows in before.items() if name != "audit_log"
    }

    real = purge_closed_cases(store, tracker, older_than_days=DAYS, dry_run=False, batch_size=2)
    assert sorted(real.erased.case_ids) == sorted(dry.erased.case_ids)
    assert real.erased.counts["tracker_events"] == 3 * 7
    for case_id in old:
        purged = store.get(case_id)
        assert purged is not None and purged.sender_id.startswith("erased:") and purged.facts.merchant is None
    for why, case_ids in kept.items():
        for case_id in case_ids:
            case = store.get(case_id)
            assert case is not None and case.facts.merchant == "华联超市", why
    remaining = {row[1] for row in database_rows(tracker)["events"]}
    assert remaining == {"rest:open", "rest:mixed", "rest:recent", "rest:talking"}

    again = purge_closed_cases(store, tracker, older_than_days=DAYS, dry_run=False)
    assert again.erased.case_ids == []
    runs = store.db.execute("SELECT detail FROM audit_log WHERE action = ?", [PURGE_ACTION]).fetchall()
    details = [json.loads(row[0]) for row in runs]
    assert [(detail["dry_run"], detail["cases"]) for detail in details] == [(True, 4), (False, 4), (False, 0)]
    assert all(detail["completed"] for detail in details)


def test_retention_days_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    assert retention_days_from_env() == 180
    monkeypatch.setenv("RETENTION_DAYS", "0")
    assert retention_days_from_env() == 0
    monkeypatch.setenv("RETENTION_DAYS", "-3")
    with pytest.raises(ValueError, match="RETENTION_DAYS"):
        retention_days_from_env()


def test_the_scheduled_purge_runs_once_a_day_whoever_asks(
    store: SQLCaseStore, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = tracker_location(case_location(store_url), tmp_path)
    old = conversation(store, tracker, "rest:old", ["closed"], DAYS + 20, DAYS + 20)
    monkeypatch.setenv("RETENTION_DAYS", str(DAYS))
    # Two consoles ask at once: one runs it.
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: scheduled_purge(store, tracker), range(2)))
    assert sorted(run is None for run in runs) == [False, True]
    assert next(run for run in runs if run is not None).erased.case_ids == old
    assert scheduled_purge(store, tracker) is None  # the same day
    tomorrow = now() + timedelta(days=1, minutes=1)
    assert scheduled_purge(store, tracker, now=lambda: tomorrow) is not None
    monkeypatch.setenv("RETENTION_DAYS", "0")
    assert scheduled_purge(store, tracker, now=lambda: tomorrow + timedelta(days=2)) is None
    runs_logged = store.db.execute(
        "SELECT count(*) FROM audit_log WHERE action = ?", [PURGE_ACTION]
    ).fetchone()
    assert runs_logged[0] == 2


def test_the_cli_purges_and_erases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.console.cli import main

    monkeypatch.setenv("CASE_STORE_URL", f"sqlite:///{tmp_path / 'cases.db'}")
    monkeypatch.setenv("TRACKER_DB_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    with closing(open_store(f"sqlite:///{tmp_path / 'cases.db'}")) as store:
        old = conversation(store, tmp_path / "tracker.db", "rest:old", ["closed"], DAYS + 20, DAYS + 20)
        current = conversation(store, tmp_path / "tracker.db", "rest:now", ["open"], 0, 0)
    out = io.StringIO()
    assert main(["purge", "--dry-run", "--older-than-days", str(DAYS)], stdout=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Would erase 1 conversation(s), 1 case(s)") and lines[1] == old[0]
    out = io.StringIO()
    assert main(["erase", "--case", current[0], "--by", "agent1"], stdout=out) == 0
    assert out.getvalue().startswith(f"Erased 1 case(s): {current[0]}")
    assert "tracker_events" in out.getvalue()
    with closing(open_store(f"sqlite:///{tmp_path / 'cases.db'}")) as store:
        erased = store.get(current[0])
        assert erased is not None and erased.sender_id.startswith("erased:")
        assert store.get(old[0]).sender_id == "rest:old"


def test_pictures_that_never_became_evidence_are_purged_after_a_month(
    store: SQLCaseStore, store_url: str, tmp_path: Path
) -> None:
    tracker = tracker_location(case_location(store_url), tmp_path)
    slip = ReceiptReading(kind="slip", merchant_name="华联超市", card_last4="4821")
    ages = {"rest:loose-old": LOOSE_RECEIPT_DAYS + 1, "rest:loose-new": LOOSE_RECEIPT_DAYS - 1}
    for sender, days in ages.items():
        receipt = store.receipts.add(sender, "rest", slip, b"a picture", numbers_covered=0)
        sent = (now() - timedelta(days=days)).isoformat()
        store.db.execute(
            receipts.update().where(receipts.c.receipt_id == receipt.receipt_id).values(created_at=sent)
        )
    case = store.open_case("rest:filed", "rest", "misswipe", Facts(merchant="华联超市"))
    filed = store.receipts.add(
        "rest:filed", "rest", slip, b"evidence", numbers_covered=0, case_id=case.case_id
    )
    long_ago = (now() - timedelta(days=DAYS)).isoformat()
    store.db.execute(
        receipts.update().where(receipts.c.receipt_id == filed.receipt_id).values(created_at=long_ago)
    )

    dry = purge_closed_cases(store, tracker, older_than_days=DAYS, dry_run=True)
    assert dry.erased.counts["receipts_without_case"] == 1
    assert len(store.receipts.of_conversation("rest:loose-old")) == 1
    real = purge_closed_cases(store, tracker, older_than_days=DAYS, dry_run=False)
    assert real.erased.counts["receipts_without_case"] == 1
    assert store.receipts.of_conversation("rest:loose-old") == []
    assert len(store.receipts.of_conversation("rest:loose-new")) == 1
    assert store.receipts.of_case(case.case_id) != []  # the open case's evidence stays with it


def test_the_purge_leaves_no_erased_word_in_the_search_index(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'cases.db'}")
    tracker = tmp_path / "tracker.db"
    for number in range(40):
        conversation(store, tracker, f"rest:old-{number}", ["closed"], DAYS + 5, DAYS + 5)
        case = store.open_case(
            f"rest:gone-{number}", "rest", "misswipe", Facts(merchant=f"甲乙丙商店{number}号")
        )
        store.set_status(case.case_id, "closed")
        aged = (now() - timedelta(days=DAYS + 5)).isoformat()
        store.db.execute(cases.update().where(cases.c.case_id == case.case_id).values(updated_at=aged))

    def index_mentions(word: str) -> bool:
        rows = database_rows(tmp_path / "cases.db")
        return any(
            word in (bytes(value).decode("utf-8", "ignore") if isinstance(value, bytes) else str(value))
            for name, table in rows.items()
            if name.startswith("cases_fts")
            for row in table
            for value in row
        )

    assert index_mentions("甲乙丙")  # a trigram: the index holds words three characters at a time
    report = purge_closed_cases(store, tracker, older_than_days=DAYS, dry_run=False, batch_size=7)
    assert len(report.erased.case_ids) == 80
    assert not index_mentions("甲乙丙") and not index_mentions("华联超")
