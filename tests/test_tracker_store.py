"""The tracker store that remembers trackers (bot/rasa/tracker_store.py) against Rasa's own SQLTrackerStore.

Each test plays turns the way Rasa's processor does (retrieve or create,
append events, save) and checks the result against what Rasa's store writes
and reads: the same rows, the same trackers, and never a stale tracker when
another replica wrote in between. The replica case also runs on PostgreSQL,
which the cluster uses.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core.agent import Agent
from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa import patches
from bot.rasa.tracker_store import CachedSQLTrackerStore

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, report_misswipe]
entities: [merchant]
slots:
  merchant:
    type: text
    mappings: [{type: from_entity, entity: merchant}]
responses:
  utter_greet: [{text: "您好"}]
"""
)
SENDER = "user-1"

StoreFactory = Callable[..., SQLTrackerStore]


def turn(text: str, step: int) -> list[Event]:
    """What one turn adds: the user's message, a slot, the bot's reply, then listening."""
    return [
        UserUttered(text, {"name": "report_misswipe", "confidence": 0.9}, timestamp=step + 0.1),
        SlotSet("merchant", f"商户{step}", timestamp=step + 0.2),
        ActionExecuted("utter_greet", timestamp=step + 0.3),
        ActionExecuted("action_listen", timestamp=step + 0.4),
    ]


async def take_turn(
    store: SQLTrackerStore, events: list[Event], sender: str = SENDER
) -> DialogueStateTracker:
    tracker = await store.get_or_create_tracker(sender)
    for event in events:
        tracker.update(event)
    await store.save(tracker)
    return tracker


def rows(store: SQLTrackerStore) -> list[tuple]:
    """The stored rows, timestamps left out (a new tracker's first event is stamped with the clock)."""
    with store.engine.connect() as connection:
        found = connection.execute(
            sa.text("SELECT sender_id, type_name, intent_name, action_name, data FROM events ORDER BY id")
        ).fetchall()
    return [(*row[:4], {**json.loads(row[4]), "timestamp": None}) for row in found]


def state(tracker: DialogueStateTracker | None) -> dict:
    assert tracker is not None
    return tracker.current_state()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[StoreFactory]:
    def make(
        kind: type[SQLTrackerStore] = CachedSQLTrackerStore, name: str = "tracker.db", **kwargs
    ) -> SQLTrackerStore:
        return kind(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / name), **kwargs)

    yield make


def test_writes_the_rows_and_reads_the_trackers_rasas_store_does(sqlite_store: StoreFactory) -> None:
    ours, rasas = sqlite_store(), sqlite_store(SQLTrackerStore, "rasa.db")
    for step, text in enumerate(["我被重复扣款了", "在华联超市", "昨天"]):
        events = turn(text, step)
        ours_tracker = asyncio.run(take_turn(ours, events))
        rasas_tracker = asyncio.run(take_turn(rasas, events))
        assert state(ours_tracker) == state(rasas_tracker)
        assert state(asyncio.run(ours.retrieve(SENDER))) == state(asyncio.run(rasas.retrieve(SENDER)))
    assert rows(ours) == rows(rasas)
    assert len(rows(ours)) == 12 + 1  # three turns, and the action_listen a new tracker starts with


def test_a_tracker_it_stored_is_served_from_memory(sqlite_store: StoreFactory, monkeypatch) -> None:
    store = sqlite_store()
    asyncio.run(take_turn(store, turn("你好", 1)))
    reads_from_database = []
    original = SQLTrackerStore._retrieve

    async def counting(self, *args, **kwargs):
        reads_from_database.append(args)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SQLTrackerStore, "_retrieve", counting)
    tracker = asyncio.run(store.retrieve(SENDER))
    assert reads_from_database == []
    assert tracker is not None and tracker.get_slot("merchant") == "商户1"


def test_a_turn_another_replica_took_is_read_from_the_database(sqlite_store: StoreFactory) -> None:
    replica_a, replica_b, rasas = sqlite_store(), sqlite_store(), sqlite_store(SQLTrackerStore)
    asyncio.run(take_turn(replica_a, turn("我被重复扣款了", 1)))
    asyncio.run(take_turn(replica_b, turn("在华联超市", 2)))

    seen_by_a = asyncio.run(replica_a.retrieve(SENDER))
    assert seen_by_a is not None and seen_by_a.get_slot("merchant") == "商户2"
    assert state(seen_by_a) == state(asyncio.run(rasas.retrieve(SENDER)))

    asyncio.run(take_turn(replica_a, turn("昨天", 3)))
    assert [row[1] for row in rows(rasas)].count("user") == 3  # each turn stored once, none lost
    assert state(asyncio.run(replica_b.retrieve(SENDER))) == state(asyncio.run(rasas.retrieve(SENDER)))


@pytest.mark.parametrize("read_from", ["memory", "database"])
def test_changes_that_were_not_saved_are_not_remembered(sqlite_store: StoreFactory, read_from: str) -> None:
    store = sqlite_store()
    writer = store if read_from == "memory" else sqlite_store()
    asyncio.run(take_turn(writer, turn("你好", 1)))
    unsaved = asyncio.run(store.retrieve(SENDER))
    assert unsaved is not None
    unsaved.update(SlotSet("merchant", "从未保存", timestamp=5.0))

    again = asyncio.run(store.retrieve(SENDER))
    assert again is not None and again.get_slot("merchant") == "商户1"
    asyncio.run(take_turn(store, turn("在永辉", 2)))
    assert "从未保存" not in str(rows(store))


