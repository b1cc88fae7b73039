"""Fixtures for the staff console: a case store and a tracker database, and the
real Sanic app serving them on a free port in a background thread.

The databases are SQLite files in a tmp dir; tests marked ``on_both_backends``
(``console_support``) run a second time on a fresh PostgreSQL database, as in
cluster mode.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import FIRST_LOGIN_DELAY, LOGIN_DELAY_CAP, Console, unavailable
from sanic import Sanic
from server_env import ServerThread

from bot.console.settings import Settings
from bot.console.store import ConsoleStore
from bot.console.transcripts import TrackerReader

# Several apps (one per test) share the name "wushua_console".
Sanic.test_mode = True

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives headless Chromium through the console")
    config.addinivalue_line("markers", "slow: runs `rasa data validate` or another multi-second command")


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` unless a test is parametrized with ``on_both_backends``."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Sign-in delays of a tenth of a second to 1.6 s (not 1 s to 5 min), so a test can sit one out."""
    delays = {"login_delay_first": FIRST_LOGIN_DELAY, "login_delay_cap": LOGIN_DELAY_CAP}
    if backend == "sqlite":
        return Settings(case_db=tmp_path / "cases.db", tracker_db=tmp_path / "tracker.db", **delays)
    # Looked up here, so that only PostgreSQL tests start the server (or skip without one).
    # Rasa's `events` table shares the fresh database: one database per test keeps
    # the shared server's work down, and no table names collide.
    url = request.getfixturevalue("postgres_url")
    return Settings(case_db=url, tracker_db=url, **delays)


@pytest.fixture
def store(settings: Settings) -> Iterator[ConsoleStore]:
    console_store = ConsoleStore(settings.case_db)
    yield console_store
    console_store.close()


@pytest.fixture
def tracker(settings: Settings) -> Iterator[TrackerReader]:
    reader = TrackerReader(settings.tracker_db)
    yield reader
    reader.close()


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
        app.ctx.store.close()
        app.ctx.tracker.close()


@pytest.fixture
def page() -> Iterator[object]:
    """A page in a fresh headless Chromium, for the browser tests."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()
