"""The assistant as a cluster on one machine: PostgreSQL, Redis, Rasa and action-server replicas, nginx.

    python -m scripts.cluster run [--rasa-replicas 2] [--action-replicas 2] [--port 8080]

starts, all on 127.0.0.1:

- PostgreSQL (databases ``wushua`` for cases and the console, ``tracker``
  for Rasa's SQLTrackerStore) and Redis (Rasa's lock store in db 1, the
  channels' shared state in db 0), data under ``var/cluster/``;
- the action-server replicas (``rasa run actions``) and the Rasa replicas
  (``rasa run`` with ``endpoints.cluster.yml``), each on a free port;
- nginx on ``--port``: round robin over the Rasa replicas for users (REST,
  socket.io over websocket, widget, WeChat), and a second listener that
  balances the replicas' custom-action calls over the action servers;
- the staff console, reading the same PostgreSQL databases.

It prints the URLs and stops everything on Ctrl-C or SIGTERM. The fault test
and the benchmark use the same thing from Python::

    with Cluster(workdir, rasa_replicas=2, action_replicas=2) as cluster:
        post(cluster.url + "/webhooks/rest/webhook", ...)
        cluster.kill(cluster.rasa[0])      # SIGKILL, like a crashed machine
        cluster.restart(cluster.rasa[0])   # back on the same port, once ready

Every process the cluster starts is its own process group, so stopping or
killing one never touches anything else on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from urllib.error import URLError
from urllib.request import urlopen

import jinja2
import psycopg2

from scripts.pg_service import PostgresService, data_dir_under
from scripts.rasa_env import ACTION_SERVER, RASA, free_port, rasa_environment
from scripts.redis_service import RedisService

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "models" / "wushua.tar.gz"
DEFAULT_WORKDIR = ROOT / "var" / "cluster"
ENDPOINTS = ROOT / "endpoints.cluster.yml"
NGINX_TEMPLATE = ROOT / "cluster" / "nginx.conf.j2"
CASE_DATABASE = "wushua"
TRACKER_DATABASE = "tracker"
LOCK_STORE_DB = "1"  # Rasa's default; db 0 (REDIS_URL) holds the channels' shared state
# Loading the model traces DIET and TED: about a minute alone, several when
# replicas load at once on a busy 2-core machine.
RASA_START_TIMEOUT = 900
SERVICE_START_TIMEOUT = 180
STOP_TIMEOUT = 30


class NginxNotInstalled(RuntimeError):
    pass


def find_nginx() -> Path:
    """nginx from PATH, else Debian's /usr/sbin (not on a normal user's PATH)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None:
        raise NginxNotInstalled("nginx not found: install the Debian package 'nginx' (apt-get install nginx)")
    return Path(found)


