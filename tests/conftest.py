from __future__ import annotations

from datetime import date

import pytest
from pg_fixtures import postgres_service, postgres_url  # noqa: F401  (shared fixtures)
from sanic import Sanic

# Sanic 21.12 rewrites its HTTP protocol's methods when an app starts, and the
# second app started in one process fails to rewrite them again (KeyError
# 'connection_task'); in test mode it rewrites from the kept originals.
Sanic.test_mode = True

REFERENCE_DAY = date(2026, 11, 25)  # a Wednesday


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> date:
    """Relative dates and due dates are computed against a fixed day."""
    monkeypatch.setenv("WUSHUA_TODAY", REFERENCE_DAY.isoformat())
    return REFERENCE_DAY
