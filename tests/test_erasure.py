"""Erasing a conversation (PIPL Art. 47): nothing of it is left anywhere, the tombstone and others stay.

Runs on SQLite and PostgreSQL with a real Redis. The scan (``personal_data``)
reflects every table and column of both databases and reads every Redis key,
so it also searches whatever is added after these tests were written.
"""

from __future__ import annotations

import base64
import json
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis
from personal_data import (
    ALICE,
    BOB,
    case_location,
    database_rows,
    redis_contents,
    seed,
    traces,
    tracker_location,
)

from bot.domain.cases import CaseNotFound
from bot.domain.clock import now
from bot.storage.cases import SQLCaseStore
from bot.storage.erasure import (
    ERASED_PREFIX,
    USER,
    erase_case,
    erase_conversation,
    erase_redis_state,
    erase_tracker_events,
    export_conversation,
    tracker_transcript,
)
from bot.storage.redis_state import sync_client

# store, store_url: the case store on SQLite and on PostgreSQL.
pytest_plugins = ["tests.redis_fixtures", "tests.store_backends"]

# Index internals: rewritten as a whole when the index is optimised, and searched like the rest.
REWRITTEN = ("sqlite_", "cases_fts")


def everything(store_url: str, tracker: Path | str, redis_url: str) -> list[dict]:
    places = [database_rows(case_location(store_url)), redis_contents(redis_url)]
    if tracker != case_location(store_url):
        places.append(database_rows(tracker))
    return places


def rows_without(person_markers: list[str], places: list[dict]) -> set[tuple[str, str]]:
    """Every stored row or key that names none of ``person_markers``, as (place, repr)."""
    kept = set()
    for place in places:
        for name, content in place.items():
            if name.startswith(REWRITTEN):
                continue
            items = content if isinstance(content, list) else [content]
            for item in items:
                text = f"{name} {item!r}"
                if not any(marker in text for marker in person_markers):
                    kept.add((name, repr(item)))
    return kept


def test_nothing_of_an_erased_conversation_is_left_and_the_other_is_untouched(
    store: SQLCaseStore, store_url: str, tmp_path: Path, redis_url: str
) -> None:
    tracker = tracker_location(case_location(store_url), tmp_path)
    started = now() - timedelta(hours=2)
    alice_case = seed(store, tracker, redis_url, ALICE, started)
    bob_case = seed(store, tracker, redis_url, BOB, started)
    before = everything(store_url, tracker, redis_url)
    # The scan finds what it looks for, in the databases, the tracker and Redis alike.
    found = traces(ALICE, *before)
    for place in (
        *("cases:", "case_notes:", "case_feedback:", "events:", "audit_log:", "flagged_examples:"),
        "receipts:",
        *(
            "follow_up_opt_outs:",
            "handoffs:",
            "wushua:wechat:menu:",
            "wushua:wechat:outcome:",
            "wushua:split:",
        ),
    ):
        assert any(trace.startswith(place) for trace in found), place
    alice_markers = [*ALICE.secrets, alice_case]

    report = erase_conversation(store, ALICE.sender_id, requested_by=USER, reason="self_service")
    tracker_rows = erase_tracker_events(tracker, ALICE.sender_id)
    with closing(sync_client(redis_url)) as client:
        redis_keys = erase_redis_state(client, ALICE.sender_id)

    after = everything(store_url, tracker, redis_url)
    assert traces(ALICE, *after) == []
    # Bob's rows, and every other row, are still there byte for byte.
    assert rows_without(alice_markers, before) <= rows_without(alice_markers, after)
    assert traces(BOB, *after) == traces(BOB, *before) != []
    assert report.case_ids == [alice_case]
    assert report.counts["cases"] == 1 and report.counts["case_notes"] == 1
    assert report.counts["flagged_examples"] == 1 and report.counts["case_feedback_comments"] == 1
    assert report.counts["receipts"] == 1
    assert tracker_rows > 5 and redis_keys == 6

    tombstone = store.get(alice_case)
    assert tombstone is not None
    assert tombstone.sender_id.startswith(ERASED_PREFIX) and tombstone.status == "closed"
    assert (tombstone.kind, tombstone.channel) == ("misswipe", "wechat")
    assert tombstone.facts.bank is None and tombstone.facts.card_last4 is None
    row = store.db.execute(
        "SELECT erased_at, erased_by FROM cases WHERE case_id = ?", [alice_case]
    ).fetchone()
    assert row[0] is not None and row[1] == USER
    erased_event = store.events(alice_case)
    assert [event["event"] for event in erased_event] == ["data_erased"]
    assert erased_event[0]["detail"] == {
        "by": USER,
        "reason": "self_service",
        "status": {"from": "open", "to": "closed"},
    }
    entries = store.db.execute(
        "SELECT username, detail FROM audit_log WHERE action = 'data_erased'"
    ).fetchall()
    assert len(entries) == 1 and entries[0][0] == USER
    assert json.loads(entries[0][1])["case_ids"] == [alice_case]
    assert store.get(bob_case) is not None and store.get(bob_case).facts.merchant == BOB.merchant


