"""One database, SQLite or PostgreSQL, behind a SQLAlchemy engine.

    db = Database("sqlite:///var/cases.db")       # or postgresql://…, or a SQLite file's path
    with db.transaction():                        # SQLite: BEGIN IMMEDIATE, writers queue
        db.execute(cases.update().values(...))    # SQLAlchemy Core …
        db.execute("DELETE FROM case_tags WHERE case_id = ?", [case_id])  # … or SQL text
    case = db.run(lambda: ...)                    # the same, run again if the server dropped us

Inside ``transaction`` or ``run`` every call on the database from the same
thread takes part in that transaction, so a change and its audit entry, or a
status change and its event, commit together; outside one, each statement
commits on its own. SQL text takes ``?`` placeholders (or ``:name`` ones with
a dict), so no literal in it may hold a ``?``. Errors are the driver's own
(``sqlite3``, ``psycopg2``), as callers knew them before this layer.

What really differs between the databases is a hook of ``db.dialect``:
locking, upserts, full-text search and a few SQL functions.

Connections come from a pool the process's threads share. On PostgreSQL each
is pinged before use (``pool_pre_ping``), so those the server dropped (a
restart, a network cut) are replaced, and ``run`` tries a transaction again
on a fresh connection when the server dropped it before COMMIT: the server
rolled back whatever it had not committed. A failure during COMMIT itself is
ambiguous, and raised. While the server refuses connections (it is shutting
down or starting), a new connection is tried again for up to
``reconnect_seconds``, so a restart delays a call instead of failing it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlite_utils
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.dml import Insert

from bot.infra.private_files import private_file
from bot.storage.schema import SEARCHED_COLUMNS, cases

T = TypeVar("T")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
Params = Sequence[Any] | Mapping[str, Any]
# Longer than a fast restart of a busy server (`pg_ctl restart -m fast`: 3 s in the cluster fault test).
RECONNECT_SECONDS = 15.0
# Any fixed number will do, as long as every process that migrates the database uses it.
MIGRATION_LOCK_KEY = 0x7773_6361_7365  # "wscase"
PURGE_LOCK_KEY = 0x7773_7075_7267  # "wspurg"


class MissingTable(LookupError):
    """The statement names a table the database does not have (yet)."""


def sqlite_path_from_url(url: str) -> str:
    """``sqlite:///var/cases.db`` → ``var/cases.db``; a bare path is accepted too."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if "://" in url:
        raise ValueError(f"unsupported database URL scheme: {url.split('://')[0]}")
    return url


def is_postgres_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def location_from_url(url: str) -> Path | str:
    """``sqlite:///var/cases.db`` → a path; a ``postgresql://`` URL stays as it is."""
    return url if is_postgres_url(url) else Path(sqlite_path_from_url(url))


class Dialect:
    """The hooks where SQLite and PostgreSQL differ; everything else is written once."""

    name: str
    insert: Callable[[sa.Table], Insert]  # an INSERT that can say ON CONFLICT: upserts

    def begin(self, connection: Connection, *, write: bool) -> None:
        """Start a transaction; a writing one holds what keeps concurrent writers apart."""

    def lock_for_migrations(self, connection: Connection) -> None:
        """Make processes migrating the same database take turns, until the transaction ends."""

    def lock_for_purge(self, connection: Connection) -> None:
        """Make processes starting the retention purge take turns, until the transaction ends
        (SQLite: the writing transaction already does)."""

    def search(self, words: list[str]) -> list[sa.ColumnElement]:
        """Conditions on ``cases``: each word in the case id, the card's last digits or the merchant."""
        raise NotImplementedError

    def enable_search(self, connection: Connection) -> None:
        """Create what ``search`` needs."""

    def forget_erased(self, connection: Connection) -> None:
        """After an erasure (``bot.storage.erasure``): drop what still holds the erased values."""

    def forget_erased_step(self, connection: Connection) -> bool:
        """One short step of ``forget_erased``, for a caller that lets writers in between
        (the retention purge); False once nothing is left to do."""
        return False

    def json_array_length(self, column: sa.ColumnElement) -> sa.ColumnElement:
        raise NotImplementedError

    def json_number(self, column: str, *path: str) -> str:
        """SQL for the number at ``path`` inside a JSON text column, NULL where absent."""
        raise NotImplementedError

    def china_day(self, epoch_column: str) -> str:
        """SQL for ``YYYY-MM-DD`` in China time of a Unix timestamp column."""
        raise NotImplementedError


