"""Staff accounts: scrypt hashes, sessions stored as hashes, throttled failures."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from console_support import PASSWORD, on_both_backends

from bot.console.auth import AccountError, LoginThrottled, StaffAuth, hash_password, verify_password
from bot.console.settings import Settings
from bot.console.store import ConsoleStore


@pytest.fixture
def auth(store: ConsoleStore, settings: Settings) -> StaffAuth:
    accounts = StaffAuth(store.db, settings)
    accounts.add_user("alice", PASSWORD)
    return accounts


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert first.startswith("scrypt$16384$8$1$") and first != second
    assert verify_password("s3cret-pass", first) and not verify_password("s3cret-Pass", first)
    assert not verify_password("s3cret-pass", "md5$abc") and not verify_password("x", "garbage")


@on_both_backends
def test_accounts_need_a_plain_name_a_long_password_and_no_twin(auth: StaffAuth, store: ConsoleStore) -> None:
    with pytest.raises(AccountError):
        auth.add_user("alice", PASSWORD)
    with pytest.raises(AccountError):
        auth.add_user("bob", "short")
    with pytest.raises(AccountError):
        auth.add_user("bob smith<", PASSWORD)
    auth.add_user("王小明", PASSWORD)
    assert auth.usernames() == ["alice", "王小明"]
    stored = store.db.execute("SELECT password_hash FROM staff_users WHERE username = 'alice'").fetchone()[0]
    assert PASSWORD not in stored


@on_both_backends
def test_a_session_is_found_by_its_token_and_stored_only_as_a_hash(
    auth: StaffAuth, store: ConsoleStore
) -> None:
    session = auth.login("alice", PASSWORD, "10.0.0.1")
    assert session is not None and auth.session(session.token) == session
    stored = store.db.execute("SELECT id, csrf_token FROM staff_sessions").fetchone()
    assert stored[0] != session.token and len(stored[0]) == 64 and stored[1] == session.csrf_token
    assert session.csrf_ok(session.csrf_token) and not session.csrf_ok("x") and not session.csrf_ok(None)
    assert auth.session("made-up") is None and auth.session(None) is None
    auth.logout(session.token)
    assert auth.session(session.token) is None


@on_both_backends
def test_sessions_expire(store: ConsoleStore, settings: Settings) -> None:
    auth = StaffAuth(store.db, replace(settings, session_lifetime=timedelta(seconds=-1)))
    auth.add_user("alice", PASSWORD)
    session = auth.login("alice", PASSWORD, "10.0.0.1")
    assert session is not None and auth.session(session.token) is None


@on_both_backends
def test_failures_are_throttled_per_username(auth: StaffAuth) -> None:
    for _ in range(5):
        assert auth.login("alice", "wrong", f"10.0.0.{_}") is None
    with pytest.raises(LoginThrottled):
        auth.login("ALICE", PASSWORD, "10.0.1.1")  # the right password does not help now
    assert auth.login("bob", "wrong", "10.0.1.1") is None  # another name is not locked out


@on_both_backends
def test_failures_are_throttled_per_ip(auth: StaffAuth) -> None:
    for name in ("a", "b", "c", "d", "e"):
        auth.login(name, "wrong", "10.9.9.9")
    with pytest.raises(LoginThrottled):
        auth.login("alice", PASSWORD, "10.9.9.9")
    assert auth.login("alice", PASSWORD, "10.9.9.10") is not None


@on_both_backends
def test_a_success_clears_the_users_count_and_old_failures_expire(
    auth: StaffAuth, store: ConsoleStore
) -> None:
    for _ in range(4):
        auth.login("alice", "wrong", f"10.0.0.{_}")
    assert auth.login("alice", PASSWORD, "10.0.0.9") is not None
    for _ in range(4):
        auth.login("alice", "wrong", f"10.0.2.{_}")
    assert not auth.is_throttled("alice", "10.0.3.1")
    auth.login("alice", "wrong", "10.0.2.9")
    assert auth.is_throttled("alice", "10.0.3.1")
    store.db.execute("UPDATE login_attempts SET at = '2000-01-01T00:00:00+08:00'")
    assert not auth.is_throttled("alice", "10.0.3.1")
