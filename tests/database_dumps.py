"""Databases as earlier code left them: the dumps in ``tests/databases`` (see its README), loaded
into a test's SQLite file or fresh PostgreSQL database."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import psycopg2

DUMPS = Path(__file__).parent / "databases"


def load_dump(name: str, location: Path | str) -> None:
    """``name``: current, early or early-upgraded; ``location``: a SQLite file or a postgresql:// URL."""
    if isinstance(location, str):
        # psql's meta-commands (\restrict) are for psql; the rest is plain SQL.
        lines = (DUMPS / f"{name}.postgresql.sql").read_text().splitlines()
        with closing(psycopg2.connect(location)) as connection, connection, connection.cursor() as cursor:
            cursor.execute("\n".join(line for line in lines if not line.startswith("\\")))
    else:
        # Run by a connection of its own: the FTS index it adds to the schema shows to the next one.
        with closing(sqlite3.connect(location)) as connection:
            connection.executescript((DUMPS / f"{name}.sqlite.sql").read_text())
