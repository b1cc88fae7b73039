"""The case store on both backends: a test that takes ``store`` runs on SQLite and on PostgreSQL.

from store_backends import store, store_url  # noqa: F401  (fixtures)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from bot.storage import open_store
from bot.storage.cases import SQLCaseStore


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cases.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url: str) -> Iterator[SQLCaseStore]:
    with closing(open_store(store_url)) as opened:
        yield opened
