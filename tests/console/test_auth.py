"""Staff accounts: scrypt hashes, roles, sessions stored as hashes that end when they should,
and sign-in delays that grow with failures instead of locking anyone out.

The delays are checked on the console's own settings (a second, doubling up to
five minutes) with a clock the test moves, so nothing here sleeps.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from clocks import ManualClock
from console_support import PASSWORD, on_both_backends
from database_dumps import load_dump

from bot.console.auth import (
    AccountDisabled,
    AccountError,
    LoginThrottled,
    StaffAuth,
    hash_password,
    verify_password,
)
from bot.console.settings import Settings
from bot.console.store import ConsoleStore


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def auth(store: ConsoleStore, settings: Settings, clock: ManualClock) -> StaffAuth:
    """On the console's real delays (the other console tests shorten them)."""
    defaults = Settings(case_db=settings.case_db, tracker_db=settings.tracker_db)
    accounts = StaffAuth(store.db, defaults, clock=clock)
    accounts.add_user("alice", PASSWORD, role="admin", by="test")
    return accounts


def seconds(*values: float) -> list[timedelta]:
    return [timedelta(seconds=value) for value in values]


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert first.startswith("scrypt$16384$8$1$") and first != second
    assert verify_password("s3cret-pass", first) and not verify_password("s3cret-Pass", first)
    assert not verify_password("s3cret-pass", "md5$abc") and not verify_password("x", "garbage")


@on_both_backends
def test_accounts_need_a_plain_name_a_long_password_a_role_and_no_twin(
    auth: StaffAuth, store: ConsoleStore
) -> None:
    for name, password, role in (
        ("alice", PASSWORD, "agent"),
        ("bob", "short", "agent"),
        ("bob", "x" * 1025, "agent"),
        ("bob smith<", PASSWORD, "agent"),
        ("bob\n", PASSWORD, "agent"),
        ("bob", PASSWORD, "root"),
    ):
        with pytest.raises(AccountError):
            auth.add_user(name, password, role=role, by="test")
    auth.add_user("王小明", PASSWORD, by="test")
    assert [(user.username, user.role, user.disabled) for user in auth.users()] == [
        ("alice", "admin", False),
        ("王小明", "agent", False),  # new accounts are agents unless made admins
    ]
    stored = store.db.execute("SELECT password_hash FROM staff_users WHERE username = 'alice'").fetchone()[0]
    assert PASSWORD not in stored
    assert [(entry.username, entry.action, entry.detail) for entry in store.audit_log()] == [
        ("test", "user_added", {"username": "王小明", "role": "agent"}),
        ("test", "user_added", {"username": "alice", "role": "admin"}),
    ]


@on_both_backends
def test_a_session_is_found_by_its_token_and_stored_only_as_a_hash(
    auth: StaffAuth, store: ConsoleStore
) -> None:
    session = auth.login("alice", PASSWORD, "10.0.0.1")
    assert session is not None and auth.session(session.token) == session and session.is_admin
    stored = store.db.execute("SELECT id, csrf_token FROM staff_sessions").fetchone()
    assert stored[0] != session.token and len(stored[0]) == 64 and stored[1] == session.csrf_token
    assert session.csrf_ok(session.csrf_token) and not session.csrf_ok("x") and not session.csrf_ok(None)
    assert auth.session("made-up") is None and auth.session(None) is None
    auth.logout(session.token)
    assert auth.session(session.token) is None


@on_both_backends
def test_sessions_end_after_their_lifetime_even_when_busy(auth: StaffAuth, clock: ManualClock) -> None:
    session = auth.login("alice", PASSWORD, "10.0.0.1")
    for _ in range(12 * 4 - 1):  # a request every quarter of an hour, for 12 hours
        clock.advance(timedelta(minutes=15))
        assert auth.session(session.token) is not None
    clock.advance(timedelta(minutes=15))
    assert auth.session(session.token) is None


@on_both_backends
def test_sessions_end_after_30_idle_minutes(auth: StaffAuth, clock: ManualClock, store: ConsoleStore) -> None:
    session = auth.login("alice", PASSWORD, "10.0.0.1")
    clock.advance(timedelta(minutes=29))
    assert auth.session(session.token) is not None  # and counts as activity
    clock.advance(timedelta(minutes=29))
    assert auth.session(session.token) is not None
    clock.advance(timedelta(minutes=30))
    assert auth.session(session.token) is None
    assert store.db.execute("SELECT count(*) FROM staff_sessions").fetchone()[0] == 0
    assert auth.login("alice", PASSWORD, "10.0.0.1") is not None  # signing in again is all it takes


