"""The real bot for the widget's browser tests, behind a proxy the tests can cut.

Starts the action server and the Rasa server (with ``credentials.yml``, so the
socket.io and widget channels are on) on free ports with a temporary tracker
and case store, and puts a small TCP proxy in front of Rasa. The browser only
ever talks to the proxy, so a test can take "the server" away and bring it back
in a second, instead of waiting a minute for Rasa to restart.

Outside CI a missing model, Chromium or Playwright skips these tests; under
``CI=true`` it fails them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from server_env import bot_server_env, free_port, wait_for

from scripts.rasa_env import ACTION_SERVER, RASA, local_endpoints

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "wushua.tar.gz"
SOCKET_IO = ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 420  # Rasa loads TensorFlow and the model; slow on a busy 2-core machine


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the web widget in headless Chromium")


def missing(what: str) -> None:
    """Skip on a developer's machine, fail in CI, where everything must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(what)
    pytest.skip(what)


class Proxy:
    """A TCP proxy on a fixed port that can be stopped (dropping every open
    connection, as a crashed or restarted server would) and started again."""

    def __init__(self, port: int, upstream_port: int) -> None:
        self.port, self.upstream_port = port, upstream_port
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.AbstractServer | None = None
        self.connections: set[asyncio.Task] = set()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def _call(self, coroutine_function: Callable[[], Coroutine[Any, Any, None]]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine_function(), self.loop).result(timeout=10)

    def start(self) -> None:
        self._call(self._start)

    def stop(self) -> None:
        self._call(self._stop)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def _stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for connection in self.connections:
            connection.cancel()
        await asyncio.gather(*self.connections, return_exceptions=True)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        connection = asyncio.current_task()
        assert connection is not None
        self.connections.add(connection)
        writers = [client_writer]
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            writers.append(upstream_writer)
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer)
            )
        except OSError:
            pass
        finally:
            self.connections.discard(connection)
            for writer in writers:
                writer.transport.abort()  # an abrupt close, like a server that went away

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.transport.abort()


class Servers:
    def __init__(self, proxy: Proxy, case_db: Path, tracker_db: Path) -> None:
        self.proxy = proxy
        self.case_db, self.tracker_db = case_db, tracker_db
        self.base_url = f"http://127.0.0.1:{proxy.port}"
        self.demo_url = f"{self.base_url}/webhooks/widget/demo"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    if not MODEL.exists():
        missing(f"{MODEL} is missing: run `make test`, which trains it first")
    if not SOCKET_IO.exists():
        missing(f"{SOCKET_IO} is missing: run `npm ci`")
    workdir = tmp_path_factory.mktemp("widget-servers")
    action_port, rasa_port = free_port(), free_port()
    action_url = f"http://127.0.0.1:{action_port}/webhook"
    endpoints = local_endpoints(workdir / "endpoints.yml", action_url, workdir / "tracker.db")
    # RASA_URL: the action server asks Rasa to erase a conversation (删除我的信息).
    env = bot_server_env(workdir / "cases.db", RASA_URL=f"http://127.0.0.1:{rasa_port}")
    action_log, rasa_log = workdir / "actions.log", workdir / "rasa.log"
    with open(action_log, "w") as action_out, open(rasa_log, "w") as rasa_out:
        actions = subprocess.Popen(
            [*ACTION_SERVER, "--port", str(action_port)],
            cwd=ROOT, env=env, stdout=action_out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        rasa = subprocess.Popen(
            [*RASA, "run", "--model", str(MODEL), "--port", str(rasa_port), "--enable-api",
             "--credentials", "credentials.yml", "--endpoints", str(endpoints)],
            cwd=ROOT, env=env, stdout=rasa_out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        proxy = Proxy(free_port(), rasa_port)
        try:
            wait_for(f"http://127.0.0.1:{action_port}/health", actions, action_log, STARTUP_SECONDS)
            wait_for(f"http://127.0.0.1:{rasa_port}/webhooks/widget/", rasa, rasa_log, STARTUP_SECONDS)
            proxy.start()
            yield Servers(proxy, workdir / "cases.db", workdir / "tracker.db")
        finally:
            proxy.close()
            for process in (rasa, actions):
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright  # test_widget.py checked it is there

    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        missing(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()
