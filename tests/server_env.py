"""Servers in tests.

A real Rasa + action server pair (environment, ports, readiness), or a Sanic
app served from a thread.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sanic import Sanic

from scripts.rasa_env import ACTION_SERVER, RASA, free_port, local_endpoints, rasa_environment

__all__ = ["BotServers", "ServerThread", "bot_server_env", "bot_servers", "free_port", "wait_for"]

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "wushua.tar.gz"
STARTUP_SECONDS = 240


def bot_server_env(case_db: Path, **overrides: str) -> dict[str, str]:
    return rasa_environment(
        CASE_STORE_URL=f"sqlite:///{case_db}",
        WUSHUA_SECRET=os.environ.get("WUSHUA_SECRET") or uuid.uuid4().hex,
        **overrides,
    )


@dataclass(frozen=True)
class BotServers:
    base_url: str
    case_db: Path
    tracker_db: Path
    action_server: subprocess.Popen  # a test may pause it (SIGSTOP) to make turns slow


@contextmanager
def bot_servers(workdir: Path, ready_path: str, **environment: str) -> Iterator[BotServers]:
    """The action server and Rasa (trained model, credentials.yml, ``environment`` over the
    usual one), each with its log and databases in ``workdir``, until the block ends.

    ``ready_path`` is the Rasa URL path that answers 200 once the channel under test is up.
    """
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make test`, which trains it first")
    action_port, rasa_port = free_port(), free_port()
    case_db, tracker_db = workdir / "cases.db", workdir / "tracker.db"
    endpoints = local_endpoints(
        workdir / "endpoints.yml", f"http://127.0.0.1:{action_port}/webhook", tracker_db
    )
    # RASA_URL: the action server asks Rasa to erase a conversation (删除我的信息).
    env = bot_server_env(case_db, RASA_URL=f"http://127.0.0.1:{rasa_port}", **environment)
    action_log, rasa_log = workdir / "actions.log", workdir / "rasa.log"
    with open(action_log, "w") as action_out, open(rasa_log, "w") as rasa_out:
        actions = subprocess.Popen(
            [*ACTION_SERVER, "--port", str(action_port)],
            cwd=ROOT,
            env=env,
            stdout=action_out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        rasa = subprocess.Popen(
            [*RASA, "run", "--model", str(MODEL), "--port", str(rasa_port), "--enable-api",
             "--credentials", "credentials.yml", "--endpoints", str(endpoints)],
            cwd=ROOT, env=env, stdout=rasa_out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            wait_for(f"http://127.0.0.1:{action_port}/health", actions, action_log, STARTUP_SECONDS)
            wait_for(f"http://127.0.0.1:{rasa_port}{ready_path}", rasa, rasa_log, STARTUP_SECONDS)
            yield BotServers(f"http://127.0.0.1:{rasa_port}", case_db, tracker_db, actions)
        finally:
            for process in (rasa, actions):
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout_seconds: float) -> None:
    """Until ``url`` answers 200; fails early with the log's tail if the server died."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise RuntimeError(f"server not up after {timeout_seconds}s:\n{log.read_text()[-3000:]}")


class ServerThread(threading.Thread):
    def __init__(self, app: Sanic, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.app, self.sock = app, sock
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            self.app.create_server(sock=self.sock, return_asyncio_server=True, access_log=False)
        )
        self.loop.run_until_complete(server.startup())
        self.loop.run_until_complete(server.before_start())
        self.loop.run_until_complete(server.after_start())
        self.ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        # Keep-alive connections still have a task each; end them before the loop closes.
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.join(timeout=10)
