"""Helpers for the console tests: seeded data, a signed-in HTTP session, the app in a thread.

Kept out of ``conftest.py`` so that test modules can import them by a name no
other conftest shares.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
import requests
from sanic import Sanic
from tracker_events import entity, reply, session, user, write_events

from bot.console.auth import StaffAuth
from bot.console.settings import Settings
from bot.console.store import ConsoleStore
from bot.domain.cases import Case, Facts
from bot.domain.clock import CHINA

PASSWORD = "correct horse battery"
# The tests' sign-in delays (the console's are a second, doubling up to five minutes): short
# enough to sit out, and a last one long enough that two requests surely fall inside it.
FIRST_LOGIN_DELAY = timedelta(milliseconds=250)  # long enough to outlast a stall of a loaded machine
LOGIN_DELAY_CAP = 16 * FIRST_LOGIN_DELAY
MIS_SWIPE_TEXT = "我在华联超市刷卡被重复扣款了3000元"

# Runs a test on SQLite files and on PostgreSQL databases (the `backend` fixture in conftest.py).
on_both_backends = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail under CI, where nothing may skip silently."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def database_url(location: Path | str) -> str:
    """The URL that names a Settings location in CASE_STORE_URL or TRACKER_DB_URL."""
    return location if isinstance(location, str) else f"sqlite:///{location}"


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), CHINA)


def open_mis_swipe(
    store: ConsoleStore, settings: Settings, sender_id: str = "alice-phone"
) -> tuple[Case, list[int]]:
    """A mis-swipe case with its conversation: a good turn, a fallback and a low-confidence one."""
    case = store.cases.open_case(
        sender_id,
        "rest",
        "misswipe",
        Facts(
            bank="中国工商银行",
            amount=3000.0,
            merchant="华联超市",
            card_last4="1234",
            txn_date=date(2026, 11, 24),
        ),
    )
    unsure = "那个钱啥时候回来"
    user_ids = write_events(
        settings.tracker_db,
        sender_id,
        [
            *session(),
            user(
                MIS_SWIPE_TEXT,
                "report_misswipe",
                0.97,
                [
                    entity(MIS_SWIPE_TEXT, "merchant", "华联超市"),
                    entity(MIS_SWIPE_TEXT, "amount", "3000元", 3000, "x"),
                ],
            ),
            reply("utter_ask_bank", "请问是哪家银行的卡？", buttons=["工商银行", "建设银行"]),
            user("asdfgh", "nlu_fallback", 0.4, ranking=[("inform", 0.31)]),
            reply("utter_default", "抱歉，我没听懂。"),
            user(unsure, "ask_refund_time", 0.42),
            reply("action_answer_question", "退款一般5个工作日内到账。"),
        ],
        at(date(2026, 11, 25), 9),
    )
    return case, user_ids


def add_user(store: ConsoleStore, settings: Settings, username: str, role: str = "admin") -> StaffAuth:
    auth = StaffAuth(store.db, settings)
    if username not in {user.username for user in auth.users()}:
        auth.add_user(username, PASSWORD, role=role, by="test")
    return auth


@dataclass
class Console:
    base_url: str
    settings: Settings
    store: ConsoleStore
    app: Sanic

    def session(self) -> ConsoleSession:
        return ConsoleSession(self.base_url)

    def signed_in(self, username: str = "alice", role: str = "admin") -> ConsoleSession:
        """A browser signed in as ``username``, created with ``role`` if new."""
        add_user(self.store, self.settings, username, role)
        browser = self.session()
        response = browser.login(username, PASSWORD)
        assert response.status_code == 200 and response.url.endswith("/"), response.text[:500]
        return browser


class ConsoleSession(requests.Session):
    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str, url: str, *args: object, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return super().request(method, self.base_url + url, *args, **kwargs)

    def login(
        self, username: str, password: str, next_path: str = "", headers: dict[str, str] | None = None
    ) -> requests.Response:
        form = self.get("/login" + (f"?next={next_path}" if next_path else ""), headers=headers)
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)[1]
        data = {"login_token": token, "username": username, "password": password}
        if next_path:
            data["next"] = next_path
        return self.post("/login", data=data, headers=headers)

    def csrf_token(self) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.get("/").text)[1]

    def submit(self, path: str, data: dict[str, str] | None = None, **kwargs: object) -> requests.Response:
        """POST a form the way the page does, with the session's CSRF token."""
        return self.post(path, data={"csrf_token": self.csrf_token(), **(data or {})}, **kwargs)
