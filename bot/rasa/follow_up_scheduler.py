"""Sends the due follow-ups, from the database, in a background task of the Rasa server.

    task = start_follow_ups(send)         # in the server's event loop; FOLLOW_UP_INTERVAL_SECONDS apart
    sent = await run_due_follow_ups(store, send, now=clock)   # one round, for tests and tools

Not Rasa's ``ReminderScheduled``: its reminders live in one process's memory
and are lost on restart. Here the schedule is rows in the case store
(``bot.storage.follow_ups``), claimed with a lease, so every replica can run
this loop and each due follow-up is sent once. ``send`` puts the question into
the conversation's channel and says whether it got there; writing it is the
channel's business (a widget keeps it for a user who comes back, WeChat refuses
outside its 48-hour window), so that staff see what did not arrive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from bot.domain import follow_ups
from bot.domain.cases import Case
from bot.domain.clock import now as clock_now
from bot.domain.delivery import SEND_FAILED, Delivery
from bot.domain.follow_ups import FollowUp, FollowUpStore
from bot.storage import store_from_env

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 60.0
# Longer than any send takes: a send still running when its lease ends may be repeated.
LEASE_SECONDS = 300.0
BATCH = 20


class Send(Protocol):
    def __call__(self, conversation_id: str, text: str, buttons: list[dict[str, str]]) -> Awaitable[Delivery]:
        """Put ``text`` with its buttons into the conversation's channel."""


class Stores(Protocol):
    """The case store with its follow-ups (``bot.storage.cases.SQLCaseStore``)."""

    follow_ups: FollowUpStore

    def get(self, case_id: str) -> Case | None: ...


def default_owner() -> str:
    """Who holds a claim: a replica and process an operator can find."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_due_follow_ups(
    store: Stores,
    send: Send,
    now: Callable[[], datetime] = clock_now,
    owner: str | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> int:
    """Claim the follow-ups due at ``now()`` and send each; returns how many were delivered."""
    owner = owner or default_owner()
    delivered = 0
    while True:
        claimed = await asyncio.to_thread(store.follow_ups.claim_due, now(), owner, lease_seconds, BATCH)
        for follow_up in claimed:
            delivered += await _send_one(store, send, follow_up)
        if len(claimed) < BATCH:
            return delivered


async def _send_one(store: Stores, send: Send, follow_up: FollowUp) -> int:
    case = await asyncio.to_thread(store.get, follow_up.case_id)
    # The case may have moved on since the follow-up was scheduled (answered in another turn).
    if case is None or not follow_ups.still_wanted(case, follow_up.step_id):
        await asyncio.to_thread(store.follow_ups.release, follow_up, "no_longer_needed")
        return 0
    message = follow_ups.message(case, follow_up.step_id)
    try:
        delivery = await send(follow_up.sender_id, message.text, message.buttons)
    except Exception:
        # Not retried: the channel may have shown it before failing, and a question asked
        # twice is worse than one staff can see was not delivered.
        log.exception("Follow-up %s could not be sent", follow_up.follow_up_id)
        delivery = Delivery.undelivered(SEND_FAILED)
    if delivery.delivered:
        await asyncio.to_thread(store.follow_ups.mark_sent, follow_up)
        return 1
    await asyncio.to_thread(store.follow_ups.mark_undelivered, follow_up, delivery.reason or "undelivered")
    return 0


def interval_from_env() -> float:
    return float(os.environ.get("FOLLOW_UP_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS))


async def follow_up_loop(
    store: Stores,
    send: Send,
    interval: float,
    now: Callable[[], datetime] = clock_now,
    owner: str | None = None,
) -> None:
    """Run a round every ``interval`` seconds until cancelled; a failed round is logged, not fatal."""
    while True:
        try:
            await run_due_follow_ups(store, send, now=now, owner=owner)
        except Exception:
            log.exception("Follow-up round failed; trying again in %s s", interval)
        await asyncio.sleep(interval)


def start_follow_ups(send: Send) -> asyncio.Task[None]:
    """The background task for the Rasa server: the store ``CASE_STORE_URL`` names, every
    ``FOLLOW_UP_INTERVAL_SECONDS`` (default 60). Call it in the running event loop; cancel it on shutdown."""
    return asyncio.get_running_loop().create_task(
        follow_up_loop(store_from_env(), send, interval_from_env()), name="follow-ups"
    )
