"""Follow-ups in the case store, on SQLite and PostgreSQL: scheduling, claims, answers, cancellations."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import date, datetime, timedelta, timezone

from bot.domain.cases import Facts
from bot.domain.clock import CHINA
from bot.domain.delivery import WIDGET_OFFLINE
from bot.storage.cases import SQLCaseStore
from bot.storage.database import Database
from bot.storage.migrations import migrate

# store, store_url: the case store on SQLite and on PostgreSQL.
pytest_plugins = ["tests.store_backends"]

FACTS = Facts(bank="中国工商银行", amount=3000.0, txn_date=date(2026, 11, 20), merchant="华联超市")
# A mis-swipe opened on the pinned Wednesday 2026-11-25 is followed up on Wednesday 12-02 at 10:00.
DUE = datetime(2026, 12, 2, 10, 0, tzinfo=CHINA)
LEASE = 300.0


def own_store(url: str) -> SQLCaseStore:
    """A store with a database (and pool) of its own, as another replica has."""
    database = Database(url)
    migrate(database)
    return SQLCaseStore(database)


def events(store: SQLCaseStore, case_id: str) -> list[tuple[str, dict]]:
    return [
        (row["event"], row["detail"]) for row in store.events(case_id) if row["event"].startswith("follow")
    ]


def test_a_new_case_gets_its_follow_up_with_an_event(store: SQLCaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    [follow_up] = store.follow_ups.for_case(case.case_id)
    assert (follow_up.step_id, follow_up.due_at, follow_up.status) == ("follow_up", DUE, "pending")
    assert (follow_up.sender_id, follow_up.channel) == ("rest:alice", "rest")
    detail = {
        "follow_up": follow_up.follow_up_id,
        "step": "follow_up",
        "due_at": "2026-12-02T10:00:00.000000+08:00",
    }
    assert events(store, case.case_id) == [("follow_up_scheduled", detail)]


def test_rescheduling_keeps_what_still_fits_and_replaces_what_moved(store: SQLCaseStore) -> None:
    facts = Facts(amount=88.0, txn_date=date(2026, 11, 24))  # reversal wait ends 11-27
    case = store.open_case("rest:bob", "rest", "failed_charge", facts)
    [first] = store.follow_ups.for_case(case.case_id)
    store.update_facts(case.case_id, Facts(merchant="华联超市"))  # a change that moves no date
    assert store.follow_ups.for_case(case.case_id) == [first]
    store.update_facts(case.case_id, Facts(txn_date=date(2026, 11, 25)))  # now 11-28
    old, new = store.follow_ups.for_case(case.case_id)
    assert (old.follow_up_id, old.status, old.reason) == (first.follow_up_id, "cancelled", "plan_changed")
    assert (new.status, new.due_at) == ("pending", datetime(2026, 11, 28, 10, tzinfo=CHINA))
    assert [event for event, _ in events(store, case.case_id)] == [
        "follow_up_scheduled",
        "follow_up_cancelled",
        "follow_up_scheduled",
    ]


def test_dates_already_past_are_not_scheduled(store: SQLCaseStore) -> None:
    facts = Facts(amount=88.0, txn_date=date(2026, 11, 20))  # the reversal wait ended 11-23
    case = store.open_case("rest:carol", "rest", "failed_charge", facts)
    assert store.follow_ups.for_case(case.case_id) == []


def test_a_finished_case_cancels_its_pending_follow_ups(store: SQLCaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    store.set_status(case.case_id, "resolved")
    [follow_up] = store.follow_ups.for_case(case.case_id)
    assert (follow_up.status, follow_up.reason) == ("cancelled", "case_resolved")


def test_a_due_follow_up_goes_to_one_claimer_until_its_lease_runs_out(store: SQLCaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    assert store.follow_ups.claim_due(DUE - timedelta(seconds=1), "a", LEASE, 10) == []
    [claimed] = store.follow_ups.claim_due(DUE, "a", LEASE, 10)
    assert (claimed.case_id, claimed.attempts) == (case.case_id, 1)
    assert claimed.being_sent(DUE)
    assert store.follow_ups.claim_due(DUE + timedelta(seconds=LEASE - 1), "b", LEASE, 10) == []
    [again] = store.follow_ups.claim_due(DUE + timedelta(seconds=LEASE), "b", LEASE, 10)
    assert (again.follow_up_id, again.attempts) == (claimed.follow_up_id, 2)
    # The first claimer lost its lease: its late result is refused, the second one's stands.
    assert not store.follow_ups.mark_sent(claimed)
    assert store.follow_ups.mark_sent(again)
    [sent] = store.follow_ups.for_case(case.case_id)
    assert (sent.status, sent.lease_until) == ("sent", None)
    assert store.follow_ups.claim_due(DUE + timedelta(days=1), "c", LEASE, 10) == []


def test_a_claim_that_still_holds_its_lease_survives_rescheduling(store: SQLCaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    [claimed] = store.follow_ups.claim_due(DUE, "a", LEASE, 10)
    store.update_facts(case.case_id, Facts(card_last4="1234"))
    assert store.follow_ups.mark_sent(claimed)


def test_undelivered_follow_ups_are_listed_for_staff_while_the_case_is_open(store: SQLCaseStore) -> None:
    case = store.open_case("wechat:o-abc", "wechat", "misswipe", FACTS)
    [claimed] = store.follow_ups.claim_due(DUE, "a", LEASE, 10)
    assert store.follow_ups.mark_undelivered(claimed, "wechat_window_closed")
    [listed] = store.follow_ups.undelivered_for_open_cases()
    assert (listed.case_id, listed.status, listed.reason) == (
        case.case_id,
        "undelivered",
        "wechat_window_closed",
    )
    assert events(store, case.case_id)[-1] == (
        "follow_up_undelivered",
        {"follow_up": claimed.follow_up_id, "step": "follow_up", "from": "pending", "to": "undelivered",
         "reason": "wechat_window_closed"},
    )  # fmt: skip
    store.set_status(case.case_id, "closed")
    assert store.follow_ups.undelivered_for_open_cases() == []


def test_a_question_that_found_the_widget_closed_waits_for_its_return_not_for_staff(
    store: SQLCaseStore,
) -> None:
    case = store.open_case("web:visitor", "socketio", "misswipe", FACTS)
    [claimed] = store.follow_ups.claim_due(DUE, "a", LEASE, 10)
    assert store.follow_ups.mark_undelivered(claimed, WIDGET_OFFLINE)
    assert store.follow_ups.undelivered_for_open_cases() == []  # its user sees it on return
    assert store.follow_ups.take_awaiting_return("web:someone-else") == []
    [returned] = store.follow_ups.take_awaiting_return("web:visitor")
    assert (returned.follow_up_id, returned.status) == (claimed.follow_up_id, "sent")
    assert store.follow_ups.take_awaiting_return("web:visitor") == []  # shown once
    assert events(store, case.case_id)[-1][0] == "follow_up_sent"


def test_an_answer_marks_the_sent_question_answered(store: SQLCaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    assert store.follow_ups.mark_answered(case.case_id, "refund_received") == 0  # nothing was sent
    [claimed] = store.follow_ups.claim_due(DUE, "a", LEASE, 10)
    store.follow_ups.mark_sent(claimed)
    assert store.follow_ups.mark_answered(case.case_id, "refund_received") == 1
    [answered] = store.follow_ups.for_case(case.case_id)
    assert (answered.status, answered.reason) == ("answered", "refund_received")


def test_one_follow_up_is_cancelled_once(store: SQLCaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    [pending] = store.follow_ups.for_case(case.case_id)
    cancelled = store.follow_ups.cancel(pending.follow_up_id, "cancelled_by_staff", by="alice")
    assert cancelled is not None and cancelled.follow_up_id == pending.follow_up_id
    assert store.follow_ups.cancel(pending.follow_up_id, "cancelled_by_staff", by="alice") is None
    assert events(store, case.case_id)[-1][1]["by"] == "alice"
    assert store.follow_ups.claim_due(DUE, "a", LEASE, 10) == []


def test_cancel_for_a_case(store: SQLCaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    assert store.follow_ups.cancel_for_case(case.case_id, "cancelled_by_staff") == 1
    assert store.follow_ups.cancel_for_case(case.case_id, "cancelled_by_staff") == 0


def test_opting_out_cancels_the_conversations_follow_ups_now_and_later(store: SQLCaseStore) -> None:
    first = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    other = store.open_case("rest:bob", "rest", "misswipe", FACTS)
    assert store.follow_ups.opt_out("rest:alice") == 1
    assert store.follow_ups.opt_out("rest:alice") == 0  # said twice: still one opt-out
    [cancelled] = store.follow_ups.for_case(first.case_id)
    assert (cancelled.status, cancelled.reason) == ("cancelled", "opted_out")
    second = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    store.update_facts(first.case_id, Facts(card_last4="1234"))
    assert store.follow_ups.for_case(second.case_id) == []
    assert [f.status for f in store.follow_ups.for_case(first.case_id)] == ["cancelled"]
    assert [f.status for f in store.follow_ups.for_case(other.case_id)] == ["pending"]


def test_opting_in_again_brings_back_the_follow_ups_still_to_come(store: SQLCaseStore) -> None:
    first = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    store.follow_ups.opt_out("rest:alice")
    second = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    assert store.follow_ups.opt_in("rest:alice", [first, second]) == 2
    assert store.follow_ups.opted_out("rest:alice") is False
    for case in (first, second):
        assert [f.status for f in store.follow_ups.for_case(case.case_id)].count("pending") == 1
    assert store.follow_ups.opt_in("rest:alice", [first, second]) == 2  # said twice: nothing doubles
    store.follow_ups.opt_out("rest:alice")
    assert [f.status for f in store.follow_ups.for_case(first.case_id)].count("pending") == 0


def test_concurrent_claimers_take_each_due_follow_up_exactly_once(store_url: str) -> None:
    with closing(own_store(store_url)) as setup:
        opened = [setup.open_case(f"rest:user-{n}", "rest", "misswipe", FACTS).case_id for n in range(12)]
    claimers = [own_store(store_url) for _ in range(4)]
    barrier = threading.Barrier(len(claimers))

    def claim(number: int) -> list[str]:
        barrier.wait()
        taken: list[str] = []
        while batch := claimers[number].follow_ups.claim_due(DUE, f"claimer-{number}", LEASE, 2):
            taken += [follow_up.case_id for follow_up in batch]
        return taken

    try:
        with ThreadPoolExecutor(max_workers=len(claimers)) as pool:
            claimed = [case_id for batch in pool.map(claim, range(len(claimers))) for case_id in batch]
    finally:
        for claimer in claimers:
            claimer.close()
    assert Counter(claimed) == Counter(opened)


def test_follow_ups_survive_a_restart(store_url: str) -> None:
    with closing(own_store(store_url)) as before:
        case = before.open_case("rest:alice", "rest", "misswipe", FACTS)
    with closing(own_store(store_url)) as after:
        [claimed] = after.follow_ups.claim_due(DUE, "after-restart", LEASE, 10)
    assert claimed.case_id == case.case_id


def test_the_time_of_day_is_ten_in_china_whatever_the_claimers_zone(store: SQLCaseStore) -> None:
    store.open_case("rest:alice", "rest", "misswipe", FACTS)
    ten_in_china = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)
    assert store.follow_ups.claim_due(ten_in_china - timedelta(seconds=1), "a", LEASE, 10) == []
    assert len(store.follow_ups.claim_due(ten_in_china, "a", LEASE, 10)) == 1


def test_a_question_once_sent_is_not_scheduled_again(store: SQLCaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    [claimed] = store.follow_ups.claim_due(DUE, "a", LEASE, 10)
    store.follow_ups.mark_sent(claimed)
    store.mark_steps_done(case.case_id, ["contact_merchant"])
    assert [f.status for f in store.follow_ups.for_case(case.case_id)] == ["sent"]


def test_a_case_reopened_gets_its_follow_up_back_but_not_one_staff_cancelled(store: SQLCaseStore) -> None:
    case = store.open_case("rest:alice", "rest", "misswipe", FACTS)
    store.set_status(case.case_id, "resolved")
    store.set_status(case.case_id, "open")
    assert [f.status for f in store.follow_ups.for_case(case.case_id)] == ["cancelled", "pending"]
    [_, pending] = store.follow_ups.for_case(case.case_id)
    store.follow_ups.cancel(pending.follow_up_id, "cancelled_by_staff", by="alice")
    store.update_facts(case.case_id, Facts(card_last4="1234"))
    assert [f.status for f in store.follow_ups.for_case(case.case_id)] == ["cancelled", "cancelled"]
