"""Conversations from Rasa's SQL tracker store, opened read-only.

Rasa keeps one row per event in ``events`` (id, sender_id, type_name,
timestamp, intent_name, action_name, data). A transcript is the user and bot
events in order: each user turn carries what the NLU made of it, each bot
turn the action that produced it (the last ``action`` event before it).
Text is masked again on the way out, in case it was stored before the
channel masked secrets. The table is the same whether Rasa keeps it in SQLite
or PostgreSQL; the ``Dialect`` of ``bot.storage.database`` covers the few SQL differences.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.domain.clock import CHINA
from bot.domain.masking import mask_secrets
from bot.storage.database import Database, MissingTable, is_postgres_url

LOW_CONFIDENCE = 0.6
FALLBACK_INTENT = "nlu_fallback"
# Rasa's core fallback, and the response our rule for nlu_fallback utters.
FALLBACK_ACTIONS = frozenset({"action_default_fallback", "utter_default"})
# Actions that run on every turn and tell staff nothing.
QUIET_ACTIONS = frozenset({"action_listen", "action_session_start"})
# Events that show a fallback: the NLU's (a user event) or the core's (an action event).
FALLBACKS = "count(*) FILTER (WHERE intent_name = ? OR action_name = 'action_default_fallback')"


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    text: str
    start: int | None
    end: int | None
    extractor: str | None


@dataclass(frozen=True)
class Turn:
    event_id: int
    # "user", "bot", "session" (a new Rasa session starts), "pause" (staff took the
    # conversation over: the bot is silent) or "resume" (handed back to the bot)
    speaker: str
    at: datetime
    text: str
    intent: str | None = None
    confidence: float | None = None
    runner_up: tuple[str, float] | None = None
    entities: tuple[Entity, ...] = ()
    action: str | None = None
    response: str | None = None
    buttons: tuple[str, ...] = ()
    has_attachment: bool = False
    staff: str | None = None  # the staff member who wrote a bot turn during a takeover

    @property
    def fallback(self) -> bool:
        return self.intent == FALLBACK_INTENT or bool({self.action, self.response} & FALLBACK_ACTIONS)

    @property
    def low_confidence(self) -> bool:
        return self.speaker == "user" and self.confidence is not None and self.confidence < LOW_CONFIDENCE

    @property
    def highlighted(self) -> bool:
        return self.fallback or self.low_confidence

    @property
    def can_teach(self) -> bool:
        """Button payloads (``/intent{...}``) are not things people type, so they make no examples."""
        return self.speaker == "user" and bool(self.text.strip()) and not self.text.startswith("/")


@dataclass(frozen=True)
class ConversationSummary:
    sender_id: str
    started_at: datetime
    last_at: datetime
    user_turns: int
    fallbacks: int


class TrackerReader:
    """Reads the tracker database, never writes it; no database or no table yet reads as no conversations.

    ``location`` is a SQLite file's path or a ``postgresql://`` URL.
    """

    def __init__(self, location: str | Path) -> None:
        self.location = location
        self._db = Database(location, read_only=True)
        self.dialect = self._db.dialect

    def close(self) -> None:
        self._db.close()

    @property
    def available(self) -> bool:
        # Rasa creates a SQLite file on its first start, which may come after ours.
        return is_postgres_url(self.location) or Path(self.location).is_file()

    @contextmanager
    def _connect(self) -> Iterator[Database | None]:
        yield self._db if self.available else None

    def _rows(self, sql: str, values: list[Any]) -> list[dict[str, Any]]:
        with self._connect() as database:
            if database is None:
                return []
            try:
                return list(database.query(sql, values))
            except MissingTable:
                # Rasa creates `events` on its first start; until then there is nothing to read.
                return []

    def transcript(self, sender_id: str, after_event_id: int = 0) -> list[Turn]:
        """The conversation's turns, or only those after ``after_event_id`` (a live view's next ones)."""
        rows = self._rows(
            "SELECT id, type_name, timestamp, action_name, data FROM events WHERE sender_id = ? AND id > ? "
            "AND type_name IN ('user', 'bot', 'action', 'session_started', 'pause', 'resume') ORDER BY id",
            [sender_id, after_event_id],
        )
        return list(_turns(rows))

    def taken_over_since(self, sender_id: str) -> datetime | None:
        """When staff took the conversation over, while they still have it; else None."""
        rows = self._rows(
            "SELECT type_name, timestamp FROM events "
            "WHERE sender_id = ? AND type_name IN ('pause', 'resume') ORDER BY id DESC LIMIT 1",
            [sender_id],
        )
        return _time(rows[0]["timestamp"]) if rows and rows[0]["type_name"] == "pause" else None

    def last_user_message_at(self, sender_id: str) -> datetime | None:
        rows = self._rows(
            "SELECT max(timestamp) AS last FROM events WHERE sender_id = ? AND type_name = 'user'",
            [sender_id],
        )
        return _time(rows[0]["last"]) if rows and rows[0]["last"] is not None else None

    def silent_takeovers(self, silent_since: datetime) -> list[str]:
        """Conversations taken over whose last event of any kind is older than ``silent_since``."""
        rows = self._rows(
            "SELECT e.sender_id FROM events e WHERE e.type_name = 'pause' AND e.id = ("
            "  SELECT max(id) FROM events WHERE sender_id = e.sender_id AND type_name IN ('pause', 'resume')"
            ") AND (SELECT max(timestamp) FROM events WHERE sender_id = e.sender_id) < ?",
            [silent_since.timestamp()],
        )
        return [row["sender_id"] for row in rows]

    def last_event_id(self, sender_id: str) -> int | None:
        rows = self._rows("SELECT max(id) AS last FROM events WHERE sender_id = ?", [sender_id])
        return rows[0]["last"] if rows else None

    def user_turn(self, sender_id: str, event_id: int) -> Turn | None:
        rows = self._rows(
            "SELECT id, type_name, timestamp, action_name, data FROM events "
            "WHERE sender_id = ? AND id = ? AND type_name = 'user'",
            [sender_id, event_id],
        )
        return next(_turns(rows), None)

    def conversations(self, *, limit: int = 50, offset: int = 0) -> list[ConversationSummary]:
        rows = self._rows(
            "SELECT sender_id, min(timestamp) AS started, max(timestamp) AS last, "
            f"count(*) FILTER (WHERE type_name = 'user') AS user_turns, {FALLBACKS} AS fallbacks "
            "FROM events GROUP BY sender_id ORDER BY max(timestamp) DESC LIMIT ? OFFSET ?",
            [FALLBACK_INTENT, limit, offset],
        )
        return [
            ConversationSummary(
                row["sender_id"],
                _time(row["started"]),
                _time(row["last"]),
                row["user_turns"],
                row["fallbacks"],
            )
            for row in rows
        ]

    def needs_review(self, *, limit: int = 50) -> list[tuple[str, Turn]]:
        """Recent user messages the NLU fell back on or was unsure about."""
        confidence = self.dialect.json_number("data", "parse_data", "intent", "confidence")
        rows = self._rows(
            "SELECT id, sender_id, type_name, timestamp, action_name, data FROM events "
            f"WHERE type_name = 'user' AND (intent_name = ? OR {confidence} < ?) "
            "ORDER BY id DESC LIMIT ?",
            [FALLBACK_INTENT, LOW_CONFIDENCE, limit],
        )
        return [(row["sender_id"], turn) for row, turn in zip(rows, _turns(rows), strict=True)]

    def top_intents(self, limit: int = 10) -> list[tuple[str, int]]:
        rows = self._rows(
            "SELECT intent_name, count(*) AS n FROM events "
            "WHERE type_name = 'user' AND intent_name IS NOT NULL "
            "GROUP BY intent_name ORDER BY n DESC, intent_name LIMIT ?",
            [limit],
        )
        return [(row["intent_name"], row["n"]) for row in rows]

    def fallbacks_per_day(self, first: date, last: date) -> list[tuple[date, int, int]]:
        """(day, user messages, fallbacks) for each day, China time."""
        start = datetime.combine(first, datetime.min.time(), CHINA).timestamp()
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), CHINA).timestamp()
        rows = self._rows(
            f"SELECT {self.dialect.china_day('timestamp')} AS day, "
            f"count(*) FILTER (WHERE type_name = 'user') AS user_turns, {FALLBACKS} AS fallbacks "
            "FROM events WHERE timestamp >= ? AND timestamp < ? GROUP BY day",
            [FALLBACK_INTENT, start, end],
        )
        by_day = {row["day"]: (row["user_turns"], row["fallbacks"]) for row in rows}
        days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
        return [(day, *by_day.get(day.isoformat(), (0, 0))) for day in days]


def _time(timestamp: float | None) -> datetime:
    return datetime.fromtimestamp(timestamp or 0, CHINA)


def _masked(text: Any) -> str:
    return mask_secrets(text).text if isinstance(text, str) and text else ""


def _turns(rows: list[dict[str, Any]]) -> Iterator[Turn]:
    last_action: str | None = None
    for row in rows:
        kind = row["type_name"]
        if kind == "action":
            last_action = row["action_name"]
            continue
        data = json.loads(row["data"] or "{}")
        at = _time(row["timestamp"])
        if kind == "session_started":
            yield Turn(row["id"], "session", at, "")
        elif kind in ("pause", "resume"):
            yield Turn(row["id"], kind, at, "")
        elif kind == "user":
            yield _user_turn(row["id"], at, data)
        elif kind == "bot":
            yield _bot_turn(row["id"], at, data, last_action)


def _user_turn(event_id: int, at: datetime, data: dict[str, Any]) -> Turn:
    parse = data.get("parse_data") or {}
    intent = parse.get("intent") or {}
    ranking = [item for item in parse.get("intent_ranking") or [] if item.get("name") != intent.get("name")]
    runner_up = (ranking[0]["name"], float(ranking[0].get("confidence") or 0)) if ranking else None
    return Turn(
        event_id=event_id,
        speaker="user",
        at=at,
        text=_masked(data.get("text")),
        intent=intent.get("name"),
        confidence=float(intent["confidence"]) if intent.get("confidence") is not None else None,
        runner_up=runner_up,
        entities=tuple(
            Entity(
                entity=str(item.get("entity")),
                value=_masked(str(item.get("value"))),
                text=_masked(_entity_text(data.get("text") or "", item)),
                start=item.get("start"),
                end=item.get("end"),
                extractor=item.get("extractor"),
            )
            for item in parse.get("entities") or []
        ),
    )


def _entity_text(text: str, item: dict[str, Any]) -> str:
    start, end = item.get("start"), item.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
        return text[start:end]
    return str(item.get("value"))


def _bot_turn(event_id: int, at: datetime, data: dict[str, Any], action: str | None) -> Turn:
    extra, metadata = data.get("data") or {}, data.get("metadata") or {}
    staff = metadata.get("staff") if isinstance(metadata.get("staff"), str) else None
    return Turn(
        event_id=event_id,
        speaker="bot",
        at=at,
        text=_masked(data.get("text")),
        action=None if staff else action,
        response=metadata.get("utter_action"),
        staff=staff,
        buttons=tuple(_masked(button.get("title")) for button in extra.get("buttons") or []),
        has_attachment=any(extra.get(key) for key in ("custom", "attachment", "image", "elements")),
    )
