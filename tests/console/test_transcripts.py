"""Reading Rasa's tracker store: turns, annotations, highlights, masking, and read-only access."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2.errors
import pytest
from console_support import at, on_both_backends, open_mis_swipe
from tracker_events import reply, session, user, write_events

from bot.console.settings import Settings
from bot.console.store import ConsoleStore
from bot.console.transcripts import TrackerReader


@on_both_backends
def test_turns_carry_the_nlu_and_the_action_that_spoke(
    store: ConsoleStore, settings: Settings, tracker: TrackerReader
) -> None:
    case, user_ids = open_mis_swipe(store, settings)
    turns = tracker.transcript(case.sender_id)
    assert [turn.speaker for turn in turns] == ["session", "user", "bot", "user", "bot", "user", "bot"]
    report, ask_bank, gibberish, sorry, unsure, answer = turns[1:]
    assert report.event_id == user_ids[0]
    assert (report.intent, report.confidence) == ("report_misswipe", 0.97)
    assert [(entity.entity, entity.value, entity.text) for entity in report.entities] == [
        ("merchant", "华联超市", "华联超市"),
        ("amount", "3000", "3000元"),
    ]
    assert not report.highlighted and report.can_teach
    assert (ask_bank.action, ask_bank.response, ask_bank.buttons) == (
        "utter_ask_bank",
        "utter_ask_bank",
        ("工商银行", "建设银行"),
    )
    assert gibberish.fallback and gibberish.runner_up == ("inform", 0.31)
    assert sorry.fallback and sorry.action == "utter_default"
    assert unsure.low_confidence and not unsure.fallback and unsure.highlighted
    assert answer.action == "action_answer_question" and answer.response is None and not answer.highlighted
    assert report.at == at(date(2026, 11, 25), 9).replace(second=3)


@on_both_backends
def test_card_numbers_stored_before_masking_show_masked(settings: Settings, tracker: TrackerReader) -> None:
    text = "卡号6222021234567890，验证码是123456"
    write_events(
        settings.tracker_db,
        "old",
        [user(text, "inform"), reply("utter_warn", f"您发的{text}")],
        at(date(2026, 11, 1)),
    )
    user_turn, bot_turn = tracker.transcript("old")
    assert "6222021234567890" not in user_turn.text and "[卡号已隐藏，尾号7890]" in user_turn.text
    assert "123456" not in user_turn.text and "123456" not in bot_turn.text


@on_both_backends
def test_the_tracker_database_is_opened_read_only(settings: Settings, tracker: TrackerReader) -> None:
    write_events(settings.tracker_db, "s1", [user("你好", "greet")], at(date(2026, 11, 1)))
    with (
        tracker._connect() as connection,
        pytest.raises(
            (sqlite3.OperationalError, psycopg2.errors.ReadOnlySqlTransaction), match=r"readonly|read-only"
        ),
    ):
        connection.execute("DELETE FROM events")
    assert len(tracker.transcript("s1")) == 1


def test_a_missing_or_empty_tracker_database_reads_as_no_conversations(tmp_path: Path) -> None:
    missing = TrackerReader(tmp_path / "nowhere.db")
    assert not missing.available and missing.transcript("s1") == [] and missing.conversations() == []
    assert not (tmp_path / "nowhere.db").exists()
    sqlite3.connect(tmp_path / "empty.db").close()
    empty = TrackerReader(tmp_path / "empty.db")
    assert empty.transcript("s1") == [] and empty.top_intents() == [] and empty.last_event_id("s1") is None


@on_both_backends
def test_a_tracker_database_rasa_has_not_written_yet_reads_as_no_conversations(
    tracker: TrackerReader,
) -> None:
    # SQLite: no file yet. PostgreSQL: the database is there, its `events` table is not.
    assert tracker.transcript("s1") == [] and tracker.conversations() == [] and tracker.needs_review() == []
    assert tracker.top_intents() == [] and tracker.last_event_id("s1") is None


@on_both_backends
def test_conversation_summaries_and_statistics(
    store: ConsoleStore, settings: Settings, tracker: TrackerReader
) -> None:
    open_mis_swipe(store, settings)
    write_events(
        settings.tracker_db, "later", [*session(), user("你好", "greet", 0.99)], at(date(2026, 11, 25), 11)
    )
    reader = tracker
    summaries = reader.conversations()
    assert [(item.sender_id, item.user_turns, item.fallbacks) for item in summaries] == [
        ("later", 1, 0),
        ("alice-phone", 3, 1),
    ]
    assert [(sender, turn.text) for sender, turn in reader.needs_review()] == [
        ("alice-phone", "那个钱啥时候回来"),
        ("alice-phone", "asdfgh"),
    ]
    assert reader.top_intents()[0][1] == 1 and len(reader.top_intents()) == 4
    assert reader.fallbacks_per_day(date(2026, 11, 24), date(2026, 11, 25)) == [
        (date(2026, 11, 24), 0, 0),
        (date(2026, 11, 25), 4, 1),
    ]
    assert reader.user_turn("alice-phone", reader.needs_review()[0][1].event_id).text == "那个钱啥时候回来"
    assert reader.user_turn("someone-else", reader.needs_review()[0][1].event_id) is None


@on_both_backends
def test_reads_a_database_written_by_rasas_own_sql_tracker_store(
    settings: Settings, tracker: TrackerReader
) -> None:
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    text = "我在华联超市被扣了两次 <script>"
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered(
            text,
            {"name": "report_misswipe", "confidence": 0.55},
            [
                {
                    "entity": "merchant",
                    "value": "华联超市",
                    "start": 2,
                    "end": 6,
                    "extractor": "DIETClassifier",
                }
            ],
            parse_data={
                "text": text,
                "intent": {"name": "report_misswipe", "confidence": 0.55},
                "entities": [
                    {
                        "entity": "merchant",
                        "value": "华联超市",
                        "start": 2,
                        "end": 6,
                        "extractor": "DIETClassifier",
                    }
                ],
            },
            input_channel="rest",
        ),
        ActionExecuted("utter_ask_bank"),
        BotUttered(
            "请问是哪家银行？",
            {"buttons": [{"title": "工商银行", "payload": "/inform"}]},
            {"utter_action": "utter_ask_bank"},
        ),
        ActionExecuted("action_listen"),
    ]
    if isinstance(settings.tracker_db, str):
        # As endpoints.yml configures it in cluster mode.
        url = urlsplit(settings.tracker_db)
        rasa_store = SQLTrackerStore(
            dialect="postgresql", host=url.hostname, port=url.port, db=url.path.lstrip("/"),
            username=url.username, password=url.password,
        )  # fmt: skip
    else:
        rasa_store = SQLTrackerStore(dialect="sqlite", db=str(settings.tracker_db))
    asyncio.run(rasa_store.save(DialogueStateTracker.from_events("rasa-user", events)))
    rasa_store.engine.dispose()

    turns = tracker.transcript("rasa-user")
    assert [turn.speaker for turn in turns] == ["session", "user", "bot"]
    assert turns[1].text == text and turns[1].intent == "report_misswipe" and turns[1].low_confidence
    assert turns[1].entities[0].text == "华联超市"
    assert (turns[2].action, turns[2].buttons) == ("utter_ask_bank", ("工商银行",))
    assert isinstance(turns[1].at, datetime)
