"""Shared state in a real Redis: two clients stand for two replicas, and must agree.

The WeChat channel's use of it (two ``WeChatInput`` replicas) is tested in
``test_wechat.py``; here are the stores themselves, the console's login throttle
and the guard against card numbers split over two messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from clocks import ManualClock

from bot.console.auth import DatabaseLoginThrottle, LoginThrottled, StaffAuth, login_throttle
from bot.console.settings import Settings
from bot.console.store import ConsoleStore
from bot.domain.clock import now
from bot.domain.masking import MaskResult, SplitState
from bot.storage import redis_state
from bot.storage.redis_state import (
    RecentFailures,
    RedisLoginThrottle,
    RedisMenuStore,
    RedisNonceStore,
    RedisSplitNumberGuard,
    RedisTurnLedger,
    TurnOutcome,
)
from scripts.redis_service import RedisService

pytest_plugins = ["tests.redis_fixtures"]

PASSWORD = "correct horse battery"

Clients = tuple[redis.asyncio.Redis, redis.asyncio.Redis]


@pytest.fixture
async def two_clients(redis_url: str) -> AsyncIterator[Clients]:
    first, second = redis_state.async_client(redis_url), redis_state.async_client(redis_url)
    yield first, second
    await first.close()
    await second.close()


# --- the numbered menu ----------------------------------------------------------------------


async def test_a_menu_saved_by_one_replica_is_read_by_another(two_clients: Clients) -> None:
    here, there = (RedisMenuStore(client, ttl_seconds=60) for client in two_clients)
    await here.save("oAlice", ["/affirm", "/merchant_agreed", "工商银行"])
    assert await there.load("oAlice") == ["/affirm", "/merchant_agreed", "工商银行"]
    assert await there.load("oBob") == []
    await there.save("oAlice", [])
    assert await here.load("oAlice") == []


async def test_a_menu_expires_after_its_ttl(two_clients: Clients) -> None:
    store = RedisMenuStore(two_clients[0], ttl_seconds=0.2)
    await store.save("oAlice", ["/affirm"])
    assert await store.load("oAlice") == ["/affirm"]
    await asyncio.sleep(0.3)
    assert await store.load("oAlice") == []


async def test_without_redis_a_menu_is_forgotten_and_logged(
    unreachable_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis_state.async_client(unreachable_redis_url)
    store = RedisMenuStore(client, ttl_seconds=60)
    caplog.set_level(logging.ERROR)
    await store.save("oAlice", ["/affirm"])
    assert await store.load("oAlice") == []
    assert len([line for line in caplog.messages if "WeChat menu" in line]) == 2
    await client.close()


# --- which replica runs a turn --------------------------------------------------------------


async def test_exactly_one_of_many_concurrent_claims_wins(two_clients: Clients) -> None:
    ledgers = [RedisTurnLedger(client, ttl_seconds=60) for client in two_clients]
    claims = await asyncio.gather(*(ledgers[n % 2].claim("6000000000000000001") for n in range(10)))
    assert sorted(claims) == [False] * 9 + [True]
    assert await ledgers[0].claim("6000000000000000002")


async def test_a_claim_expires_with_its_ttl(two_clients: Clients) -> None:
    here, there = (RedisTurnLedger(client, ttl_seconds=0.2) for client in two_clients)
    assert await here.claim("m1")
    assert not await there.claim("m1")
    await asyncio.sleep(0.3)
    assert await there.claim("m1")


async def test_a_waiting_replica_gets_the_outcome_when_it_is_published(two_clients: Clients) -> None:
    owner, follower = (RedisTurnLedger(client, ttl_seconds=60) for client in two_clients)
    outcome = TurnOutcome(("收到：重复扣款",), by_customer_service=False)

    async def publish_later() -> None:
        await asyncio.sleep(0.2)
        await owner.publish("m1", outcome)

    started = time.monotonic()
    waited, _ = await asyncio.gather(follower.wait_for_outcome("m1", timeout_seconds=3), publish_later())
    assert waited == outcome  # the outcome, not the timeout's None: it did not wait the 3 s out
    assert time.monotonic() - started > 0.15
    slow = TurnOutcome(("第一段", "第二段"), by_customer_service=True)
    await owner.publish("m2", slow)
    assert await follower.wait_for_outcome("m2", timeout_seconds=0) == slow


async def test_waiting_for_an_outcome_that_never_comes_ends_with_the_timeout(two_clients: Clients) -> None:
    follower = RedisTurnLedger(two_clients[1], ttl_seconds=60)
    started = time.monotonic()
    assert await follower.wait_for_outcome("m1", timeout_seconds=0.3) is None
    assert time.monotonic() - started >= 0.3


async def test_without_redis_a_claim_raises_and_the_rest_degrade(
    unreachable_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis_state.async_client(unreachable_redis_url)
    ledger = RedisTurnLedger(client, ttl_seconds=60)
    caplog.set_level(logging.ERROR)
    with pytest.raises(redis.ConnectionError):
        await ledger.claim("m1")
    await ledger.publish("m1", TurnOutcome(("x",), by_customer_service=False))
    assert await ledger.wait_for_outcome("m1", timeout_seconds=5) is None
    assert len([line for line in caplog.messages if "turn's outcome" in line]) == 2
    await client.close()


# --- which message a (timestamp, nonce) pair carried -----------------------------------------


async def test_of_many_messages_racing_on_one_pair_every_replica_keeps_the_same_first(
    two_clients: Clients,
) -> None:
    stores = [RedisNonceStore(client) for client in two_clients]
    firsts = await asyncio.gather(
        *(stores[n % 2].remember("1700000000", "42", f"msg-{n}", ttl_seconds=60) for n in range(10))
    )
    assert len(set(firsts)) == 1 and firsts[0].startswith("msg-")
    assert await stores[1].remember("1700000000", "43", "msg-x", ttl_seconds=60) == "msg-x"


async def test_a_pair_is_forgotten_after_its_ttl_and_its_nonce_is_no_key(two_clients: Clients) -> None:
    store = RedisNonceStore(two_clients[0])
    assert await store.remember("1700000000", "nonce with spaces:*", "m1", ttl_seconds=0.2) == "m1"
    assert await store.remember("1700000000", "nonce with spaces:*", "m2", ttl_seconds=0.2) == "m1"
    keys = await two_clients[0].keys("*")
    assert len(keys) == 1 and "nonce" in keys[0] and "spaces" not in keys[0]
    await asyncio.sleep(0.3)
    assert await store.remember("1700000000", "nonce with spaces:*", "m2", ttl_seconds=60) == "m2"


async def test_without_redis_a_pair_cannot_be_checked_and_says_so(unreachable_redis_url: str) -> None:
    client = redis_state.async_client(unreachable_redis_url)
    with pytest.raises(redis.RedisError):
        await RedisNonceStore(client).remember("1700000000", "42", "m1", ttl_seconds=60)
    await client.close()


# --- console sign-ins -----------------------------------------------------------------------


def replica_auth(tmp_path: Path, name: str, url: str, clock: ManualClock) -> StaffAuth:
    """A console replica with its own database, so only Redis can make replicas agree."""
    settings = Settings(case_db=tmp_path / f"{name}.db", tracker_db=tmp_path / "tracker.db")
    throttle = RedisLoginThrottle(redis_state.sync_client(url), settings.failed_login_window)
    auth = StaffAuth(ConsoleStore(settings.case_db).db, settings, throttle, clock)
    auth.add_user("alice", PASSWORD, by="test")
    return auth


def test_failures_on_one_console_replica_delay_the_other(tmp_path: Path, redis_url: str) -> None:
    clock = ManualClock()
    first, second = (replica_auth(tmp_path, name, redis_url, clock) for name in ("a", "b"))
    waits = []
    for attempt in range(5):
        replica = (first, second)[attempt % 2]
        assert replica.login("alice", "wrong", f"10.0.0.{attempt}") is None
        waits.append((first.retry_after("alice", "10.0.1.1"), second.retry_after("ALICE", "10.0.1.1")))
        clock.advance(waits[-1][0])
    assert waits == [(timedelta(seconds=wait), timedelta(seconds=wait)) for wait in (1, 2, 4, 8, 16)]
    assert second.login("bob", "wrong", "10.0.1.1") is None  # another name does not wait
    clock.advance(timedelta(seconds=1))
    assert second.login("alice", PASSWORD, "10.0.1.2") is not None  # after the pause, the right password


def test_failures_from_one_ip_are_counted_across_replicas_and_names(tmp_path: Path, redis_url: str) -> None:
    clock = ManualClock()
    first, second = (replica_auth(tmp_path, name, redis_url, clock) for name in ("a", "b"))
    for number, name in enumerate(("a", "b", "c", "d")):
        (first, second)[number % 2].login(name, "wrong", "10.9.9.9")
        clock.advance(second.retry_after(name, "10.9.9.9"))
    first.login("e", "wrong", "10.9.9.9")
    assert second.retry_after("alice", "10.9.9.9") == timedelta(seconds=16)
    with pytest.raises(LoginThrottled):
        second.login("alice", PASSWORD, "10.9.9.9")
    assert first.login("alice", PASSWORD, "10.9.9.10") is not None


def test_a_success_clears_the_users_count_everywhere_but_not_the_ips(tmp_path: Path, redis_url: str) -> None:
    clock = ManualClock()
    first, second = (replica_auth(tmp_path, name, redis_url, clock) for name in ("a", "b"))
    for _ in range(4):
        first.login("alice", "wrong", "10.0.0.1")
        clock.advance(first.retry_after("alice", "10.0.0.1"))
    assert second.login("alice", PASSWORD, "10.0.0.2") is not None
    assert first.retry_after("alice", "10.0.3.1") == timedelta(0)
    first.login("alice", "wrong", "10.0.2.1")
    assert second.retry_after("alice", "10.0.3.1") == timedelta(seconds=1)
    # 10.0.0.1 failed four times; the success came from another address.
    first.login("nobody", "wrong", "10.0.0.1")
    assert second.retry_after("carol", "10.0.0.1") == timedelta(seconds=16)


def test_failures_are_forgotten_when_the_window_ends(redis_url: str) -> None:
    throttle = RedisLoginThrottle(redis_state.sync_client(redis_url), timedelta(milliseconds=300))
    start = now()
    for number in range(5):
        throttle.record("alice", "10.0.0.1", succeeded=False, at=start + timedelta(milliseconds=number))
    by_user, by_ip = throttle.failures("alice", "10.0.0.1", since=start - timedelta(milliseconds=300))
    assert by_user == by_ip == RecentFailures(5, start + timedelta(milliseconds=4))
    assert throttle.failures("bob", "10.0.0.2", since=start) == (RecentFailures(0, None),) * 2
    time.sleep(0.4)  # Redis expires the keys a window after the last failure
    assert (
        throttle.failures("alice", "10.0.0.1", since=start - timedelta(hours=1))
        == (RecentFailures(0, None),) * 2
    )


def test_no_user_input_becomes_a_redis_key(tmp_path: Path, redis_url: str) -> None:
    auth = replica_auth(tmp_path, "a", redis_url, ManualClock())
    auth.login("alice*\r\nFLUSHALL", "wrong", "10.0.0.1")
    auth.login("alice", "wrong", "10.0.0.2")
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        keys = client.keys("*")
        assert len(keys) == 4
        assert not any("alice" in key or "10.0.0" in key for key in keys)
        assert all(0 < client.pttl(key) <= 60 * 60 * 1000 for key in keys)


def test_without_redis_sign_ins_are_refused_as_throttled_and_logged(
    tmp_path: Path, unreachable_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    auth = replica_auth(tmp_path, "a", unreachable_redis_url, ManualClock())
    caplog.set_level(logging.ERROR)
    with pytest.raises(LoginThrottled):
        auth.login("alice", PASSWORD, "10.0.0.1")
    assert any("Login throttle unavailable" in line for line in caplog.messages)


def test_redis_going_away_after_the_check_still_lets_a_right_password_in(
    tmp_path: Path, private_redis: RedisService, caplog: pytest.LogCaptureFixture
) -> None:
    auth = replica_auth(tmp_path, "a", private_redis.url, ManualClock())
    check = auth.retry_after

    def check_then_lose_redis(username: str, ip: str) -> timedelta:
        wait = check(username, ip)
        private_redis.stop()
        return wait

    auth.retry_after = check_then_lose_redis  # type: ignore[method-assign]
    caplog.set_level(logging.ERROR)
    assert auth.login("alice", PASSWORD, "10.0.0.1") is not None
    assert any("Could not record a sign-in attempt" in line for line in caplog.messages)


def test_the_throttle_is_in_redis_only_when_redis_url_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    settings = Settings(case_db=tmp_path / "cases.db", tracker_db=tmp_path / "tracker.db")
    db = ConsoleStore(settings.case_db).db
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(login_throttle(db, settings), DatabaseLoginThrottle)
    monkeypatch.setenv("REDIS_URL", redis_url)
    throttle = login_throttle(db, settings)
    assert isinstance(throttle, RedisLoginThrottle) and throttle.window == timedelta(hours=1)


# --- card numbers split over two messages -----------------------------------------------------


async def test_a_card_number_split_over_two_replicas_shows_six_and_four_digits(two_clients: Clients) -> None:
    here, there = (RedisSplitNumberGuard(client, ttl_seconds=60) for client in two_clients)
    card = ("card_number",)
    assert await here.mask("web:alice", "卡号6222 0212") == MaskResult("卡号6222 02[已隐藏]", card)
    assert await there.mask("web:alice", "3456 7890") == MaskResult("[卡号已隐藏，尾号7890]", card)
    assert await here.mask("web:bob", "3000") == MaskResult("3000", ())
    # Four bare digits, then the rest of a Luhn-valid card on the other replica.
    assert (await here.mask("web:carol", "6222")).text == "6222"
    assert (await there.mask("web:carol", "0212 3456 7894")).text == "[卡号已隐藏，尾号7894]"


async def test_the_split_state_expires_and_names_no_sender(two_clients: Clients, redis_url: str) -> None:
    guard = RedisSplitNumberGuard(two_clients[0], ttl_seconds=0.2)
    await guard.mask("wechat:oAlice", "卡号6222 0212 3456")
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        (key,) = client.keys("*")
        assert "oAlice" not in key and 0 < client.pttl(key) <= 200
        assert SplitState.from_json(client.get(key)) == SplitState("prefix", 12)  # a count, no digit
    await asyncio.sleep(0.3)
    assert (await guard.mask("wechat:oAlice", "7890")).text == "7890"


async def test_messages_of_a_conversation_racing_on_two_replicas_are_all_masked(two_clients: Clients) -> None:
    guards = [RedisSplitNumberGuard(client, ttl_seconds=60) for client in two_clients]
    texts = [f"验证码{654321 + number}" for number in range(10)]
    results = await asyncio.gather(*(guards[n % 2].mask("web:alice", text) for n, text in enumerate(texts)))
    assert [result.text for result in results] == ["验证码[已隐藏]"] * 10


async def test_without_redis_a_message_is_still_masked_and_its_prefix_cut(
    unreachable_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis_state.async_client(unreachable_redis_url)
    guard = RedisSplitNumberGuard(client, ttl_seconds=60)
    caplog.set_level(logging.ERROR)
    assert await guard.mask("web:alice", "卡号6222 0212，验证码654321") == MaskResult(
        "卡号6222 02[已隐藏]，验证码[已隐藏]", ("card_number", "sms_code")
    )
    assert any("split-number state" in line for line in caplog.messages)
    await client.close()
