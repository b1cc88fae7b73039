"""A real PostgreSQL server for the tests that need one: one per session, a fresh database per test.

    def test_something(postgres_url: str) -> None:
        store = open_store(postgres_url)

Creating a database takes a few milliseconds, so every test starts empty.
Outside CI a missing PostgreSQL skips these tests; under ``CI=true`` it fails
them, since CI installs it.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_env import free_port

from scripts.pg_service import PostgresNotInstalled, PostgresService, find_pg_bin


@pytest.fixture(scope="session")
def postgres_service() -> Iterator[PostgresService]:
    try:
        find_pg_bin()
    except PostgresNotInstalled as error:
        if os.environ.get("CI") == "true":
            pytest.fail(str(error))
        pytest.skip(str(error))
    # Not tmp_path_factory: pytest's temp root is 0700, and as root the server
    # runs as the 'postgres' user, which must reach its data directory.
    with tempfile.TemporaryDirectory(prefix="wushua-test-pg-", ignore_cleanup_errors=True) as data_dir:
        service = PostgresService(Path(data_dir), free_port(), durable=False)
        try:
            service.start()
            yield service
        finally:
            service.stop()


@pytest.fixture
def postgres_url(postgres_service: PostgresService) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex}"
    yield postgres_service.create_database(name)
    postgres_service.drop_database(name)  # keeps the server small, and its shutdown quick
