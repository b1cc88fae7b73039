"""Servers in tests.

A real Rasa + action server pair (environment, ports, readiness), or a Sanic
app served from a thread.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import requests
from sanic import Sanic

from scripts.rasa_env import free_port, rasa_environment

__all__ = ["ServerThread", "bot_server_env", "free_port", "wait_for"]


def bot_server_env(case_db: Path) -> dict[str, str]:
    return rasa_environment(
        CASE_STORE_URL=f"sqlite:///{case_db}",
        WUSHUA_SECRET=os.environ.get("WUSHUA_SECRET") or uuid.uuid4().hex,
    )


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
