"""How often one conversation, or one client address, may send a message.

Every message runs NLU and is stored, so a flood from one source costs every
other user. Each limit is a count per fixed window (``Limit``); a
``RateLimiter`` counts hits per key: in memory for one process, or in Redis
(``bot.storage.redis_state.RedisRateLimiter``) when replicas must agree.
Trusted clients (loopback, a valid ``REST_TOKEN``) are not limited per
address: the benchmark and the fault test send from there.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    seconds: int

    def window(self, now: float) -> int:
        return int(now // self.seconds)


# A person types a few messages a minute; a page of buttons clicked through
# quickly stays well inside these.
PER_CONVERSATION = Limit("conversation", count=20, seconds=60)
PER_ADDRESS = Limit("address", count=60, seconds=60)


class RateLimiter(Protocol):
    async def allow(self, limit: Limit, key: str) -> bool:
        """Count one hit on ``key``; False when it is over ``limit`` in the current window."""


class InMemoryRateLimiter:
    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._counts: OrderedDict[tuple[str, str], tuple[int, int]] = OrderedDict()

    async def allow(self, limit: Limit, key: str) -> bool:
        window = limit.window(time.time())
        slot = (limit.name, key)
        counted_window, count = self._counts.pop(slot, (window, 0))
        count = count + 1 if counted_window == window else 1
        self._counts[slot] = (window, count)
        while len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
        return count <= limit.count