def test_erasing_from_a_case_erases_its_conversation_once(store: SQLCaseStore, tmp_path: Path) -> None:
    tracker = tmp_path / "tracker.db"
    case_id = seed(store, tracker, None, ALICE, now())
    second = store.open_case(ALICE.sender_id, "wechat", "failed_charge", store.get(case_id).facts)
    report = erase_case(store, case_id, requested_by="agent1", reason="phone request")
    assert sorted(report.case_ids) == sorted([case_id, second.case_id])
    assert erase_case(store, second.case_id, requested_by="agent1", reason="again").case_ids == []
    with pytest.raises(CaseNotFound):
        erase_case(store, "WS-20261125-9999", requested_by="agent1", reason="none")
    assert store.current_case(ALICE.sender_id) is None


def test_export_holds_the_cases_and_the_transcript(
    store: SQLCaseStore, store_url: str, tmp_path: Path
) -> None:
    tracker = tracker_location(case_location(store_url), tmp_path)
    case_id = seed(store, tracker, None, ALICE, datetime.fromisoformat("2026-11-25T09:00:00+08:00"))
    exported = export_conversation(store, ALICE.sender_id)
    json.dumps(exported)  # plain data
    (case,) = exported["cases"]
    assert case["case_id"] == case_id and case["facts"]["card_last4"] == ALICE.last4
    assert case["feedback"]["comment"] == ALICE.comment and exported["follow_ups_turned_off"]
    assert "created" in [event["event"] for event in case["events"]]
    (receipt,) = exported["receipts"]
    assert receipt["case_id"] == case_id and receipt["read"]["merchant_name"] == ALICE.merchant
    assert base64.b64decode(receipt["image_jpeg_base64"]).decode().endswith(ALICE.merchant)
    transcript = tracker_transcript(tracker, ALICE.sender_id)
    assert [turn["speaker"] for turn in transcript] == ["user", "bot", "bot"]
    assert transcript[0]["text"] == ALICE.message
    assert export_conversation(store, BOB.sender_id)["cases"] == []


def test_a_tracker_database_rasa_never_started_has_nothing_to_erase(tmp_path: Path) -> None:
    assert erase_tracker_events(tmp_path / "tracker.db", ALICE.sender_id) == 0


def test_turn_outcomes_keep_their_old_keys_when_no_conversation_is_given(redis_url: str) -> None:
    import asyncio

    from bot.storage.redis_state import RedisTurnLedger, TurnOutcome, async_client

    async def publish() -> None:
        client = async_client(redis_url)
        await RedisTurnLedger(client, 60).publish("12345", TurnOutcome(("hi",), False))
        await client.close()

    asyncio.run(publish())
    with closing(redis.Redis.from_url(redis_url, decode_responses=True)) as client:
        assert client.keys("*") == ["wushua:wechat:outcome:12345"]