@dataclass
class Replica:
    """One server process: started, killed and restarted on the same port with the same command."""

    name: str
    command: list[str]
    port: int
    health_path: str
    env: dict[str, str]
    log: Path
    start_timeout: float = SERVICE_START_TIMEOUT
    process: subprocess.Popen | None = None
    starts: int = 0
    kills: int = 0
    ready_seconds: list[float] = field(default_factory=list)
    _started_at: float = field(default=0.0, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as out:
            out.write(f"\n=== {self.name} start {self.starts + 1} at {time.strftime('%H:%M:%S')} ===\n")
            out.flush()
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self._started_at = time.monotonic()

    def is_ready(self) -> bool:
        try:
            with urlopen(self.url + self.health_path, timeout=2) as reply:
                return reply.status == 200
        except (URLError, OSError):
            return False

    def wait_until_ready(self) -> None:
        deadline = self._started_at + self.start_timeout
        while not self.is_ready():
            self.raise_if_exited()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not up after {self.start_timeout:.0f}s:\n{self.log_tail()}")
            time.sleep(0.5)
        self.ready_seconds.append(round(time.monotonic() - self._started_at, 1))

    def raise_if_exited(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL to the whole process group: no shutdown handlers, no flushing, like a crash."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def terminate(self) -> None:
        """SIGTERM to the process group; ``stop`` or ``wait_stopped`` waits for it."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def wait_stopped(self, deadline: float) -> None:
        """Until the process has exited, or SIGKILL at ``deadline`` (Rasa may take 20 s to shut down)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        self.terminate()
        self.wait_stopped(time.monotonic() + STOP_TIMEOUT)

    def log_tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:] if self.log.exists() else ""


class Cluster:
    """PostgreSQL, Redis, ``rasa_replicas`` Rasa servers, ``action_replicas`` action servers, nginx.

    ``port`` is the balancer's (a free one when None); every other port is
    free when the cluster starts. Data lives in ``workdir``, which must be
    reachable by the ``postgres`` OS user when running as root (not a 0700
    directory such as pytest's ``tmp_path``).
    """

    def __init__(
        self,
        workdir: Path = DEFAULT_WORKDIR,
        *,
        rasa_replicas: int = 2,
        action_replicas: int = 2,
        port: int | None = None,
        model: Path = DEFAULT_MODEL,
        with_console: bool = True,
    ) -> None:
        if rasa_replicas < 1 or action_replicas < 1:
            raise ValueError("a cluster needs at least one Rasa and one action-server replica")
        self.workdir = Path(workdir).absolute()
        ports = iter(_free_ports(5 + rasa_replicas + action_replicas))
        self.port = port or next(ports)
        self.action_port = next(ports)
        self.model = Path(model).absolute()
        self.postgres = PostgresService(data_dir_under(self.workdir), next(ports))
        self.redis = RedisService(self.workdir / "redis", next(ports))
        self.tracker_db_url = self.postgres.url_for(TRACKER_DATABASE)
        self.case_store_url = self.postgres.url_for(CASE_DATABASE)
        self.nginx_dir = self.workdir / "nginx"
        logs = self.workdir / "logs"
        env = self._environment()
        action_ports = [next(ports) for _ in range(action_replicas)]
        self.actions = [
            Replica(
                f"actions-{number}",
                [*ACTION_SERVER, "--port", str(port)],
                port,
                "/health",
                # Erasures the user asks for in a turn go to any Rasa replica, through the balancer.
                {**env, "RASA_URL": self.url},
                logs / f"actions-{number}.log",
            )
            for number, port in enumerate(action_ports, start=1)
        ]
        rasa_options = ["--model", str(self.model), "--credentials", "credentials.yml"]
        rasa_options += ["--endpoints", str(ENDPOINTS), "--interface", "127.0.0.1"]
        rasa_ports = [next(ports) for _ in range(rasa_replicas)]
        self.rasa = [
            Replica(
                f"rasa-{number}",
                [*RASA, "run", *rasa_options, "--port", str(port)],
                port,
                "/",
                # Users reach the Rasa replicas only through nginx: a client's address is
                # the one nginx reports (X-Forwarded-For), not nginx's own loopback address.
                # The console is reached directly and must not trust that header.
                {**env, "SANIC_PROXIES_COUNT": "1"},
                logs / f"rasa-{number}.log",
                start_timeout=RASA_START_TIMEOUT,
            )
            for number, port in enumerate(rasa_ports, start=1)
        ]
        console_port = next(ports)
        self.console = (
            Replica(
                "console",
                [sys.executable, "-m", "bot.console", "serve", "--port", str(console_port)],
                console_port,
                "/login",
                # Takeover calls go through the balancer to any Rasa replica.
                {**env, "RASA_URL": self.url},
                logs / "console.log",
            )
            if with_console
            else None
        )
        self.nginx = Replica(
            "nginx",
            [str(find_nginx()), "-p", str(self.nginx_dir), "-c", "nginx.conf", "-e", "error.log",
             "-g", "daemon off;"],
            self.port,
            "/",
            env,
            logs / "nginx.log",
        )  # fmt: skip

    @property
    def url(self) -> str:
        """The balancer, where users and the tests connect."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def replicas(self) -> list[Replica]:
        return [*self.actions, *self.rasa, *([self.console] if self.console else []), self.nginx]

    def _environment(self) -> dict[str, str]:
        """What every replica reads: endpoints.cluster.yml's variables and the stores' URLs."""
        return rasa_environment(
            ACTION_ENDPOINT_URL=f"http://127.0.0.1:{self.action_port}/webhook",
            TRACKER_DB_URL=self.tracker_db_url,
            CASE_STORE_URL=self.case_store_url,
            REDIS_URL=self.redis.url,
            LOCK_STORE_HOST="127.0.0.1",
            LOCK_STORE_PORT=str(self.redis.port),
            LOCK_STORE_DB=LOCK_STORE_DB,
            LOCK_STORE_PASSWORD="",
            # One server secret everywhere: a widget session one replica issued resumes on another.
            WUSHUA_SECRET=os.environ.get("WUSHUA_SECRET") or uuid.uuid4().hex,
            # rasa-sdk's listen address; Rasa and the console take theirs as options.
            SANIC_HOST="127.0.0.1",
            # The action servers answer only calls that carry it; Rasa sends it (endpoints.cluster.yml).
            ACTION_SERVER_TOKEN=os.environ.get("ACTION_SERVER_TOKEN") or uuid.uuid4().hex,
        )

    def start(self) -> None:
        """Start everything; returns when every replica answers. On failure, stops what it started."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.postgres.start()
        self.postgres.create_database(TRACKER_DATABASE)
        self.postgres.create_database(CASE_DATABASE)
        self.redis.start()
        for replica in self.actions:
            replica.start()
        # Every Rasa replica creates the tracker tables on start; the first one
        # does it alone, the others start (and load the model) as soon as the
        # tables exist, long before the first replica has loaded its model.
        first, *others = self.rasa
        first.start()
        self._wait_for_tracker_tables(first)
        for replica in others:
            replica.start()
        if self.console:
            self.console.start()
        for replica in [*self.actions, *self.rasa, *([self.console] if self.console else [])]:
            replica.wait_until_ready()
        self._write_nginx_config()
        self.nginx.start()
        self.nginx.wait_until_ready()

    def _wait_for_tracker_tables(self, replica: Replica) -> None:
        deadline = time.monotonic() + replica.start_timeout
        while not self._tracker_tables_exist():
            replica.raise_if_exited()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{replica.name} created no tracker tables:\n{replica.log_tail()}")
            time.sleep(0.5)

    def _tracker_tables_exist(self) -> bool:
        with psycopg2.connect(self.tracker_db_url) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('public.events') IS NOT NULL")
            return cursor.fetchone()[0]

    def _write_nginx_config(self) -> None:
        (self.nginx_dir / "temp").mkdir(parents=True, exist_ok=True)
        template = jinja2.Template(NGINX_TEMPLATE.read_text(), keep_trailing_newline=True)
        config = template.render(
            directory=self.nginx_dir,
            port=self.port,
            action_port=self.action_port,
            rasa_ports=[replica.port for replica in self.rasa],
            action_ports=[replica.port for replica in self.actions],
        )
        (self.nginx_dir / "nginx.conf").write_text(config)

    def stop(self) -> None:
        """Stop everything started, the balancer first; safe to call more than once."""
        self.nginx.stop()
        others = [replica for replica in self.replicas if replica is not self.nginx]
        for replica in others:
            replica.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for replica in others:
            replica.wait_stopped(deadline)
        self.redis.stop()
        self.postgres.stop()

    def kill(self, replica: Replica) -> None:
        replica.kill()

    def restart(self, replica: Replica, *, wait: bool = True) -> None:
        """Start a killed or stopped replica again on its port; with ``wait``, until it answers."""
        replica.stop()
        replica.start()
        if wait:
            replica.wait_until_ready()

    def restart_in_background(self, replica: Replica) -> threading.Thread:
        """Restart without blocking; join the thread to wait until the replica answers."""
        thread = threading.Thread(target=self.restart, args=(replica,), name=f"restart-{replica.name}")
        thread.start()
        return thread

    def describe(self) -> str:
        lines = [
            f"Balancer (REST, socket.io, widget): {self.url}",
            f"  REST channel:   {self.url}/webhooks/rest/webhook",
            f"  Web chat demo:  {self.url}/webhooks/widget/demo",
            *(f"  {replica.name}: {replica.url}" for replica in self.rasa),
            f"Action balancer: http://127.0.0.1:{self.action_port}/webhook",
            *(f"  {replica.name}: {replica.url}" for replica in self.actions),
        ]
        if self.console:
            lines.append(f"Staff console:   {self.console.url}")
        lines += [
            f"TRACKER_DB_URL={self.tracker_db_url}",
            f"CASE_STORE_URL={self.case_store_url}",
            f"REDIS_URL={self.redis.url}",
            f"Logs: {self.workdir / 'logs'}",
        ]
        return "\n".join(lines)

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _free_ports(count: int) -> list[int]:
    """Distinct free ports (probing one after another could hand out the same one twice)."""
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # Unwinding stops the cluster; a second Ctrl-C or SIGTERM must not cut that short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the cluster and keep it running until Ctrl-C or SIGTERM")
    run.add_argument("--rasa-replicas", type=int, default=2)
    run.add_argument("--action-replicas", type=int, default=2)
    run.add_argument("--port", type=int, default=8080, help="the balancer's port")
    run.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    run.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    arguments = parser.parse_args(argv)
    # Python ends on SIGTERM without unwinding; as SystemExit it stops the cluster on the way out.
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    cluster = Cluster(
        arguments.workdir,
        rasa_replicas=arguments.rasa_replicas,
        action_replicas=arguments.action_replicas,
        port=arguments.port,
        model=arguments.model,
    )
    print(f"Starting {arguments.rasa_replicas} Rasa and {arguments.action_replicas} action replicas…")
    try:
        with cluster:
            print(cluster.describe(), flush=True)
            while True:
                for replica in cluster.replicas:
                    replica.raise_if_exited()
                time.sleep(2)
    finally:
        print("Cluster stopped.")


if __name__ == "__main__":
    sys.exit(main())
