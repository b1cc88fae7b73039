"""Fixtures for the staff console: a case store and a tracker database in a tmp dir,
and the real Sanic app serving them on a free port in a background thread."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import Console, ServerThread
from sanic import Sanic

from bot.console.settings import Settings
from bot.console.store import ConsoleStore

# Several apps (one per test) share the name "wushua_console".
Sanic.test_mode = True


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives headless Chromium through the console")
    config.addinivalue_line("markers", "slow: runs `rasa data validate` or another multi-second command")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(case_db=tmp_path / "cases.db", tracker_db=tmp_path / "tracker.db")


@pytest.fixture
def store(settings: Settings) -> ConsoleStore:
    return ConsoleStore(settings.case_db)


@pytest.fixture
def console(settings: Settings) -> Iterator[Console]:
    from bot.console.app import create_app

    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = ServerThread(app, sock)
    thread.start()
    assert thread.ready.wait(timeout=30), "console did not start"
    try:
        yield Console(f"http://127.0.0.1:{sock.getsockname()[1]}", settings, app.ctx.store, app)
    finally:
        thread.stop()
