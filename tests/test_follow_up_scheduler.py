"""The scheduler on a clock the test moves: one send per due follow-up, across loops and restarts."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import pytest
from clocks import ManualClock

from bot.domain.cases import Facts
from bot.rasa.follow_up_scheduler import Delivery, follow_up_loop, run_due_follow_ups
from bot.storage.cases import SQLCaseStore
from bot.storage.database import Database
from bot.storage.migrations import migrate

FACTS = Facts(bank="中国工商银行", amount=3000.0, txn_date=date(2026, 11, 20), merchant="华联超市")
# Mis-swipes opened on the pinned 2026-11-25 are followed up on 12-02 at 10:00.
A_WEEK_AND_A_DAY = timedelta(days=8)


class FakeChannel:
    """Records what it was asked to send; WeChat conversations are outside their 48-hour window."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, list[dict[str, str]]]] = []

    async def __call__(self, conversation_id: str, text: str, buttons: list[dict[str, str]]) -> Delivery:
        await asyncio.sleep(0.01)  # a network call: the other loop gets its turn meanwhile
        if conversation_id.startswith("wechat:"):
            return Delivery.undelivered("wechat_window_closed")
        self.sent.append((conversation_id, text, buttons))
        return Delivery.ok()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cases.db'}"
    return request.getfixturevalue("postgres_url")


def replica(url: str) -> SQLCaseStore:
    """A store with its own database connections, as another server process has."""
    database = Database(url)
    migrate(database)
    return SQLCaseStore(database)


@pytest.fixture
def store(store_url: str) -> Iterator[SQLCaseStore]:
    with closing(replica(store_url)) as opened:
        yield opened


async def test_nothing_is_sent_before_the_day(store: SQLCaseStore) -> None:
    store.open_case("rest:alice", "rest", "misswipe", FACTS)
    clock, channel = ManualClock(), FakeChannel()
    clock.advance(timedelta(days=6))  # 12-01, the day before
    assert await run_due_follow_ups(store, channel, now=clock) == 0
    assert channel.sent == []


async def test_two_scheduler_loops_send_each_due_follow_up_once(store_url: str, store: SQLCaseStore) -> None:
    senders = [f"rest:user-{n}" for n in range(10)]
    for sender in senders:
        store.open_case(sender, "rest", "misswipe", FACTS)
    clock, channel = ManualClock(), FakeChannel()
    clock.advance(A_WEEK_AND_A_DAY)
    with closing(replica(store_url)) as first, closing(replica(store_url)) as second:
        delivered = await asyncio.gather(
            run_due_follow_ups(first, channel, now=clock, owner="replica-1"),
            run_due_follow_ups(second, channel, now=clock, owner="replica-2"),
        )
    assert sum(delivered) == len(senders)
    assert Counter(sender for sender, _, _ in channel.sent) == Counter(senders)
    _, text, buttons = channel.sent[0]
    assert "您的退款到账了吗？" in text
    assert [button["payload"] for button in buttons] == [
        "/refund_received",
        "/refund_not_yet",
        "/merchant_refused",
    ]
    assert {follow_up.status for follow_up in store.follow_ups.due(clock())} == set()
    # Another round, later on: everything was sent already.
    clock.advance(timedelta(hours=1))
    assert await run_due_follow_ups(store, channel, now=clock) == 0
    assert len(channel.sent) == len(senders)


async def test_a_restarted_scheduler_sends_what_was_scheduled_before(store_url: str) -> None:
    with closing(replica(store_url)) as before_restart:
        case = before_restart.open_case("rest:alice", "rest", "misswipe", FACTS)
    clock, channel = ManualClock(), FakeChannel()
    clock.advance(A_WEEK_AND_A_DAY)
    with closing(replica(store_url)) as after_restart:
        assert await run_due_follow_ups(after_restart, channel, now=clock) == 1
        [follow_up] = after_restart.follow_ups.for_case(case.case_id)
    assert [sender for sender, _, _ in channel.sent] == ["rest:alice"]
    assert follow_up.status == "sent"


async def test_a_follow_up_a_crashed_sender_held_is_sent_after_its_lease(store: SQLCaseStore) -> None:
    store.open_case("rest:alice", "rest", "misswipe", FACTS)
    clock, channel = ManualClock(), FakeChannel()
    clock.advance(A_WEEK_AND_A_DAY)
    store.follow_ups.claim_due(clock(), "crashed", 300, 10)  # claimed, then the process died
    assert await run_due_follow_ups(store, channel, now=clock) == 0
    clock.advance(timedelta(seconds=300))
    assert await run_due_follow_ups(store, channel, now=clock) == 1


async def test_an_undelivered_follow_up_is_kept_with_its_reason(store: SQLCaseStore) -> None:
    case = store.open_case("wechat:o-abc", "wechat", "misswipe", FACTS)
    clock, channel = ManualClock(), FakeChannel()
    clock.advance(A_WEEK_AND_A_DAY)
    assert await run_due_follow_ups(store, channel, now=clock) == 0
    [follow_up] = store.follow_ups.for_case(case.case_id)
    assert (follow_up.status, follow_up.reason) == ("undelivered", "wechat_window_closed")
    assert store.follow_ups.undelivered_for_open_cases() == [follow_up]


async def test_a_follow_up_the_case_outgrew_is_not_sent(store: SQLCaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    clock, channel = ManualClock(), FakeChannel()
    clock.advance(A_WEEK_AND_A_DAY)
    # The row is still pending when the case moves on outside the store's rescheduling
    # (another writer's stale view): the scheduler checks the case again before sending.
    store.db.execute("UPDATE cases SET status = 'with_bank' WHERE case_id = ?", [case.case_id])
    assert await run_due_follow_ups(store, channel, now=clock) == 0
    [follow_up] = store.follow_ups.for_case(case.case_id)
    assert (follow_up.status, follow_up.reason) == ("cancelled", "no_longer_needed")
    assert channel.sent == []


async def test_a_channel_error_is_recorded_not_retried(store: SQLCaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    clock = ManualClock()
    clock.advance(A_WEEK_AND_A_DAY)
    calls = 0

    async def broken(conversation_id: str, text: str, buttons: list[dict[str, str]]) -> Delivery:
        nonlocal calls
        calls += 1
        raise ConnectionError("socket closed")

    assert await run_due_follow_ups(store, broken, now=clock) == 0
    assert await run_due_follow_ups(store, broken, now=clock) == 0
    assert calls == 1
    [follow_up] = store.follow_ups.for_case(case.case_id)
    assert (follow_up.status, follow_up.reason) == ("undelivered", "send_failed")


async def test_the_loop_runs_rounds_until_cancelled(store: SQLCaseStore) -> None:
    store.open_case("rest:alice", "rest", "misswipe", FACTS)
    clock, channel = ManualClock(), FakeChannel()
    task = asyncio.create_task(follow_up_loop(store, channel, interval=0.01, now=clock))
    await asyncio.sleep(0.1)
    assert channel.sent == []
    clock.advance(A_WEEK_AND_A_DAY)
    for _ in range(200):
        if channel.sent:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [sender for sender, _, _ in channel.sent] == ["rest:alice"]
