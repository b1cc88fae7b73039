"""Staff accounts, roles, sessions and sign-in delays, in the case store's database
(failed sign-ins in Redis instead when ``REDIS_URL`` is set, see ``bot/storage/redis_state.py``).

Passwords are hashed with scrypt (memory-hard, in the standard library).
A session is a random token in a cookie; the database keeps only its SHA-256,
with the session's CSRF token beside it. A session ends at its absolute
lifetime, after an idle spell, when its user signs out, is disabled, changes
password or has their sessions revoked.

An ``agent`` works cases; an ``admin`` also exports data and manages staff.
Every change to an account is in the audit log, written with the change.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis

from bot.console.settings import Settings
from bot.console.store import write_audit
from bot.domain.clock import now
from bot.storage import redis_state
from bot.storage.database import Database
from bot.storage.redis_state import RecentFailures, RedisLoginThrottle

logger = logging.getLogger(__name__)

# 16 MiB of memory per hash (128 * r * n bytes), about 50 ms on one core.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 8
# Longer ones are refused unhashed: scrypt reads the whole password first.
MAX_PASSWORD_LENGTH = 1024
USERNAME_PATTERN = re.compile(r"[\w.-]{1,32}")
STAFF_ROLES = ("agent", "admin")
# A session's last request is written at most this often: staff move between
# pages many times a minute, and on SQLite each write queues behind the bot's.
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)


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
    """``code`` names the problem for the web page's wording; the message is the command line's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class AccountDisabled(Exception):
    """The right password for a disabled account."""