def test_the_idle_timeout_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSOLE_IDLE_MINUTES", raising=False)
    assert Settings.from_env().session_idle_timeout == timedelta(minutes=30)
    monkeypatch.setenv("CONSOLE_IDLE_MINUTES", "10")
    assert Settings.from_env().session_idle_timeout == timedelta(minutes=10)
    for bad in ("0", "-5", "１０", "10m", "99999"):
        monkeypatch.setenv("CONSOLE_IDLE_MINUTES", bad)
        with pytest.raises(ValueError, match="CONSOLE_IDLE_MINUTES"):
            Settings.from_env()


@on_both_backends
def test_each_failure_doubles_the_names_wait_up_to_the_cap_and_the_right_password_then_works(
    auth: StaffAuth, clock: ManualClock
) -> None:
    waits = []
    for attempt in range(11):
        # A new address each time: what holds the next attempt back is the name's wait.
        assert auth.login("alice", "wrong", f"10.0.0.{attempt}") is None
        waits.append(auth.retry_after("alice", "10.9.9.9"))
        with pytest.raises(LoginThrottled) as throttled:
            auth.login("ALICE", PASSWORD, "10.9.9.9")  # the right password is not even checked yet
        assert throttled.value.retry_after == waits[-1]
        clock.advance(waits[-1] - timedelta(milliseconds=1))
        with pytest.raises(LoginThrottled):
            auth.login("alice", PASSWORD, "10.9.9.9")
        clock.advance(timedelta(milliseconds=1))
    assert waits == seconds(1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300)
    assert auth.login("alice", PASSWORD, "10.9.9.9") is not None
    assert auth.retry_after("alice", "10.0.1.1") == timedelta(0)  # a success clears the name's count
    assert auth.login("bob", "wrong", "10.0.1.1") is None  # another name never waited


@on_both_backends
def test_an_address_waits_for_its_own_failures_and_others_do_not(auth: StaffAuth, clock: ManualClock) -> None:
    for name in ("a", "b", "c", "d"):
        auth.login(name, "wrong", "10.9.9.9")
        clock.advance(auth.retry_after(name, "10.9.9.9"))
    auth.login("e", "wrong", "10.9.9.9")
    assert auth.retry_after("alice", "10.9.9.9") == timedelta(seconds=16)
    with pytest.raises(LoginThrottled):
        auth.login("alice", PASSWORD, "10.9.9.9")
    assert auth.login("alice", PASSWORD, "10.9.9.10") is not None  # another address: no wait
    clock.advance(timedelta(seconds=16))
    assert auth.login("alice", PASSWORD, "10.9.9.9") is not None  # a pause, never a lockout
    # A success does not clear the address's count, so it cannot be used to reset it.
    auth.login("f", "wrong", "10.9.9.9")
    assert auth.retry_after("g", "10.9.9.9") == timedelta(seconds=32)


@on_both_backends
def test_failures_older_than_the_window_are_forgotten(auth: StaffAuth, clock: ManualClock) -> None:
    for _ in range(8):
        auth.login("alice", "wrong", "10.0.0.1")
        clock.advance(auth.retry_after("alice", "10.0.0.1"))
    auth.login("alice", "wrong", "10.0.0.1")
    assert auth.retry_after("alice", "10.0.0.2") == timedelta(seconds=256)
    clock.advance(timedelta(hours=1, seconds=1))
    assert auth.retry_after("alice", "10.0.0.1") == timedelta(0)
    auth.login("alice", "wrong", "10.0.0.1")
    assert auth.retry_after("alice", "10.0.0.1") == timedelta(seconds=1)


@on_both_backends
def test_hostile_names_and_passwords_are_wrong_not_errors(
    auth: StaffAuth, store: ConsoleStore, clock: ManualClock
) -> None:
    for name in ("alice\x00", "x" * 10_000, "' OR 1=1 --", "", "alice\n"):
        assert auth.login(name, PASSWORD, "10.1.0.1") is None
        clock.advance(timedelta(minutes=5))  # the longest wait
    assert auth.login("alice", PASSWORD + "x" * 2000, "10.2.0.1") is None
    names = {row[0] for row in store.db.execute("SELECT DISTINCT username FROM login_attempts")}
    assert names == {"", "alice"}  # names that cannot exist share one key and never reach the table


