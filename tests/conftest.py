from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import date

import pytest
from pg_fixtures import postgres_service, postgres_url  # noqa: F401  (shared fixtures)
from sanic import Sanic

# Sanic 21.12 rewrites its HTTP protocol's methods when an app starts, and the
# second app started in one process fails to rewrite them again (KeyError
# 'connection_task'); in test mode it rewrites from the kept originals.
Sanic.test_mode = True

REFERENCE_DAY = date(2026, 11, 25)  # a Wednesday

# One server secret for the tests and every server they start (bot_server_env passes
# it on), so that the console here and a Rasa server there derive the same tokens.
os.environ.setdefault("WUSHUA_SECRET", secrets.token_hex(16))


@pytest.fixture(autouse=True)
def fresh_per_process_state() -> Iterator[None]:
    """Each test starts with no messages counted against a rate limit and no split card number."""
    from bot.rasa.channels import guard

    for cached in (guard.rate_limiter_from_env, guard.split_guard_from_env):
        cached.cache_clear()
    yield
    for cached in (guard.rate_limiter_from_env, guard.split_guard_from_env):
        cached.cache_clear()


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> date:
    """Relative dates and due dates are computed against a fixed day."""
    monkeypatch.setenv("WUSHUA_TODAY", REFERENCE_DAY.isoformat())
    return REFERENCE_DAY