class LoginThrottled(Exception):
    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class StaffSession:
    token: str
    username: str
    role: str
    csrf_token: str
    expires_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def csrf_ok(self, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(submitted.encode(), self.csrf_token.encode())


@dataclass(frozen=True)
class StaffUser:
    username: str
    role: str
    disabled: bool
    created_at: datetime
    sessions: int  # live ones
    last_seen: datetime | None


class LoginThrottle(Protocol):
    """Remembers failed sign-ins per user and per IP: in the database, or in Redis for replicas."""

    def failures(self, username: str, ip: str, since: datetime) -> tuple[RecentFailures, RecentFailures]:
        """For the user (since their last success) and for the IP, from ``since`` on."""

    def record(self, username: str, ip: str, succeeded: bool, at: datetime) -> None: ...


class DatabaseLoginThrottle:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings

    def record(self, username: str, ip: str, succeeded: bool, at: datetime) -> None:
        forgotten = (at - self._settings.failed_login_window).isoformat()
        with self._db.transaction() as db:
            db.insert(
                "login_attempts",
                {"at": at.isoformat(), "username": username, "ip": ip, "succeeded": int(succeeded)},
            )
            # Attempts older than the window count for nothing; keep the table that small.
            db.execute("DELETE FROM login_attempts WHERE username = ? AND at < ?", [username, forgotten])
            db.execute("DELETE FROM login_attempts WHERE ip = ? AND at < ?", [ip, forgotten])

    def failures(self, username: str, ip: str, since: datetime) -> tuple[RecentFailures, RecentFailures]:
        by_user = self._db.execute(
            "SELECT count(*), max(at) FROM login_attempts WHERE username = ? AND at >= ? AND succeeded = 0 "
            "AND at > coalesce("
            "(SELECT max(at) FROM login_attempts WHERE username = ? AND succeeded = 1), '')",
            [username, since.isoformat(), username],
        ).fetchone()
        by_ip = self._db.execute(
            "SELECT count(*), max(at) FROM login_attempts WHERE ip = ? AND at >= ? AND succeeded = 0",
            [ip, since.isoformat()],
        ).fetchone()
        return _recent(*by_user), _recent(*by_ip)


def _recent(count: int, last: str | None) -> RecentFailures:
    return RecentFailures(count, datetime.fromisoformat(last) if last else None)


def login_throttle(db: Database, settings: Settings) -> LoginThrottle:
    """In Redis when ``REDIS_URL`` is set, so console replicas agree; else in the database."""
    url = redis_state.redis_url_from_env()
    if url is None:
        return DatabaseLoginThrottle(db, settings)
    return RedisLoginThrottle(redis_state.sync_client(url), settings.failed_login_window)


class StaffAuth:
    """``clock`` is the project's by default; tests pass their own to step over the delays."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        throttle: LoginThrottle | None = None,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self._db = db
        self._settings = settings
        self._throttle = throttle or login_throttle(db, settings)
        self._clock = clock

    # Signing in

    def login(self, username: str, password: str, ip: str) -> StaffSession | None:
        """A new session, or None for a wrong name or password.

        Raises ``LoginThrottled``, without checking the password, while the
        delay after recent failures (for this name or this IP) runs, and
        ``AccountDisabled`` for the right password of a disabled account.
        """
        # Names that cannot exist share one key, and never reach the database's text columns.
        key = username.casefold() if USERNAME_PATTERN.fullmatch(username) else ""
        current = self._clock()
        wait = self.retry_after(key, ip)
        if wait > timedelta(0):
            raise LoginThrottled(wait)
        row = (
            self._db.execute(
                "SELECT password_hash, role, disabled_at FROM staff_users WHERE username = ?", [username]
            ).fetchone()
            if key
            else None
        )
        too_long = len(password) > MAX_PASSWORD_LENGTH
        valid = (
            verify_password("" if too_long else password, row[0] if row else _DUMMY_HASH)
            and row is not None
            and not too_long
        )
        enabled = valid and row[2] is None
        try:
            # A disabled account's right password counts as a failure: it signs nobody in.
            self._throttle.record(key, ip, enabled, current)
        except redis.RedisError as error:  # the attempt is decided; only its count is lost
            logger.error("Could not record a sign-in attempt in Redis: %s", type(error).__name__)
        if valid and not enabled:
            raise AccountDisabled(username)
        if not enabled:
            return None
        return self._new_session(username, row[1], current)

    def retry_after(self, username: str, ip: str) -> timedelta:
        """How long until the next attempt for this name from this IP may be checked (zero: now).

        Each failure in the window doubles the wait after the last one, from
        ``login_delay_first`` up to ``login_delay_cap``; the name's and the
        IP's waits are counted apart, and the longer one holds.
        """
        current = self._clock()
        settings = self._settings
        try:
            recent = self._throttle.failures(username, ip, current - settings.failed_login_window)
        except redis.RedisError as error:
            # Failing closed: an outage of the shared counters must not open the sign-in
            # form to unlimited guessing. Staff are asked to wait until Redis is back.
            logger.error("Login throttle unavailable (Redis), refusing sign-ins: %s", type(error).__name__)
            return settings.login_delay_first
        waits = [
            failures.last + self._delay_after(failures.count) - current
            for failures in recent
            if failures.count and failures.last is not None
        ]
        return max([timedelta(0), *waits])

    def _delay_after(self, failures: int) -> timedelta:
        doubled = self._settings.login_delay_first * 2 ** min(failures - 1, 32)
        return min(doubled, self._settings.login_delay_cap)

    def _new_session(self, username: str, role: str, current: datetime) -> StaffSession:
        self._db.execute(
            "DELETE FROM staff_sessions WHERE expires_at < ? OR last_seen_at < ?",
            [current.isoformat(), (current - self._settings.session_idle_timeout).isoformat()],
        )
        session = StaffSession(
            token=secrets.token_urlsafe(32),
            username=username,
            role=role,
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
                "last_seen_at": current.isoformat(),
            },
        )
        return session

    def session(self, token: str | None) -> StaffSession | None:
        """The live session of an enabled user; every call counts as activity."""
        if not token:
            return None
        token_id = _token_id(token)
        row = self._db.execute(
            "SELECT s.username, u.role, s.csrf_token, s.expires_at, s.last_seen_at FROM staff_sessions s "
            "JOIN staff_users u ON u.username = s.username WHERE s.id = ? AND u.disabled_at IS NULL",
            [token_id],
        ).fetchone()
        if row is None:
            return None
        username, role, csrf_token = row[0], row[1], row[2]
        expires_at, last_seen = datetime.fromisoformat(row[3]), datetime.fromisoformat(row[4])
        current = self._clock()
        if expires_at <= current or last_seen + self._settings.session_idle_timeout <= current:
            self._db.execute("DELETE FROM staff_sessions WHERE id = ?", [token_id])
            return None
        if current - last_seen >= SESSION_TOUCH_INTERVAL:
            self._db.execute(
                "UPDATE staff_sessions SET last_seen_at = ? WHERE id = ?", [current.isoformat(), token_id]
            )
        return StaffSession(token, username, role, csrf_token, expires_at)

    def logout(self, token: str) -> None:
        self._db.execute("DELETE FROM staff_sessions WHERE id = ?", [_token_id(token)])

    # Accounts

    def add_user(self, username: str, password: str, *, role: str = "agent", by: str) -> None:
        if not USERNAME_PATTERN.fullmatch(username):
            raise AccountError("bad_username", "username: 1–32 letters, digits, '.', '_' or '-'")
        _check_password(password)
        _check_role(role)
        with self._db.transaction() as db:
            if db.execute("SELECT 1 FROM staff_users WHERE username = ?", [username]).fetchone():
                raise AccountError("user_exists", f"user {username} already exists")
            db.insert(
                "staff_users",
                {
                    "username": username,
                    "password_hash": hash_password(password),
                    "role": role,
                    "created_at": self._clock().isoformat(),
                },
            )
            write_audit(db, by, "user_added", detail={"username": username, "role": role})

    def users(self) -> list[StaffUser]:
        current = self._clock()
        rows = self._db.query(
            "SELECT u.username, u.role, u.disabled_at, u.created_at, count(s.id) AS sessions, "
            "max(s.last_seen_at) AS last_seen FROM staff_users u LEFT JOIN staff_sessions s "
            "ON s.username = u.username AND s.expires_at > ? AND s.last_seen_at > ? "
            "GROUP BY u.username, u.role, u.disabled_at, u.created_at ORDER BY u.username",
            [current.isoformat(), (current - self._settings.session_idle_timeout).isoformat()],
        )
        return [
            StaffUser(
                username=row["username"],
                role=row["role"],
                disabled=row["disabled_at"] is not None,
                created_at=datetime.fromisoformat(row["created_at"]),
                sessions=row["sessions"],
                last_seen=datetime.fromisoformat(row["last_seen"]) if row["last_seen"] else None,
            )
            for row in rows
        ]

    def set_disabled(self, username: str, disabled: bool, *, by: str) -> bool:
        """Disable (ending every session at once) or enable an account; False if it already was."""
        with self._db.transaction() as db:
            user = self._user(db, username)
            if (user["disabled_at"] is not None) == disabled:
                return False
            if disabled:
                self._keep_an_admin(db, username)
            db.execute(
                "UPDATE staff_users SET disabled_at = ? WHERE username = ?",
                [self._clock().isoformat() if disabled else None, username],
            )
            detail: dict[str, Any] = {"username": username}
            if disabled:
                detail["sessions"] = _end_sessions(db, username)
            write_audit(db, by, "user_disabled" if disabled else "user_enabled", detail=detail)
        return True

    def set_password(self, username: str, password: str, *, by: str) -> int:
        """A new password; ends the user's sessions and returns how many there were."""
        _check_password(password)
        with self._db.transaction() as db:
            self._user(db, username)
            db.execute(
                "UPDATE staff_users SET password_hash = ? WHERE username = ?",
                [hash_password(password), username],
            )
            ended = _end_sessions(db, username)
            write_audit(db, by, "password_changed", detail={"username": username, "sessions": ended})
        return ended

    def set_role(self, username: str, role: str, *, by: str) -> bool:
        """False if the user already had that role. Sessions keep going, with the new role."""
        _check_role(role)
        with self._db.transaction() as db:
            before = self._user(db, username)["role"]
            if before == role:
                return False
            if role != "admin":
                self._keep_an_admin(db, username)
            db.execute("UPDATE staff_users SET role = ? WHERE username = ?", [role, username])
            write_audit(db, by, "role_changed", detail={"username": username, "from": before, "to": role})
        return True

    def revoke_sessions(self, username: str, *, by: str) -> int:
        """Ends every session of the user; returns how many there were."""
        with self._db.transaction() as db:
            self._user(db, username)
            ended = _end_sessions(db, username)
            write_audit(db, by, "sessions_revoked", detail={"username": username, "sessions": ended})
        return ended

    @staticmethod
    def _user(db: Database, username: str) -> dict[str, Any]:
        row = next(db.query("SELECT * FROM staff_users WHERE username = ?", [username]), None)
        if row is None:
            raise AccountError("no_user", f"no user {username}")
        return row

    @staticmethod
    def _keep_an_admin(db: Database, username: str) -> None:
        """Someone must still be able to manage staff from the web console."""
        others = db.execute(
            "SELECT count(*) FROM staff_users WHERE role = 'admin' AND disabled_at IS NULL AND username <> ?",
            [username],
        ).fetchone()[0]
        if not others and StaffAuth._user(db, username)["role"] == "admin":
            raise AccountError(
                "last_admin", f"{username} is the last enabled admin; make another admin first"
            )


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(
            "bad_password", f"password: {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )


def _check_role(role: str) -> None:
    if role not in STAFF_ROLES:
        raise AccountError("bad_role", f"role: one of {', '.join(STAFF_ROLES)}")


def _end_sessions(db: Database, username: str) -> int:
    return db.execute("DELETE FROM staff_sessions WHERE username = ?", [username]).rowcount
