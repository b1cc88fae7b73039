"""The logs, each row written in the transaction of what it records: a case's history
(``case_events``) and who did what (``audit_log``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.domain.clock import now
from bot.storage.database import Database
from bot.storage.schema import audit_log, case_events

LOG = case_events.insert()


def log_case_event(db: Database, case_id: str, event: str, detail: Any, at: datetime | None = None) -> None:
    row = {"case_id": case_id, "at": (at or now()).isoformat(), "event": event,
           "detail": json.dumps(detail, ensure_ascii=False)}  # fmt: skip
    db.execute(LOG, row)


def write_audit(
    db: Database,
    username: str,
    action: str,
    case_id: str | None = None,
    sender_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One audit entry, in the caller's transaction so that it lands with the change it records."""
    row = {"at": now().isoformat(), "username": username, "action": action, "case_id": case_id,
           "sender_id": sender_id, "detail": json.dumps(detail or {}, ensure_ascii=False)}  # fmt: skip
    db.execute(audit_log.insert(), row)
