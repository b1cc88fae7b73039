"""A throwaway PostgreSQL server in a directory of our choosing, for tests and the local cluster.

    python -m scripts.pg_service --data-dir /tmp/wushua-pg --port 55432 start
    python -m scripts.pg_service --data-dir /tmp/wushua-pg --port 55432 stop

``start`` creates the cluster on first use (``initdb``), listens on 127.0.0.1
only, puts its unix socket in the data directory (so it never collides with a
system server's ``/var/run/postgresql``), and makes sure the application role
and database exist. It prints the database URL.

PostgreSQL refuses to run as root. When we are root (containers, CI), initdb,
pg_ctl and postgres run as the OS user ``postgres`` that Debian's
``postgresql`` package creates, and the data directory is handed to it. That
user must be able to reach the directory, so every parent needs the
execute bit for others: pytest's ``tmp_path`` (under a 0700
``/tmp/pytest-of-root``) does not qualify, a fresh directory in ``/tmp`` does,
and so does the repository's ``var/`` here. ``start`` checks this up front and
says which directory to use instead of letting initdb fail obscurely.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from psycopg2 import sql

SERVER_OS_USER = "postgres"  # created by Debian's postgresql package
SUPERUSER = "postgres"  # the cluster's bootstrap role; trusted over the unix socket only
DEBIAN_BIN_DIRS = "/usr/lib/postgresql/*/bin"
PROGRAMS = ("initdb", "pg_ctl", "postgres")
# Four Rasa/action processes with their pools, the console, and a test suite's
# own connections stay well below this.
MAX_CONNECTIONS = 200
START_TIMEOUT_SECONDS = 60
# A fast shutdown still writes a checkpoint; with fsync on, after a test run
# that created many databases, that took over a minute on a busy 2-core machine.
STOP_TIMEOUT_SECONDS = 300


class PostgresNotInstalled(RuntimeError):
    pass


def find_pg_bin() -> Path:
    """The directory holding initdb, pg_ctl and postgres: from PATH, else Debian's newest version."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += sorted(Path("/").glob(DEBIAN_BIN_DIRS.lstrip("/")), key=_version_key, reverse=True)
    for directory in candidates:
        if all((directory / program).is_file() for program in PROGRAMS):
            return directory
    raise PostgresNotInstalled(
        "PostgreSQL server programs (initdb, pg_ctl, postgres) not found on PATH or in "
        f"{DEBIAN_BIN_DIRS}: install the Debian package 'postgresql' (apt-get install postgresql)"
    )


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))


