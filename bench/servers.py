"""Start the bots' servers the way `make run` does, watch their memory and CPU, stop them.

Each server is a process group of its own, so stopping it never touches
anything the benchmark did not start. Memory and CPU come from ``/proc``
(peak RSS is ``VmHWM``), summed over the process and its children.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from scripts.rasa_env import ACTION_SERVER, RASA, free_port, local_endpoints, rasa_environment

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STOCK_RASA = str(BIN / "rasa")
STARTUP_TIMEOUT = 900  # loading the model traces DIET and TED; slow on a busy 2-core machine
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rasa_env(**overrides: str) -> dict[str, str]:
    """The environment `make` gives Rasa, for any Rasa command the benchmark runs."""
    return rasa_environment(**{"PYTHONHASHSEED": "0", **overrides})


def run_rasa(
    args: list[str], cwd: Path, log: Path, cache: Path, rasa: Sequence[str] = RASA, **env: str
) -> float:
    """Run a `rasa` command to the end, with its own training cache; the seconds it took.

    The cache of its own keeps the project's `.rasa/cache` out of it, so a
    training here is full (or not) because of what this run did. ``rasa`` is
    the program to run: the project's (with its patches) by default, stock
    Rasa for the stock bot, or a wrapper such as ``bench/seeded_rasa.py``.
    """
    start = time.monotonic()
    with open(log, "w") as out:
        finished = subprocess.run(
            [*rasa, *args],
            cwd=cwd,
            env=rasa_env(RASA_CACHE_DIRECTORY=str(cache), **env),
            stdout=out,
            stderr=out,
        )
    if finished.returncode:
        raise RuntimeError(
            f"rasa {' '.join(args)} failed ({finished.returncode}):\n{log.read_text()[-2000:]}"
        )
    return time.monotonic() - start


@dataclass
class Server:
    role: str  # "rasa" or "actions"
    process: subprocess.Popen
    url: str
    log: Path
    startup_seconds: float = 0.0

    def pids(self) -> list[int]:
        """The server's process and all its descendants."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def peak_rss_mb(self) -> float:
        """Peak resident memory since start (VmHWM), summed over the process tree."""
        total_kb = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
        return total_kb / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the process tree."""
        ticks = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        return ticks / CLOCK_TICKS


@dataclass
class Bot:
    """A running bot: the Rasa server, its action server if it has one, and the probe file."""

    name: str
    rasa: Server
    actions: Server | None
    probe_file: Path

    @property
    def servers(self) -> list[Server]:
        return [server for server in (self.rasa, self.actions) if server]

    def peak_rss_mb(self) -> dict[str, float]:
        return {server.role: round(server.peak_rss_mb(), 1) for server in self.servers}

    def cpu_seconds(self) -> dict[str, float]:
        return {server.role: server.cpu_seconds() for server in self.servers}


def _start(role: str, argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> Server:
    """Start ``argv`` on a free port (both `rasa run` and `rasa run actions` take `--port`)."""
    port = free_port()
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*argv, "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(role, process, f"http://127.0.0.1:{port}", log)


def _wait_until_up(server: Server, path: str, started: float) -> None:
    deadline = started + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.role} server exited early:\n{server.log.read_text()[-3000:]}")
        try:
            with urlopen(server.url + path, timeout=2) as reply:
                if reply.status == 200:
                    server.startup_seconds = time.monotonic() - started
                    return
        except (URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(
        f"{server.role} server not up after {STARTUP_TIMEOUT}s:\n{server.log.read_text()[-3000:]}"
    )


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


def _endpoints(project: Path, workdir: Path, action_url: str | None) -> Path:
    """Our endpoints.yml (its tracker store) for our bot; Rasa's own SQL tracker store for the stock bot."""
    path, tracker_db = workdir / "endpoints.yml", workdir / "tracker.db"
    if project == ROOT:
        return local_endpoints(path, action_url, tracker_db)
    lines = [f'action_endpoint:\n  url: "{action_url}"\n'] if action_url else []
    lines.append(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tracker_db}\n")
    path.write_text("".join(lines))
    return path


@contextmanager
def running_bot(name: str, project: Path, model: Path, workdir: Path, ours: bool = True) -> Iterator[Bot]:
    """Start the bot in ``project`` like `make run` does, with a fresh case store and SQL tracker store.

    Rasa runs through ``bench.probe`` (``rasa`` plus timers; for our bot with
    the project's patches, as ``python -m bot.rasa`` runs it), with the
    project's credentials.yml and endpoints with the action server (ours only)
    and the tracker store. Both bots also get `--enable-api --cors "*"`, so
    that they differ only in what the projects themselves do.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    probe_file = workdir / "probe.jsonl"
    env = rasa_env(
        CASE_STORE_URL=f"sqlite:///{workdir / 'cases.db'}",
        WUSHUA_SECRET=uuid.uuid4().hex,
        BENCH_PROBE_FILE=str(probe_file),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    with ExitStack() as stack:
        started = time.monotonic()
        actions = None
        if ours:
            actions = _start("actions", list(ACTION_SERVER), project, env, workdir / "actions.log")
            stack.callback(_stop, actions)
        endpoints = _endpoints(project, workdir, f"{actions.url}/webhook" if actions else None)
        command = [
            sys.executable,
            "-m",
            "bench.probe",
            *(["--patched"] if ours else []),
            "run",
            "--model",
            str(model),
        ]
        command += [
            "--credentials",
            "credentials.yml",
            "--endpoints",
            str(endpoints),
            "--enable-api",
            "--cors",
            "*",
        ]
        rasa = _start("rasa", command, project, env, workdir / "rasa.log")
        stack.callback(_stop, rasa)
        if actions:
            _wait_until_up(actions, "/health", started)
        _wait_until_up(rasa, "/", started)
        yield Bot(name, rasa, actions, probe_file)
