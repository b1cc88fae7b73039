"""The case's history: one ``case_events`` row per change, in the change's own transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.domain.clock import now
from bot.storage.database import Database
from bot.storage.schema import case_events

LOG = case_events.insert()


def log_case_event(db: Database, case_id: str, event: str, detail: Any, at: datetime | None = None) -> None:
    row = {"case_id": case_id, "at": (at or now()).isoformat(), "event": event,
           "detail": json.dumps(detail, ensure_ascii=False)}  # fmt: skip
    db.execute(LOG, row)
