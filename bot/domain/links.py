"""Links to a case's printable checklist: opaque, stored, expiring and revocable.

A link is a random token that names neither the case nor the conversation;
the store keeps only its SHA-256, so a copy of the database opens nothing.
It opens the read-only checklist page and nothing else (no chat, no
conversation), expires after ``LINK_LIFETIME``, and staff can revoke every
link of a case from the console.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from bot.domain.cases import Case, CaseStore
from bot.domain.clock import now

LINK_LIFETIME = timedelta(days=30)
CHECKLIST_PATH = "/webhooks/widget/checklist/"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_checklist_link(store: CaseStore, case_id: str) -> str:
    """The path of a new link to the case's checklist page."""
    token = secrets.token_urlsafe(32)
    store.add_checklist_link(case_id, token_hash(token), now() + LINK_LIFETIME)
    return CHECKLIST_PATH + token


def case_for_link(store: CaseStore, token: str) -> Case | None:
    """The case behind a live link; None for anything else, without touching the store."""
    if not _TOKEN.match(token):
        return None
    return store.case_for_checklist_link(token_hash(token))
