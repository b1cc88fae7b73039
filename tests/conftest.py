from __future__ import annotations

from datetime import date

import pytest
from pg_fixtures import postgres_service, postgres_url  # noqa: F401  (shared fixtures)

REFERENCE_DAY = date(2026, 11, 25)  # a Wednesday


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> date:
    """Relative dates and due dates are computed against a fixed day."""
    monkeypatch.setenv("WUSHUA_TODAY", REFERENCE_DAY.isoformat())
    return REFERENCE_DAY
