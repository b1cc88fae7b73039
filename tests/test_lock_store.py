"""The cluster's lock store (bot/rasa/lock_store.py) on a real Redis: one turn per conversation at a time.

Each "replica" is its own store object and connection. Rasa's ticket race needs two
processes (its Redis calls do not interleave within one event loop), so it is not
reproduced here; the cluster fault test (tests/cluster) is where it showed.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlparse

import pytest
from rasa.core.lock_store import LockError
from rasa.utils.endpoints import EndpointConfig

from bot.rasa.lock_store import AtomicRedisLockStore

pytest_plugins = ["tests.redis_fixtures"]


def replica(redis_url: str) -> AtomicRedisLockStore:
    """Built the way Rasa builds it from endpoints.cluster.yml."""
    address = urlparse(redis_url)
    config = EndpointConfig(url=address.hostname, type="bot.rasa.lock_store.AtomicRedisLockStore",
                            port=address.port, db=0, key_prefix="wushua")  # fmt: skip
    return AtomicRedisLockStore(endpoint_config=config)


async def test_turns_of_one_conversation_on_many_replicas_never_overlap(redis_url: str) -> None:
    replicas = [replica(redis_url) for _ in range(4)]
    inside: list[str] = []
    overlaps: list[tuple[str, ...]] = []

    async def turn(number: int) -> None:
        async with replicas[number % 4].lock("web:abc", lock_lifetime=10):
            inside.append(f"turn-{number}")
            if len(inside) > 1:
                overlaps.append(tuple(inside))
            await asyncio.sleep(0.02)
            inside.remove(f"turn-{number}")

    await asyncio.gather(*(turn(number) for number in range(20)))
    assert overlaps == []


async def test_other_conversations_do_not_wait(redis_url: str) -> None:
    first, second = replica(redis_url), replica(redis_url)
    async with first.lock("web:abc", lock_lifetime=10):
        started = time.monotonic()
        async with second.lock("web:other", lock_lifetime=10):
            assert time.monotonic() - started < 1  # not waiting for web:abc's holder


async def test_a_lock_whose_holder_died_expires_with_its_lifetime(redis_url: str) -> None:
    dead, alive = replica(redis_url), replica(redis_url)
    killed = dead.lock("web:abc", lock_lifetime=0.5)
    await killed.__aenter__()  # taken, never released: the replica was killed
    started = time.monotonic()
    async with alive.lock("web:abc", lock_lifetime=5):
        assert 0.3 < time.monotonic() - started  # it waited for the expiry, not for ever


async def test_a_turn_that_outlived_its_lock_does_not_release_the_next_holder(redis_url: str) -> None:
    slow, next_turn = replica(redis_url), replica(redis_url)
    key = slow.key_prefix + "web:abc"
    slow_turn = slow.lock("web:abc", lock_lifetime=0.2)
    await slow_turn.__aenter__()
    await asyncio.sleep(0.3)  # the slow turn's lock expired meanwhile
    taken = next_turn.lock("web:abc", lock_lifetime=5)
    await taken.__aenter__()
    held_by_next = slow.red.get(key)
    await slow_turn.__aexit__(None, None, None)  # the slow turn ends and releases what it had
    assert slow.red.get(key) == held_by_next is not None  # the next turn still holds its lock
    await taken.__aexit__(None, None, None)
    assert slow.red.get(key) is None


async def test_waiting_longer_than_the_lifetime_gives_up(redis_url: str) -> None:
    holder, waiter = replica(redis_url), replica(redis_url)
    async with holder.lock("web:abc", lock_lifetime=30):
        with pytest.raises(LockError):
            async with waiter.lock("web:abc", lock_lifetime=0.2):
                pass
