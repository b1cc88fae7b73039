"""Staff accounts, sessions and login throttling, in the case store's database
(failed sign-ins in Redis instead when ``REDIS_URL`` is set, see ``bot/shared_state.py``).

Passwords are hashed with scrypt (memory-hard, in the standard library).
A session is a random token in a cookie; the database keeps only its SHA-256,
with the session's CSRF token beside it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import redis

from bot import shared_state
from bot.clock import now
from bot.console.database import Database
from bot.console.settings import Settings
from bot.shared_state import RedisLoginThrottle

logger = logging.getLogger(__name__)

# 16 MiB of memory per hash (128 * r * n bytes), about 50 ms on one core.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 8
USERNAME_PATTERN = re.compile(r"^[\w.-]{1,32}$")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# Checked against when the username does not exist, so both cases take as long.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class StaffSession:
    token: str
    username: str
    csrf_token: str
    expires_at: datetime

    def csrf_ok(self, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(submitted.encode(), self.csrf_token.encode())


class LoginThrottled(Exception):
    pass


class LoginThrottle(Protocol):
    """Counts failed sign-ins per user and per IP: in the database, or in Redis for replicas."""

    def is_throttled(self, username: str, ip: str) -> bool: ...

    def record(self, username: str, ip: str, succeeded: bool) -> None: ...


class DatabaseLoginThrottle:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings

    def record(self, username: str, ip: str, succeeded: bool) -> None:
        self._db.insert(
            "login_attempts",
            {"at": now().isoformat(), "username": username.casefold(), "ip": ip, "succeeded": int(succeeded)},
        )

    def is_throttled(self, username: str, ip: str) -> bool:
        """Too many failures in the window from this IP, or for this user since their last success."""
        since = (now() - self._settings.failed_login_window).isoformat()
        by_user = self._db.execute(
            "SELECT count(*) FROM login_attempts WHERE username = ? AND at >= ? AND succeeded = 0 "
            "AND at > coalesce("
            "(SELECT max(at) FROM login_attempts WHERE username = ? AND succeeded = 1), '')",
            [username.casefold(), since, username.casefold()],
        ).fetchone()[0]
        by_ip = self._db.execute(
            "SELECT count(*) FROM login_attempts WHERE ip = ? AND at >= ? AND succeeded = 0", [ip, since]
        ).fetchone()[0]
        return max(by_user, by_ip) >= self._settings.max_failed_logins


def login_throttle(db: Database, settings: Settings) -> LoginThrottle:
    """In Redis when ``REDIS_URL`` is set, so console replicas agree; else in the database."""
    url = shared_state.redis_url_from_env()
    if url is None:
        return DatabaseLoginThrottle(db, settings)
    return RedisLoginThrottle(
        shared_state.sync_client(url), settings.max_failed_logins, settings.failed_login_window
    )


class StaffAuth:
    def __init__(self, db: Database, settings: Settings, throttle: LoginThrottle | None = None) -> None:
        self._db = db
        self._settings = settings
        self._throttle = throttle or login_throttle(db, settings)

    def add_user(self, username: str, password: str) -> None:
        if not USERNAME_PATTERN.match(username):
            raise AccountError("username: 1–32 letters, digits, '.', '_' or '-'")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        if self._db.execute("SELECT 1 FROM staff_users WHERE username = ?", [username]).fetchone():
            raise AccountError(f"user {username} already exists")
        self._db.insert(
            "staff_users",
            {"username": username, "password_hash": hash_password(password), "created_at": now().isoformat()},
        )

    def usernames(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT username FROM staff_users ORDER BY username")]

    def login(self, username: str, password: str, ip: str) -> StaffSession | None:
        """A new session, or None for a wrong name or password.

        Raises ``LoginThrottled``, without checking the password, after too many failures.
        """
        if self.is_throttled(username, ip):
            raise LoginThrottled(username)
        row = self._db.execute(
            "SELECT password_hash FROM staff_users WHERE username = ?", [username]
        ).fetchone()
        valid = verify_password(password, row[0] if row else _DUMMY_HASH) and row is not None
        try:
            self._throttle.record(username, ip, valid)
        except redis.RedisError as error:  # the attempt is decided; only its count is lost
            logger.error("Could not record a sign-in attempt in Redis: %s", type(error).__name__)
        if not valid:
            return None
        current = now()
        self._db.execute("DELETE FROM staff_sessions WHERE expires_at < ?", [current.isoformat()])
        session = StaffSession(
            token=secrets.token_urlsafe(32),
            username=username,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=current + self._settings.session_lifetime,
        )
        self._db.insert(
            "staff_sessions",
            {
                "id": _token_id(session.token),
                "username": username,
                "csrf_token": session.csrf_token,
                "created_at": current.isoformat(),
                "expires_at": session.expires_at.isoformat(),
            },
        )
        return session

    def is_throttled(self, username: str, ip: str) -> bool:
        try:
            return self._throttle.is_throttled(username, ip)
        except redis.RedisError as error:
            # Failing closed: an outage of the shared counters must not open the sign-in
            # form to unlimited guessing. Staff see "try again later" until Redis is back.
            logger.error("Login throttle unavailable (Redis), refusing sign-ins: %s", type(error).__name__)
            return True

    def session(self, token: str | None) -> StaffSession | None:
        if not token:
            return None
        row = self._db.execute(
            "SELECT username, csrf_token, expires_at FROM staff_sessions WHERE id = ?", [_token_id(token)]
        ).fetchone()
        if row is None:
            return None
        expires_at = datetime.fromisoformat(row[2])
        if expires_at <= now():
            return None
        return StaffSession(token, row[0], row[1], expires_at)

    def logout(self, token: str) -> None:
        self._db.execute("DELETE FROM staff_sessions WHERE id = ?", [_token_id(token)])