# Pages of the search index one merge step writes: a few milliseconds of a writer's time.
MERGE_PAGES = 200


def _like_pattern(word: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", word) + "%"


class SQLiteDialect(Dialect):
    name = "sqlite"
    insert = staticmethod(sqlite.insert)
    # The trigram index the console searches, kept current by triggers (``enable_search``).
    fts = sa.table("cases_fts", sa.column("rowid"), *map(sa.column, SEARCHED_COLUMNS))

    def begin(self, connection: Connection, *, write: bool) -> None:
        # IMMEDIATE takes the write lock up front, so writers queue (busy_timeout)
        # instead of failing midway; the lock is the database's, across processes.
        # Reads need no transaction: in WAL mode each statement reads a snapshot.
        if write:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    def search(self, words: list[str]) -> list[sa.ColumnElement]:
        # Trigram tokens match any part of a Chinese merchant name, a card tail or
        # a case id, for words of three characters or more; shorter ones (a
        # two-character merchant like 华联) are a LIKE over the same index table,
        # which ignores case for ASCII.
        rowid, conditions = sa.literal_column("cases.rowid"), []
        long_words = [word for word in words if len(word) >= 3]
        if long_words:
            query = " AND ".join('"' + word.replace('"', '""') + '"' for word in long_words)
            matching = sa.literal_column("cases_fts").op("MATCH")(query)
            conditions.append(rowid.in_(sa.select(self.fts.c.rowid).where(matching)))
        for word in (word for word in words if len(word) < 3):
            like = [self.fts.c[column].like(_like_pattern(word), escape="\\") for column in SEARCHED_COLUMNS]
            conditions.append(rowid.in_(sa.select(self.fts.c.rowid).where(sa.or_(*like))))
        return conditions

    def enable_search(self, connection: Connection) -> None:
        # sqlite-utils runs its script statement by statement inside our transaction.
        database = sqlite_utils.Database(connection.connection.dbapi_connection, recursive_triggers=False)
        database["cases"].enable_fts(SEARCHED_COLUMNS, create_triggers=True, tokenize="trigram", replace=True)

    def forget_erased(self, connection: Connection) -> None:
        # The search index keeps a deleted row's words in its older segments until they are
        # merged; optimize merges them all. Skipped where the index is not there (yet).
        if sa.inspect(connection).has_table("cases_fts"):
            connection.exec_driver_sql("INSERT INTO cases_fts (cases_fts) VALUES ('optimize')")

    def forget_erased_step(self, connection: Connection) -> bool:
        # FTS5's incremental merge: a negative page count merges segments at every level, as
        # optimize does, a bounded amount of work at a time; a step that changed fewer than
        # two rows found nothing left to merge (https://sqlite.org/fts5.html#the_merge_command).
        if not sa.inspect(connection).has_table("cases_fts"):
            return False
        before = connection.exec_driver_sql("SELECT total_changes()").scalar_one()
        connection.exec_driver_sql(
            f"INSERT INTO cases_fts (cases_fts, rank) VALUES ('merge', -{MERGE_PAGES})"
        )
        return connection.exec_driver_sql("SELECT total_changes()").scalar_one() - before >= 2

    def json_array_length(self, column: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.json_array_length(column)

    def json_number(self, column: str, *path: str) -> str:
        return f"CAST(json_extract({column}, '$.{'.'.join(path)}') AS REAL)"

    def china_day(self, epoch_column: str) -> str:
        return f"date({epoch_column}, 'unixepoch', '+8 hours')"


class PostgresDialect(Dialect):
    name = "postgresql"
    insert = staticmethod(postgresql.insert)

    def lock_for_migrations(self, connection: Connection) -> None:
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))

    def lock_for_purge(self, connection: Connection) -> None:
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(PURGE_LOCK_KEY)))

    def search(self, words: list[str]) -> list[sa.ColumnElement]:
        # No trigram index without an extension (pg_trgm), which a managed server may
        # not offer; a case-insensitive scan is fast enough at the console's scale.
        return [
            sa.or_(*(cases.c[column].ilike(_like_pattern(word), escape="\\") for column in SEARCHED_COLUMNS))
            for word in words
        ]

    def json_array_length(self, column: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.json_array_length(sa.cast(column, postgresql.JSON))

    def json_number(self, column: str, *path: str) -> str:
        return f"CAST(CAST({column} AS json) #>> '{{{','.join(path)}}}' AS double precision)"

    def china_day(self, epoch_column: str) -> str:
        return f"to_char(to_timestamp({epoch_column}) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')"


@dataclass(frozen=True)
class Rows:
    """A statement's result, fetched before its connection went back to the pool."""

    rows: list[Row]
    rowcount: int

    def fetchone(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Row]:
        return self.rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


class _Current(threading.local):
    connection: Connection | None = None
    write: bool = False


class Database:
    """``location``: a SQLite file's path or ``sqlite:///`` URL, or a ``postgresql://`` URL.

    ``read_only``: the server refuses writes (PostgreSQL), the file is opened
    read-only (SQLite); for reading another program's database.
    """

    def __init__(
        self,
        location: str | Path,
        *,
        read_only: bool = False,
        pool_size: int = 4,
        reconnect_seconds: float = RECONNECT_SECONDS,
    ) -> None:
        self.location = location
        self.reconnect_seconds = reconnect_seconds
        # After a server restart every pooled connection may be dead: one attempt more than the pool holds.
        self._attempts = 1
        if is_postgres_url(location):
            self.dialect: Dialect = PostgresDialect()
            self.engine = _postgres_engine(str(location), read_only=read_only, pool_size=pool_size)
            self._attempts += pool_size
        else:
            self.dialect = SQLiteDialect()
            self.engine = _sqlite_engine(Path(sqlite_path_from_url(str(location))), read_only=read_only)
        self._current = _Current()
        self.closed = False

    def close(self) -> None:
        """Close the pooled connections (it reconnects if used again); ``open_database`` opens anew."""
        self.closed = True
        self.engine.dispose()

    @property
    def connection(self) -> Connection:
        """The connection of this thread's open transaction, for SQLAlchemy's DDL and inspection."""
        if self._current.connection is None:
            raise RuntimeError("no transaction is open")
        return self._current.connection

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Database]:
        """Statements on this database, from this thread, commit together or not at all."""
        if self._current.connection is not None:
            self._check_joinable(write)
            yield self
            return
        with self._connection(write) as connection:
            yield self
            connection.commit()

    def run(self, work: Callable[[], T], *, write: bool = True) -> T:
        """``work()`` in a transaction, again on a fresh connection if the server dropped ours."""
        if self._current.connection is not None:
            self._check_joinable(write)
            return work()
        attempts = self._attempts
        for attempt in range(1, attempts + 1):
            with self._connection(write) as connection:
                try:
                    result = work()
                except Exception:
                    if connection.invalidated and attempt < attempts:
                        continue
                    raise
                connection.commit()
                return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    def execute(self, statement: str | sa.sql.Executable, params: Params = ()) -> Any:
        """A SQLAlchemy statement, or SQL text with ``?`` (or ``:name``) placeholders.

        Inside a transaction the live result; outside, ``Rows`` fetched before the statement committed.
        """
        connection = self._current.connection
        if connection is None:
            return self.run(lambda: self._fetched(statement, params), write=False)
        if isinstance(statement, str):
            statement, params = _text(statement, params)
        try:
            return connection.execute(statement, params or {})
        except sa.exc.DBAPIError as error:
            raise _driver_error(error) from error

    def query(self, statement: str | sa.sql.Executable, params: Params = ()) -> Iterator[dict[str, Any]]:
        return (dict(row._mapping) for row in self.execute(statement, params))

    def insert(self, table: str, row: Mapping[str, Any], *, returning: str | None = None) -> Any:
        """Insert one row; with ``returning``, the value the database gave that column."""
        # Table and column names come from our code, never from a request.
        sql = f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})"
        if returning is None:
            self.execute(sql, list(row.values()))
            return None
        return self.execute(f"{sql} RETURNING {returning}", list(row.values())).fetchone()[0]

    def _fetched(self, statement: str | sa.sql.Executable, params: Params) -> Rows:
        result = self.execute(statement, params)
        return Rows(result.fetchall() if result.returns_rows else [], result.rowcount)

    def _check_joinable(self, write: bool) -> None:
        if write and not self._current.write:
            raise RuntimeError("a write inside a reading transaction")

    @contextmanager
    def _connection(self, write: bool) -> Iterator[Connection]:
        """A pooled connection in a transaction, this thread's until it closes (rolling back
        what was not committed)."""
        try:
            with self._connect() as connection:
                self._current.connection, self._current.write = connection, write
                try:
                    self.dialect.begin(connection, write=write)
                    yield connection
                finally:
                    self._current.connection = None
        except sa.exc.DBAPIError as error:
            raise _driver_error(error) from error

    def _connect(self) -> Connection:
        """A pooled connection, waiting out a PostgreSQL server that refuses connections for now."""
        deadline = time.monotonic() + (self.reconnect_seconds if self.dialect.name == "postgresql" else 0)
        delay = 0.1
        while True:
            try:
                return self.engine.connect()
            except sa.exc.OperationalError:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)


