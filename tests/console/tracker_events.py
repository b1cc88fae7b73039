"""Rasa SQL tracker store rows, written straight into an ``events`` table in SQLite or PostgreSQL.

The table is Rasa 3.6's (``SQLTrackerStore.SQLEvent``, as SQLAlchemy creates
it on each database); the event JSON has the shape Rasa serialises.
``test_transcripts.py`` checks the reader against databases written by Rasa's
own ``SQLTrackerStore`` too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.domain.clock import CHINA
from bot.storage.database import is_postgres_url

EVENTS_COLUMNS = (
    "sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, timestamp FLOAT, "
    "intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT"
)
EVENTS_TABLE = {
    "sqlite": f"CREATE TABLE IF NOT EXISTS events (id INTEGER NOT NULL PRIMARY KEY, {EVENTS_COLUMNS})",
    "postgresql": f"CREATE TABLE IF NOT EXISTS events (id SERIAL NOT NULL PRIMARY KEY, {EVENTS_COLUMNS})",
}
EVENTS_INDEX = "CREATE INDEX IF NOT EXISTS ix_events_sender_id ON events (sender_id)"


def action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name, "policy": "RulePolicy", "confidence": 1.0}


def session() -> list[dict[str, Any]]:
    return [action("action_session_start"), {"event": "session_started"}, action("action_listen")]


def user(
    text: str,
    intent: str,
    confidence: float = 0.95,
    entities: Iterable[dict[str, Any]] = (),
    ranking: Iterable[tuple[str, float]] = (),
) -> dict[str, Any]:
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": list(entities),
        "intent_ranking": [{"name": intent, "confidence": confidence}]
        + [{"name": name, "confidence": score} for name, score in ranking],
    }
    return {"event": "user", "text": text, "parse_data": parse, "input_channel": "rest", "metadata": {}}


def entity(text: str, name: str, part: str, value: Any = None, extractor: str = "DIETClassifier") -> dict:
    start = text.index(part)
    return {
        "entity": name,
        "start": start,
        "end": start + len(part),
        "value": part if value is None else value,
        "extractor": extractor,
    }


def reply(
    action_name: str, text: str | None, buttons: Iterable[str] = (), custom: dict | None = None
) -> list:
    """A bot turn: the action, then what it uttered."""
    data: dict[str, Any] = {"buttons": [{"title": title, "payload": f"/{title}"} for title in buttons]}
    if custom:
        data["custom"] = custom
    bot = {"event": "bot", "text": text, "data": data, "metadata": {}}
    if action_name.startswith("utter_"):
        bot["metadata"] = {"utter_action": action_name}
    return [action(action_name), bot, action("action_listen")]


def write_events(location: Path | str, sender_id: str, events: Iterable[Any], start: datetime) -> list[int]:
    """Append a conversation's events (lists are flattened), one second apart.

    ``location`` is a SQLite file or a PostgreSQL URL. Returns the ids of the user events.
    """
    flat: list[dict[str, Any]] = []
    for item in events:
        flat.extend(item if isinstance(item, list) else [item])
    # Not the store's Database: that would turn the file to WAL, which Rasa's store does not use.
    engine = sa.create_engine(
        str(location) if is_postgres_url(location) else f"sqlite:///{location}", future=True
    )
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(EVENTS_TABLE[connection.dialect.name])
            connection.exec_driver_sql(EVENTS_INDEX)
            timestamp = start.astimezone(CHINA).timestamp()
            user_ids = []
            for offset, event in enumerate(flat):
                body = {**event, "timestamp": timestamp + offset}
                kind = event["event"]
                row = {
                    "sender_id": sender_id,
                    "type_name": kind,
                    "timestamp": body["timestamp"],
                    "intent_name": event["parse_data"]["intent"]["name"] if kind == "user" else None,
                    "action_name": event.get("name") if kind == "action" else None,
                    "data": json.dumps(body, ensure_ascii=False),
                }
                insert = (
                    f"INSERT INTO events ({', '.join(row)}) VALUES ({', '.join(':' + name for name in row)})"
                )
                event_id = connection.execute(sa.text(insert + " RETURNING id"), row).scalar_one()
                if kind == "user":
                    user_ids.append(event_id)
    finally:
        engine.dispose()
    return user_ids
