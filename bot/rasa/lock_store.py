"""Rasa's Redis lock store, with a lock that two replicas cannot both take.

Rasa 3.6's ``RedisLockStore`` keeps a ticket queue per conversation as one
JSON value that each replica reads, changes and writes back. Two replicas
taking the same conversation at once (a user who double-taps "send", which
the balancer spreads) can overwrite each other's ticket: then both run the
turn together, or the first to finish deletes the lock under the other,
which fails its turn with ``LockError`` ("Could not acquire lock"); the
cluster fault test met the second.

``AtomicRedisLockStore`` takes the conversation's lock with one ``SET NX PX``
and releases it only if it still holds it (compare and delete in one Lua
script), so exactly one turn holds a conversation at a time. Waiting turns
try again every ``POLL_SECONDS``; the order in which two messages sent at the
same moment are taken is not kept (neither was it across replicas). A holder
that dies leaves the lock to expire after its lifetime, as Rasa's does.

Configured in ``endpoints.cluster.yml`` as ``type: bot.rasa.lock_store.AtomicRedisLockStore``
with the same keys as ``type: redis``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

POLL_SECONDS = 0.05
# Deletes the key only if it holds our token: a lock that expired and was taken by
# another turn is never released by the turn that lost it.
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # how Rasa builds a lock store named by its module path
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
        self._release = self.red.register_script(RELEASE)

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncGenerator[TicketLock, None]:
        """The conversation's lock for at most ``lock_lifetime`` seconds, waiting for it as
        long (by then a holder that died has let it expire). ``wait_time_in_seconds`` is
        Rasa's pause between tries; a shorter one is used, as each try is one command."""
        key = self.key_prefix + conversation_id
        token = uuid.uuid4().hex
        deadline = time.monotonic() + lock_lifetime
        while not self.red.set(key, token, nx=True, px=int(lock_lifetime * 1000)):
            if time.monotonic() > deadline:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            await asyncio.sleep(min(wait_time_in_seconds, POLL_SECONDS))
        try:
            yield TicketLock(conversation_id)
        finally:
            self._release(keys=[key], args=[token])