def _text(sql: str, params: Params) -> tuple[sa.TextClause, Mapping[str, Any]]:
    if isinstance(params, Mapping):
        return sa.text(sql), params
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        raise ValueError(f"{len(parts) - 1} placeholders for {len(params)} values")
    names = [f"p{number}" for number in range(len(params))]
    bound = parts[0] + "".join(f":{name}{part}" for name, part in zip(names, parts[1:], strict=True))
    return sa.text(bound), dict(zip(names, params, strict=True))


def _driver_error(error: sa.exc.DBAPIError) -> BaseException:
    original = error.orig
    if "no such table" in str(original) or getattr(original, "pgcode", None) == "42P01":
        return MissingTable(str(original))
    return original


def _sqlite_engine(path: Path, *, read_only: bool) -> sa.engine.Engine:
    if read_only:
        uri = f"{path.resolve().as_uri()}?mode=ro"

        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(
                uri, uri=True, timeout=10, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA query_only = ON")
            return connection

        # A connection per use: the file's owner (Rasa) may create it after we start.
        return sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.NullPool, future=True)

    private_file(path)

    def connect() -> sqlite3.Connection:
        # Autocommit mode: `Dialect.begin` starts each writing transaction itself.
        connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA foreign_keys = ON")
        # Deleted rows are overwritten, not left in free pages, so an erasure leaves no copy in the file.
        connection.execute("PRAGMA secure_delete = ON")
        return connection

    _enable_wal(path)
    # A pool (not SQLAlchemy's default for SQLite files, NullPool) keeps connections,
    # and with them the WAL file, open between statements.
    return sa.create_engine(
        "sqlite://", creator=connect, poolclass=sa.pool.QueuePool, pool_size=5, max_overflow=15, future=True
    )


def _enable_wal(path: Path, attempts: int = 50) -> None:
    """Switch a new file to WAL (a no-op once it is: the mode is stored in the file).

    The switch needs an exclusive lock, and when several processes open a new
    file at once SQLite can report "database is locked" straight away instead
    of waiting out the busy timeout, so we wait and try again ourselves.
    """
    with sqlite3.connect(path, timeout=30, isolation_level=None) as connection:
        for attempt in range(attempts):
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == attempts - 1:
                    raise
                time.sleep(0.05)
    connection.close()


def _postgres_engine(url: str, *, read_only: bool, pool_size: int) -> sa.engine.Engine:
    import psycopg2  # here, so that SQLite deployments never load it

    def connect() -> Any:
        # libpq parses the URL, with any ?options=-csearch_path… a deployment gives it.
        connection = psycopg2.connect(url, connect_timeout=10, application_name="wushua-cases")
        if read_only:
            connection.set_session(readonly=True)
        return connection

    return sa.create_engine(
        "postgresql+psycopg2://",
        creator=connect,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        future=True,
    )
