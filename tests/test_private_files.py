"""Databases and secrets are owner-only whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain

from bot.domain.cases import Facts
from bot.infra import server_secret
from bot.rasa.tracker_store import CachedSQLTrackerStore
from bot.storage import open_store


@pytest.fixture
def careless_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what most shells and services run with
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_case_store_and_its_folder_are_owner_only(tmp_path: Path, careless_umask: None) -> None:
    database = tmp_path / "var" / "cases.db"
    store = open_store(str(database))
    store.open_case("rest:alice", "rest", "misswipe", Facts(amount=1.0))
    assert mode(database.parent) == 0o700
    companions = [database, *database.parent.glob("cases.db-*")]
    assert len(companions) >= 2  # the WAL files exist while the store is open
    assert {path.name: mode(path) for path in companions} == {path.name: 0o600 for path in companions}
    store.close()


def test_an_existing_readable_database_is_made_owner_only(tmp_path: Path, careless_umask: None) -> None:
    database = tmp_path / "cases.db"
    open_store(str(database)).close()
    os.chmod(database, 0o644)
    os.chmod(tmp_path, 0o755)
    open_store(str(database)).close()
    assert (mode(database), mode(tmp_path)) == (0o600, 0o700)


def test_a_shared_folder_keeps_its_mode(tmp_path: Path, careless_umask: None) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # as /tmp is
    database = shared / "cases.db"
    open_store(str(database)).close()
    assert (mode(database), mode(shared)) == (0o600, 0o1777)


def test_the_tracker_database_is_owner_only(tmp_path: Path, careless_umask: None) -> None:
    database = tmp_path / "var" / "tracker.db"
    CachedSQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(database))
    assert (mode(database), mode(database.parent)) == (0o600, 0o700)


def test_the_generated_secret_is_owner_only(
    tmp_path: Path, careless_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WUSHUA_SECRET", raising=False)
    monkeypatch.setattr(server_secret, "SECRET_FILE", tmp_path / "var" / "secret")
    server_secret.server_secret.cache_clear()
    assert len(server_secret.server_secret()) == 64
    server_secret.server_secret.cache_clear()
    assert (mode(tmp_path / "var" / "secret"), mode(tmp_path / "var")) == (0o600, 0o700)
