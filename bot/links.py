"""Signed, expiring links to a user's own pages (the printable checklist).

A link carries the case id and the conversation that owns it, signed with a
server secret, so it cannot be guessed or pointed at someone else's case.
The secret comes from ``WUSHUA_LINK_SECRET``, or is generated once into
``var/link_secret`` so the action server and the Rasa server share it.
"""

from __future__ import annotations

import os
import secrets
import time
from functools import lru_cache
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.knowledge import PROJECT_ROOT

LINK_LIFETIME_SECONDS = 30 * 24 * 3600
SECRET_FILE = PROJECT_ROOT / "var" / "link_secret"


def _secret() -> str:
    configured = os.environ.get("WUSHUA_LINK_SECRET")
    if configured:
        return configured
    SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when both servers start at once, exactly one writes the secret.
        descriptor = os.open(SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_when_written(SECRET_FILE)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32))
    return SECRET_FILE.read_text().strip()


def _read_when_written(path: Path) -> str:
    for _ in range(100):
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.01)
    raise RuntimeError(f"{path} exists but is empty")


@lru_cache(maxsize=1)
def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(), salt="wushua.checklist")


def checklist_token(case_id: str, sender_id: str) -> str:
    return _serializer().dumps({"case": case_id, "owner": sender_id})


def checklist_path(case_id: str, sender_id: str) -> str:
    return f"/webhooks/widget/checklist/{checklist_token(case_id, sender_id)}"


def read_checklist_token(token: str) -> tuple[str, str] | None:
    """(case id, owner) from a valid, unexpired token; None for anything else."""
    try:
        payload = _serializer().loads(token, max_age=LINK_LIFETIME_SECONDS)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not {"case", "owner"} <= payload.keys():
        return None
    return str(payload["case"]), str(payload["owner"])