def test_a_new_session_is_read_back_as_rasa_reads_it(sqlite_store: StoreFactory) -> None:
    store, rasas = sqlite_store(), sqlite_store(SQLTrackerStore)
    asyncio.run(take_turn(store, turn("你好", 1)))
    new_session = [ActionExecuted("action_session_start", timestamp=10.0), SessionStarted(timestamp=10.1)]
    asyncio.run(take_turn(store, new_session + turn("又来了", 11)))

    tracker = asyncio.run(store.retrieve(SENDER))
    assert state(tracker) == state(asyncio.run(rasas.retrieve(SENDER)))
    assert tracker is not None and all(event.timestamp >= 10.1 for event in tracker.events)
    asyncio.run(take_turn(store, turn("还在", 12)))
    assert state(asyncio.run(store.retrieve(SENDER))) == state(asyncio.run(rasas.retrieve(SENDER)))


def test_memory_holds_only_the_most_recent_conversations(sqlite_store: StoreFactory) -> None:
    store = sqlite_store(max_conversations=2)
    for sender in ("a", "b", "c"):
        asyncio.run(take_turn(store, turn(f"我是{sender}", 1), sender))
    assert list(store._remembered) == ["b", "c"]
    evicted = asyncio.run(store.retrieve("a"))
    assert evicted is not None and evicted.latest_message.text == "我是a"


def test_a_failed_save_leaves_the_database_as_it_was_and_memory_forgets(sqlite_store: StoreFactory) -> None:
    store = sqlite_store()
    asyncio.run(take_turn(store, turn("你好", 1)))
    before = rows(store)
    tracker = asyncio.run(store.retrieve(SENDER))
    assert tracker is not None
    tracker.update(SlotSet("merchant", "写入失败", timestamp=3.0))
    with store.engine.begin() as connection:  # a write the table refuses mid-save
        connection.execute(
            sa.text("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused'); END")
        )
    with pytest.raises(sa.exc.IntegrityError):
        asyncio.run(store.save(tracker))
    assert rows(store) == before
    assert SENDER not in store._remembered
    with store.engine.begin() as connection:
        connection.execute(sa.text("DROP TRIGGER refuse"))
    reread = asyncio.run(store.retrieve(SENDER))
    assert reread is not None and reread.get_slot("merchant") == "商户1"


def test_replicas_on_postgresql_never_serve_a_stale_tracker(postgres_url: str) -> None:
    def replica(kind: type[SQLTrackerStore] = CachedSQLTrackerStore) -> SQLTrackerStore:
        return kind(domain=DOMAIN, host=postgres_url, dialect="postgresql")

    replica_a, replica_b, rasas = replica(), replica(), replica(SQLTrackerStore)
    for step in range(1, 7):
        taker = replica_a if step % 3 else replica_b  # a, a, b, a, a, b
        asyncio.run(take_turn(taker, turn(f"第{step}句", step)))
        for reader in (replica_a, replica_b):
            assert state(asyncio.run(reader.retrieve(SENDER))) == state(asyncio.run(rasas.retrieve(SENDER)))
    assert [row[1] for row in rows(rasas)].count("user") == 6


def test_an_erased_conversation_written_again_is_never_served_from_another_replicas_memory(
    postgres_url: str,
) -> None:
    def replica() -> CachedSQLTrackerStore:
        return CachedSQLTrackerStore(domain=DOMAIN, host=postgres_url, dialect="postgresql")

    remembering, erasing = replica(), replica()
    asyncio.run(take_turn(remembering, turn("我在华联超市被扣了两次", 1)))
    assert asyncio.run(remembering.retrieve(SENDER)).get_slot("merchant") == "商户1"
    stored = len(rows(erasing))
    assert erasing.erase(SENDER) == stored and erasing.erase(SENDER) == 0
    assert asyncio.run(erasing.retrieve(SENDER)) is None
    # Written again to exactly as many rows as `remembering` holds in memory.
    asyncio.run(take_turn(erasing, turn("你好", 2)))
    assert len(rows(erasing)) == stored
    again = asyncio.run(remembering.retrieve(SENDER))
    assert again is not None and again.get_slot("merchant") == "商户2"
    assert "我在华联超市被扣了两次" not in [
        event.text for event in again.events if isinstance(event, UserUttered)
    ]


def test_erasing_on_sqlite_leaves_other_conversations(sqlite_store: StoreFactory) -> None:
    store = sqlite_store()
    asyncio.run(take_turn(store, turn("第一句", 1)))
    asyncio.run(take_turn(store, turn("别人的话", 1), sender="user-2"))
    kept = [row for row in rows(store) if row[0] == "user-2"]
    assert store.erase(SENDER) > 0
    assert rows(store) == kept
    assert asyncio.run(store.retrieve(SENDER)) is None


class Unreachable(InMemoryTrackerStore):
    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        raise sa.exc.OperationalError("SELECT", {}, Exception("the database system is shutting down"))


def test_a_tracker_store_that_cannot_be_reached_fails_the_turn() -> None:
    """Rasa's agent would answer as if the conversation were new (bot/rasa/patches/tracker_store.py)."""
    patches.uninstall()
    assert asyncio.run(Agent._create_tracker_store(Unreachable(DOMAIN), DOMAIN).retrieve(SENDER)) is None
    patches.install()
    try:
        store = Agent._create_tracker_store(Unreachable(DOMAIN), DOMAIN)
        with pytest.raises(sa.exc.OperationalError):
            asyncio.run(store.retrieve(SENDER))
    finally:
        patches.uninstall()