@on_both_backends
def test_a_disabled_user_cannot_sign_in_and_their_sessions_stop_at_once(
    auth: StaffAuth, store: ConsoleStore, clock: ManualClock
) -> None:
    auth.add_user("bob", PASSWORD, by="test")
    first, second = auth.login("bob", PASSWORD, "10.0.0.1"), auth.login("bob", PASSWORD, "10.0.0.2")
    assert auth.set_disabled("bob", True, by="alice")
    assert auth.session(first.token) is None and auth.session(second.token) is None
    with pytest.raises(AccountDisabled):
        auth.login("bob", PASSWORD, "10.0.0.3")
    clock.advance(timedelta(seconds=1))  # a disabled account's right password counted as a failure
    assert auth.login("bob", "wrong", "10.0.0.4") is None
    assert not auth.set_disabled("bob", True, by="alice")  # already disabled: nothing changes
    clock.advance(timedelta(seconds=2))
    assert auth.set_disabled("bob", False, by="alice")
    assert auth.login("bob", PASSWORD, "10.0.0.5") is not None
    assert [(entry.username, entry.action, entry.detail) for entry in store.audit_log()[:2]] == [
        ("alice", "user_enabled", {"username": "bob"}),
        ("alice", "user_disabled", {"username": "bob", "sessions": 2}),
    ]


@on_both_backends
def test_a_new_password_or_revoking_ends_the_users_sessions(
    auth: StaffAuth, store: ConsoleStore, clock: ManualClock
) -> None:
    old = auth.login("alice", PASSWORD, "10.0.0.1")
    assert auth.set_password("alice", "a new long password", by="cli:root") == 1
    assert auth.session(old.token) is None
    assert auth.login("alice", PASSWORD, "10.0.0.1") is None
    clock.advance(timedelta(seconds=1))
    with pytest.raises(AccountError):
        auth.set_password("alice", "short", by="cli:root")
    with pytest.raises(AccountError):
        auth.set_password("nobody", "a new long password", by="cli:root")
    sessions = [auth.login("alice", "a new long password", f"10.0.0.{number}") for number in (2, 3)]
    assert auth.users()[0].sessions == 2
    assert auth.revoke_sessions("alice", by="cli:root") == 2
    assert all(auth.session(session.token) is None for session in sessions)
    assert [(entry.action, entry.detail) for entry in store.audit_log()[:2]] == [
        ("sessions_revoked", {"username": "alice", "sessions": 2}),
        ("password_changed", {"username": "alice", "sessions": 1}),
    ]


@on_both_backends
def test_roles_change_at_once_and_someone_stays_admin(auth: StaffAuth, store: ConsoleStore) -> None:
    auth.add_user("bob", PASSWORD, by="test")
    session = auth.login("bob", PASSWORD, "10.0.0.1")
    assert not session.is_admin
    assert auth.set_role("bob", "admin", by="alice")
    assert auth.session(session.token).is_admin  # the open session, with its new role
    assert not auth.set_role("bob", "admin", by="alice")
    assert auth.set_role("alice", "agent", by="bob")
    for change in (
        lambda: auth.set_role("bob", "agent", by="bob"),
        lambda: auth.set_disabled("bob", True, by="bob"),
        lambda: auth.set_role("bob", "owner", by="bob"),
        lambda: auth.set_role("nobody", "admin", by="bob"),
    ):
        with pytest.raises(AccountError):
            change()
    assert auth.set_disabled("alice", True, by="bob")  # an agent may go; the last admin may not
    assert store.audit_log()[1].detail == {"username": "alice", "from": "admin", "to": "agent"}


@on_both_backends
def test_accounts_made_before_roles_become_admins(settings: Settings) -> None:
    load_dump("early", settings.case_db)  # an account "old", made before roles existed
    after = ConsoleStore(settings.case_db)
    auth = StaffAuth(after.db, settings)
    auth.add_user("new", PASSWORD, by="test")
    assert [(user.username, user.role, user.disabled) for user in auth.users()] == [
        ("new", "agent", False),
        ("old", "admin", False),
    ]
    assert auth.login("old", PASSWORD, "10.0.0.1").is_admin
    after.close()
