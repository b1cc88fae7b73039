"""The one database layer: the case store and the console's tables, on SQLite or PostgreSQL.

    store = open_store("sqlite:///var/cases.db")  # the case store (``bot.domain.cases.CaseStore``)
    store = store_from_env()                      # the one CASE_STORE_URL names
    db = open_database("postgresql://…")          # the database itself, for the console

- ``schema``: every table, defined once (SQLAlchemy Core).
- ``migrations``: ordered, named migrations and their runner.
- ``database``: ``Database`` (transactions, the connection pool) and the
  ``Dialect`` hooks where SQLite and PostgreSQL really differ.
- ``cases``: the case store, its SQL written once for both.
- ``follow_ups``: the follow-ups of each case's dates, scheduled with every change to a case.
- ``console_queries``: the console's queue, search and statistics over the cases.

A process opens one ``Database`` per URL, migrated when first opened, and
shares it between the case store and the console.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

from bot.storage.cases import SQLCaseStore
from bot.storage.database import Database, is_postgres_url, sqlite_path_from_url
from bot.storage.follow_ups import SQLFollowUpStore
from bot.storage.migrations import migrate

DEFAULT_CASE_STORE_URL = "sqlite:///var/cases.db"

_opened: dict[str, Database] = {}
_opening = threading.Lock()


def open_database(location: str | Path) -> Database:
    """The process's database at ``location`` (a ``sqlite:///`` or ``postgresql://`` URL, or a
    SQLite file's path), migrated to the current schema."""
    key = (
        str(location)
        if is_postgres_url(location)
        else str(Path(sqlite_path_from_url(str(location))).resolve())
    )
    with _opening:
        if key not in _opened or _opened[key].closed:
            db = Database(location)
            migrate(db)
            _opened[key] = db
        return _opened[key]


def open_store(url: str) -> SQLCaseStore:
    """``sqlite:///path`` or a bare path → SQLite; ``postgresql://…`` → PostgreSQL."""
    return SQLCaseStore(open_database(url))


def store_from_env() -> SQLCaseStore:
    """The store named by ``CASE_STORE_URL``; the action server and the Rasa server share it."""
    return open_store(os.environ.get("CASE_STORE_URL", DEFAULT_CASE_STORE_URL))


def follow_up_store_from_env() -> SQLFollowUpStore:
    """The follow-ups in the database ``CASE_STORE_URL`` names (the case store's own)."""
    return SQLFollowUpStore(open_database(os.environ.get("CASE_STORE_URL", DEFAULT_CASE_STORE_URL)))


@lru_cache(maxsize=1)
def process_store() -> SQLCaseStore:
    """The one case store of this process, opened on first use (the Rasa server's channels share it)."""
    return store_from_env()