class PostgresService:
    """One PostgreSQL cluster: ``data_dir`` holds its files, its log and its unix socket.

    ``durable=False`` turns fsync off: for throwaway test servers only.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        user: str = "wushua",
        password: str = "wushua",
        database: str = "wushua",
        durable: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.durable = durable
        self.port = port
        self.user, self.password, self.database = user, password, database
        self.bin_dir = find_pg_bin()
        self.log_file = self.data_dir / "server.log"

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Initialise if needed, start if not running, and ensure the role and database exist."""
        self._prepare_data_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if not self.is_running():
            self._run_as_server_user(
                "pg_ctl", "start", "--wait", f"--timeout={START_TIMEOUT_SECONDS}",
                "-D", str(self.data_dir), "-l", str(self.log_file), "-o", self._server_options(),
            )  # fmt: skip
        self._ensure_role_and_database()

    def stop(self) -> None:
        if self.is_running():
            self._run_as_server_user(
                "pg_ctl", "stop", "--wait", f"--timeout={STOP_TIMEOUT_SECONDS}", "-m", "fast",
                "-D", str(self.data_dir),
            )  # fmt: skip

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        # pg_ctl status: 0 running, 3 not running, 4 no usable data directory.
        status = self._command_as_server_user("pg_ctl", "status", "-D", str(self.data_dir))
        return subprocess.run(status, capture_output=True, cwd="/").returncode == 0

    def create_database(self, name: str) -> str:
        """A database owned by the application role; returns its URL. Existing ones are kept."""
        with self._superuser_connection() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(self.user)
                    )
                )
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop it even if clients are still connected (they are disconnected)."""
        with self._superuser_connection() as connection, connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not _running_as_root():
            return
        shutil.chown(self.data_dir, SERVER_OS_USER, SERVER_OS_USER)
        reachable = subprocess.run(
            ["runuser", "-u", SERVER_OS_USER, "--", "test", "-w", str(self.data_dir), "-a",
             "-x", str(self.data_dir)],
            cwd="/",
        )  # fmt: skip
        if reachable.returncode != 0:
            raise PermissionError(
                f"the '{SERVER_OS_USER}' user cannot reach {self.data_dir}: a parent directory is "
                "not executable for others (pytest's tmp_path is 0700); use a directory under /tmp"
            )

    def _initdb(self) -> None:
        # Trust on the unix socket, which lives in the 0700 data directory, so only
        # the server's OS user (and root) can use it; TCP always needs a password.
        self._run_as_server_user(
            "initdb", "-D", str(self.data_dir), f"--username={SUPERUSER}", "--encoding=UTF8",
            "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256",
        )  # fmt: skip

    def _server_options(self) -> str:
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            f"-c unix_socket_directories={shlex.quote(str(self.data_dir))}",
            f"-c max_connections={MAX_CONNECTIONS}",
        ]
        if not self.durable:
            # A throwaway test server has nothing worth recovering after a crash,
            # and syncing every new database's files would dominate the tests' time.
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        # pg_ctl hands this string to a shell, hence the quoting.
        return " ".join(options)

    def _ensure_role_and_database(self) -> None:
        with self._superuser_connection() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [self.user])
            verb = "ALTER" if cursor.fetchone() else "CREATE"
            # Setting the password every time lets a changed password take effect.
            cursor.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(self.password)
                )
            )
        self.create_database(self.database)

    @contextmanager
    def _superuser_connection(self) -> Iterator[psycopg2.extensions.connection]:
        connection = psycopg2.connect(
            host=str(self.data_dir), port=self.port, user=SUPERUSER, dbname="postgres"
        )
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        try:
            yield connection
        finally:
            connection.close()

    def _command_as_server_user(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / program), *args]
        if _running_as_root():
            return ["runuser", "-u", SERVER_OS_USER, "--", *command]
        return command

    def _run_as_server_user(self, program: str, *args: str) -> None:
        command = self._command_as_server_user(program, *args)
        finished = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if finished.returncode != 0:
            log_tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(
                f"{program} failed ({finished.returncode}):\n{finished.stdout}{finished.stderr}{log_tail}"
            )


def _running_as_root() -> bool:
    return os.geteuid() == 0


def data_dir_under(folder: Path) -> Path:
    """Where to keep PostgreSQL's data for something living in ``folder``.

    ``folder/postgres`` when the server's OS user can enter ``folder``; else
    (a checkout under /root, pytest's 0700 temporary folders) a folder under
    the system's temporary directory, named after ``folder`` so the same
    ``folder`` finds the same data again.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if not _running_as_root():
        return folder / "postgres"
    folder.chmod(0o755)
    enterable = subprocess.run(["runuser", "-u", SERVER_OS_USER, "--", "test", "-x", str(folder)], cwd="/")
    if enterable.returncode == 0:
        return folder / "postgres"
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"wushua-postgres-{digest}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", default="wushua")
    parser.add_argument("--password", default="wushua")
    parser.add_argument("--database", default="wushua")
    parser.add_argument("action", choices=["start", "stop"])
    arguments = parser.parse_args(argv)
    service = PostgresService(
        arguments.data_dir,
        arguments.port,
        user=arguments.user,
        password=arguments.password,
        database=arguments.database,
    )
    if arguments.action == "start":
        service.start()
        print(service.url)
    else:
        service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
