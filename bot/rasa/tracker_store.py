"""Rasa's SQL tracker store, remembering the trackers of the conversations it is serving.

Per message, Rasa's ``SQLTrackerStore`` reads every event of the conversation's
session back from the database, parses and replays them (``retrieve``), and
before writing counts the stored events with a second query over the session
(``save``). In the benchmark's profile that was a fifth of the Rasa server's
CPU per turn, most of it ORM rows and event parsing, for a tracker this
process itself wrote a moment earlier.

``CachedSQLTrackerStore`` keeps, for the most recently used conversations,
the tracker it last stored and the conversation's rows then: how many, and
the first one's id. A retrieve asks the database only for those two: if they
are unchanged, nobody else wrote, and a copy of the remembered tracker is
returned; otherwise (another replica took a turn, the entry was evicted, the
process restarted) the tracker is read from the database exactly as Rasa
does. They are read before the events, so a write racing a reload can only
cause one more reload, never a stale tracker. The first id is there for
erasure (``erase``): a conversation deleted on another replica and written
again up to the same count starts at a later id, so no replica serves what
was erased. Writes go to the same
``events`` table in the same form, so the staff console, Rasa's HTTP API and
other replicas see no difference.

Conversations recorded before each channel had its own id namespace
(``bot/infra/identity.py``) are renamed once, when the store opens: their events
move to the namespaced id, so the case store's records (renamed by its own
migration) still find their transcripts. ``wushua_migrations`` records that
it was done.

Configured in ``endpoints.yml`` as ``type: bot.rasa.tracker_store.CachedSQLTrackerStore``
with the same keys as ``type: SQL``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

from bot.domain.clock import now
from bot.infra.identity import legacy_conversation_id, namespace_of
from bot.infra.private_files import private_file

DEFAULT_MAX_CONVERSATIONS = 500  # beyond these, a conversation is reread as Rasa always does
NAMESPACE_MIGRATION = "0001_namespace_sender_ids"
# How long a replica starting while PostgreSQL (re)starts waits for it before giving up.
DATABASE_START_WAIT_SECONDS = 120
# Any fixed number, the same in every replica: they may open the store together.
MIGRATION_LOCK_KEY = 0x7773_7472_6B72  # "wstrkr"


@dataclass(frozen=True)
class Rows:
    count: int
    first_id: int  # 0 when there are none


@dataclass(frozen=True)
class _Remembered:
    tracker: DialogueStateTracker
    stored_rows: Rows  # the conversation's rows in `events` when the tracker was stored or read


class CachedSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, max_conversations: int = DEFAULT_MAX_CONVERSATIONS, **kwargs: Any) -> None:
        if kwargs.get("dialect", "sqlite") == "sqlite" and kwargs.get("db") and not kwargs.get("host"):
            private_file(kwargs["db"])  # transcripts: owner-only, whatever the umask
        super().__init__(*args, **kwargs)
        self._configure_engine()
        self.max_conversations = int(max_conversations)
        self._remembered: OrderedDict[str, _Remembered] = OrderedDict()
        # Sanic runs turns on one event loop, but Rasa's HTTP API and tests may call from threads.
        self._guard = threading.Lock()
        # Between `_additional_events` and the end of `save`: rows before the write, events written.
        self._counted: dict[str, tuple[Rows, list[Event]]] = {}
        events = self.SQLEvent.__table__
        self._when_the_database_answers(self._namespace_legacy_conversations)
        self._count_rows = (
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.min(events.c.id), 0))
            .select_from(events)
            .where(events.c.sender_id == sa.bindparam("sender_id"))
        )
        self._delete_rows = events.delete().where(events.c.sender_id == sa.bindparam("sender_id"))

    def _configure_engine(self) -> None:
        """Replace Rasa's engine with one that keeps connections and checks them.

        SQLite: Rasa's engine opens the file for every session (SQLAlchemy 1.4's
        NullPool) in rollback-journal mode, where each commit syncs the journal
        and the file, blocking the event loop. Kept connections and WAL (one
        append and one sync per commit, readers never blocked) took the tracker
        store's share of a turn from about 10 ms to about 5 ms with one user in the benchmark.
        PostgreSQL: pooled connections are pinged at checkout. After a restart
        every pooled connection is dead, and without the ping each one would
        fail a turn before SQLAlchemy replaced it.
        """
        url = self.engine.url
        self.engine.dispose()
        if self.engine.dialect.name == "sqlite":
            self.engine = sa.create_engine(
                url,
                poolclass=sa.pool.QueuePool,
                pool_size=5,
                max_overflow=15,
                connect_args={"check_same_thread": False, "timeout": 30},
            )
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode = WAL")
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        self.sessionmaker.configure(bind=self.engine)

    @staticmethod
    def _when_the_database_answers(work: Callable[[], None]) -> None:
        """``work()``, tried again while the server refuses connections, as Rasa's constructor does.

        A replica that starts while PostgreSQL restarts would otherwise exit.
        """
        deadline = time.monotonic() + DATABASE_START_WAIT_SECONDS
        while True:
            try:
                return work()
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def _namespace_legacy_conversations(self) -> None:
        """Move conversations recorded before namespaces to their namespaced ids, once."""
        with self.session_scope() as session:
            if self.engine.dialect.name == "postgresql":
                session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            session.execute(
                sa.text(
                    "CREATE TABLE IF NOT EXISTS wushua_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
                )
            )
            done = session.execute(
                sa.text("SELECT 1 FROM wushua_migrations WHERE name = :name"), {"name": NAMESPACE_MIGRATION}
            ).first()
            if done:
                return
            channels: dict[str, str | None] = {}
            rows = session.execute(sa.text("SELECT sender_id, type_name, data FROM events ORDER BY id"))
            for sender_id, type_name, data in rows:
                if namespace_of(sender_id) is None and type_name == "user":
                    channels[sender_id] = json.loads(data).get("input_channel")
                elif namespace_of(sender_id) is None:
                    channels.setdefault(sender_id, None)
            for old, channel in channels.items():
                session.execute(
                    sa.text("UPDATE events SET sender_id = :new WHERE sender_id = :old"),
                    {"new": legacy_conversation_id(old, channel), "old": old},
                )
            session.execute(
                sa.text("INSERT INTO wushua_migrations (name, applied_at) VALUES (:name, :at)"),
                {"name": NAMESPACE_MIGRATION, "at": now().isoformat()},
            )
            session.commit()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation's current session, from memory when no one else wrote since."""
        with self.session_scope() as session:
            rows = self._stored_rows(session, sender_id)
        remembered = self._recall(sender_id)
        if remembered is not None and remembered.stored_rows == rows:
            return remembered.tracker.copy()
        tracker = await super().retrieve(sender_id)
        if tracker is None:
            self._forget(sender_id)
        else:
            self._remember(tracker.copy(), rows)  # Rasa changes the tracker it is given
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save; `_additional_events` below finds the new events and counts the rows."""
        try:
            await super().save(tracker)
            rows_before, new_events = self._counted.pop(tracker.sender_id)
        except BaseException:
            self._counted.pop(tracker.sender_id, None)
            self._forget(tracker.sender_id)
            raise
        if any(isinstance(event, SessionStarted) for event in new_events):
            # Rasa reads back only the new session; let it, rather than keep both sessions here.
            self._forget(tracker.sender_id)
        elif rows_before.count:
            self._remember(tracker.copy(), Rows(rows_before.count + len(new_events), rows_before.first_id))
        else:  # the conversation's first rows: their first id is the database's to say
            with self.session_scope() as session:
                self._remember(tracker.copy(), self._stored_rows(session, tracker.sender_id))

    def erase(self, sender_id: str) -> int:
        """Delete every event of the conversation; how many. Call it holding the conversation's lock."""
        self._forget(sender_id)
        with self.session_scope() as session:
            deleted = session.execute(self._delete_rows, {"sender_id": sender_id}).rowcount
            session.commit()
        self._forget(sender_id)
        return int(deleted or 0)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The tracker's events not stored yet: past the remembered tracker, or as Rasa finds them."""
        rows = self._stored_rows(session, tracker.sender_id)
        remembered = self._recall(tracker.sender_id)
        if remembered is not None and remembered.stored_rows == rows:
            new_events = list(itertools.islice(tracker.events, len(remembered.tracker.events), None))
        else:
            new_events = list(super()._additional_events(session, tracker))
        self._counted[tracker.sender_id] = (rows, new_events)
        return iter(new_events)

    def _stored_rows(self, session: Any, sender_id: str) -> Rows:
        # A Core statement built once: a third of the ORM query's CPU, and this runs twice a turn.
        count, first_id = session.execute(self._count_rows, {"sender_id": sender_id}).one()
        return Rows(int(count or 0), int(first_id or 0))

    def _recall(self, sender_id: str) -> _Remembered | None:
        with self._guard:
            remembered = self._remembered.get(sender_id)
            if remembered is not None:
                self._remembered.move_to_end(sender_id)
            return remembered

    def _remember(self, tracker: DialogueStateTracker, stored_rows: Rows) -> None:
        with self._guard:
            self._remembered[tracker.sender_id] = _Remembered(tracker, stored_rows)
            self._remembered.move_to_end(tracker.sender_id)
            while len(self._remembered) > self.max_conversations:
                self._remembered.popitem(last=False)

    def _forget(self, sender_id: str) -> None:
        with self._guard:
            self._remembered.pop(sender_id, None)
