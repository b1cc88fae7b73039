"""Where the console finds its data, and how it guards sessions; read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.console import params
from bot.domain.knowledge import PROJECT_ROOT
from bot.infra.staff_bridge import DEFAULT_RASA_URL, rasa_url_from_env
from bot.storage import DEFAULT_CASE_STORE_URL
from bot.storage.database import location_from_url

DEFAULT_TRACKER_DB_URL = "sqlite:///var/tracker.db"
IDLE_MINUTES_VARIABLE = "CONSOLE_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 30
TAKEOVER_IDLE_VARIABLE = "TAKEOVER_IDLE_MINUTES"
DEFAULT_TAKEOVER_IDLE_MINUTES = 15
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@dataclass(frozen=True)
class Settings:
    # A SQLite file's path, or a postgresql:// URL.
    case_db: Path | str
    tracker_db: Path | str
    domain_path: Path = PROJECT_ROOT / "domain.yml"
    training_data: Path = PROJECT_ROOT / "data"
    # None: Secure cookies everywhere except when the console is reached as localhost.
    secure_cookies: bool | None = None
    # A session ends at whichever comes first.
    session_lifetime: timedelta = timedelta(hours=12)
    session_idle_timeout: timedelta = timedelta(minutes=DEFAULT_IDLE_MINUTES)
    # After a failed sign-in the next attempt (for that name, and from that
    # address) waits login_delay_first, doubling with each further failure in
    # the window up to login_delay_cap. Nothing locks an account.
    login_delay_first: timedelta = timedelta(seconds=1)
    login_delay_cap: timedelta = timedelta(minutes=5)
    failed_login_window: timedelta = timedelta(hours=1)
    page_size: int = 50
    # The Rasa server whose staff channel takes conversations over (bot/rasa/channels/staff.py).
    rasa_url: str = DEFAULT_RASA_URL
    # A taken-over conversation silent this long is handed back to the bot.
    takeover_idle_timeout: timedelta = timedelta(minutes=DEFAULT_TAKEOVER_IDLE_MINUTES)

    @classmethod
    def from_env(cls) -> Settings:
        secure = os.environ.get("CONSOLE_SECURE_COOKIES", "").strip().lower()
        return cls(
            case_db=location_from_url(os.environ.get("CASE_STORE_URL", DEFAULT_CASE_STORE_URL)),
            tracker_db=location_from_url(os.environ.get("TRACKER_DB_URL", DEFAULT_TRACKER_DB_URL)),
            secure_cookies={"1": True, "true": True, "0": False, "false": False}.get(secure),
            session_idle_timeout=timedelta(
                minutes=_minutes(
                    os.environ.get(IDLE_MINUTES_VARIABLE), IDLE_MINUTES_VARIABLE, DEFAULT_IDLE_MINUTES
                )
            ),
            rasa_url=rasa_url_from_env(),
            takeover_idle_timeout=timedelta(
                minutes=_minutes(
                    os.environ.get(TAKEOVER_IDLE_VARIABLE),
                    TAKEOVER_IDLE_VARIABLE,
                    DEFAULT_TAKEOVER_IDLE_MINUTES,
                )
            ),
        )

    def cookies_secure_for(self, host: str) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return _hostname(host).lower() not in LOCAL_HOSTS


def _hostname(host: str) -> str:
    """``localhost:5002`` → ``localhost``; ``[::1]:5002`` → ``[::1]``."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _minutes(text: str | None, variable: str, default: int) -> int:
    try:
        minutes = params.integer(text, variable, minimum=1, maximum=24 * 60)
    except params.BadParameter:
        raise ValueError(f"{variable}: a whole number of minutes, 1 to 1440, not {text!r}") from None
    return minutes or default
