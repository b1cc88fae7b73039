"""The throwaway PostgreSQL launcher that the tests and the local cluster use."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import closing
from pathlib import Path

import psycopg2
import pytest

from scripts import pg_service
from scripts.pg_service import PostgresNotInstalled, PostgresService, data_dir_under, find_pg_bin


def test_a_missing_postgresql_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(pg_service, "DEBIAN_BIN_DIRS", "/nonexistent/*/bin")
    with pytest.raises(PostgresNotInstalled, match="'postgresql'"):
        find_pg_bin()


def test_starting_again_is_harmless_and_the_url_logs_in_as_the_app_role(
    postgres_service: PostgresService,
) -> None:
    postgres_service.start()
    with closing(psycopg2.connect(postgres_service.url)) as database, database.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database(), current_setting('max_connections')")
        assert cursor.fetchone() == ("wushua", "wushua", "200")


def test_new_databases_belong_to_the_app_role(postgres_service: PostgresService) -> None:
    url = postgres_service.create_database("t_owned")
    try:
        with closing(psycopg2.connect(url)) as database, database.cursor() as cursor:
            cursor.execute("CREATE TABLE t (x int)")  # the owner may create tables in it
            database.commit()
    finally:
        postgres_service.drop_database("t_owned")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the data directory to 'postgres'")
def test_a_data_dir_the_postgres_user_cannot_reach_is_refused_clearly(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)  # as pytest's own temp root is
    with pytest.raises(PermissionError, match="/tmp"):
        PostgresService(tmp_path / "data", 5432).start()


def test_data_lives_next_to_a_folder_the_server_user_can_enter() -> None:
    shared = Path(tempfile.mkdtemp(prefix="wushua-enterable-"))
    try:
        assert data_dir_under(shared) == shared / "postgres"
    finally:
        shutil.rmtree(shared)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the data to another OS user")
def test_data_moves_under_tmp_when_the_server_user_cannot_enter_the_folder(tmp_path: Path) -> None:
    # pytest's tmp_path sits in a 0700 folder, like a checkout under /root.
    private = tmp_path / "checkout" / "var" / "cluster"
    chosen = data_dir_under(private)
    assert chosen.parent == Path(tempfile.gettempdir())
    assert chosen.name.startswith("wushua-postgres-")
    assert data_dir_under(private) == chosen
