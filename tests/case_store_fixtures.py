"""A fresh SQLite case store for each test of the actions, which open it through ``case_store()``.

from case_store_fixtures import fresh_case_store  # noqa: F401  (autouse)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from actions.store import case_store


@pytest.fixture(autouse=True)
def fresh_case_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CASE_STORE_URL", f"sqlite:///{tmp_path / 'cases.db'}")
    case_store.cache_clear()
    yield
    case_store.cache_clear()
