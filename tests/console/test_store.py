"""The console's data layer: migrations, the queue's filters and search, handoffs and audited changes.

Tests marked ``on_both_backends`` run on SQLite and on PostgreSQL; the rest
check SQLite's own machinery (the full-text index).
"""

from __future__ import annotations

import json
import multiprocessing
from datetime import date, datetime, timedelta
from multiprocessing.synchronize import Barrier

import pytest
from console_support import at, database_url, on_both_backends

from bot.console import store as console_store
from bot.console.params import BadParameter
from bot.console.settings import Settings
from bot.console.store import CaseFilter, ConsoleStore, Cursor
from bot.domain.cases import Facts
from bot.domain.feedback import Rating
from bot.storage import open_store
from bot.storage.migrations import MIGRATIONS

CONSOLE_MIGRATIONS = [(name, migration) for name, migration in MIGRATIONS if name.startswith("console_")]


def seed(store: ConsoleStore) -> dict[str, str]:
    """Five cases, each picked out by one filter; returns their ids by a short name."""
    cases = store.cases
    ids = {
        "hualian": cases.open_case(
            "s1", "rest", "misswipe", Facts(bank="中国工商银行", merchant="华联超市", card_last4="1234")
        ),
        "walmart": cases.open_case(
            "s2", "wechat", "failed_charge", Facts(bank="招商银行", merchant="沃尔玛山姆会员店")
        ),
        "fraud": cases.open_case(
            "s3", "socketio", "unauthorized", Facts(bank="中国建设银行", card_last4="8888")
        ),
        "shop": cases.open_case("s4", "rest", "merchant", Facts(merchant="老王烧烤")),
        "old": cases.open_case("s5", "rest", "misswipe", Facts(bank="中国工商银行", merchant="全家便利店")),
    }
    ids = {name: case.case_id for name, case in ids.items()}
    store.db.execute(
        "UPDATE cases SET created_at = ? WHERE case_id = ?", [at(date(2026, 10, 1)).isoformat(), ids["old"]]
    )
    store.set_status(ids["walmart"], "resolved", "alice")
    store.add_tag(ids["fraud"], "需回电", "alice")
    return ids


def matching(store: ConsoleStore, **params: list[str]) -> set[str]:
    return {row.case_id for row in store.queue(CaseFilter.from_params(params), limit=100).rows}


@on_both_backends
def test_console_migrations_are_named_recorded_once_and_after_the_case_stores(
    store: ConsoleStore, settings: Settings
) -> None:
    names = [row["name"] for row in store.db.query("SELECT name FROM _migrations ORDER BY applied_at, name")]
    console_names = [name for name, _ in CONSOLE_MIGRATIONS]
    # In order, after the case store's first ones; later case-store migrations (0008_…) follow them.
    assert [name for name in names if name.startswith("console_")] == console_names
    assert names.index(console_names[0]) > names.index("0003_create_handoffs")
    assert all(name.startswith("console_") for name in console_names)
    assert {"0001_create_cases", "0002_create_case_events", "0003_create_handoffs"} <= set(names)
    tables = ["staff_users", "staff_sessions", "login_attempts", "audit_log", "case_notes", "case_tags",
              "conversation_reviews", "flagged_examples"]  # fmt: skip
    if store.db.dialect.name == "sqlite":
        tables.append("cases_fts")
    for table in tables:
        assert store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    again = ConsoleStore(settings.case_db)
    assert again.db.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(names)
    again.close()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": ["resolved"]}, {"walmart"}),
        ({"status": ["open", "resolved"]}, {"hualian", "walmart", "fraud", "shop", "old"}),
        ({"kind": ["misswipe"]}, {"hualian", "old"}),
        ({"kind": ["unauthorized"]}, {"fraud"}),
        ({"bank": ["中国工商银行"]}, {"hualian", "old"}),
        ({"channel": ["wechat"]}, {"walmart"}),
        ({"since": ["2026-11-01"]}, {"hualian", "walmart", "fraud", "shop"}),
        ({"until": ["2026-10-31"]}, {"old"}),
        ({"since": ["2026-10-01"], "until": ["2026-10-01"]}, {"old"}),
        ({"tag": ["需回电"]}, {"fraud"}),
        ({"q": ["华联超市"]}, {"hualian"}),
        ({"q": ["华联"]}, {"hualian"}),
        ({"q": ["会员店"]}, {"walmart"}),
        ({"q": ["8888"]}, {"fraud"}),
        ({"q": ["烧烤 老王"]}, {"shop"}),
        ({"kind": ["misswipe"], "q": ["全家"]}, {"old"}),
        (
            {"kind": [""], "status": [], "since": [" "], "q": ["\x00"]},
            {"hualian", "walmart", "fraud", "shop", "old"},
        ),
        ({"q": ["\x00华联\x1b"]}, {"hualian"}),
    ],
)
@on_both_backends
def test_each_filter_picks_its_cases(store: ConsoleStore, params: dict, expected: set[str]) -> None:
    ids = seed(store)
    assert matching(store, **params) == {ids[name] for name in expected}


@on_both_backends
def test_search_by_case_id_in_any_case_and_with_no_match(store: ConsoleStore) -> None:
    ids = seed(store)
    assert matching(store, q=[ids["shop"].lower()]) == {ids["shop"]}
    assert matching(store, q=['"; DROP TABLE cases; --']) == set()
    assert matching(store, q=["%"]) == set()


def test_search_uses_the_full_text_index(store: ConsoleStore) -> None:
    sql = store.page_query(CaseFilter(search="华联超市")).compile(compile_kwargs={"literal_binds": True})
    plan = " ".join(row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}"))
    assert "cases_fts VIRTUAL TABLE INDEX" in plan


@on_both_backends
def test_cases_the_bot_writes_are_searchable_at_once(settings: Settings, store: ConsoleStore) -> None:
    bot = open_store(str(settings.case_db))  # the action server's own connection
    case = bot.open_case("s9", "rest", "misswipe", Facts(merchant="喜茶"))
    assert matching(store, q=["喜茶"]) == {case.case_id}
    bot.update_facts(case.case_id, Facts(merchant="盒马鲜生"))
    assert matching(store, q=["喜茶"]) == set()
    assert matching(store, q=["盒马"]) == {case.case_id}


def test_filter_survives_a_round_trip_through_query_parameters() -> None:
    case_filter = CaseFilter(
        ("open", "with_bank"), "misswipe", "招商银行", "rest", date(2026, 11, 1), None, "华联", "x"
    )
    params: dict[str, list[str]] = {}
    for name, value in case_filter.params():
        params.setdefault(name, []).append(value)
    assert CaseFilter.from_params(params) == case_filter
    assert CaseFilter.from_params({"since": [""], "q": ["  "], "status": []}) == CaseFilter()


@pytest.mark.parametrize(
    ("params", "name", "code"),
    [
        ({"since": ["yesterday"]}, "since", "date"),
        ({"until": ["2026-02-30"]}, "until", "date"),
        ({"until": ["２０２６-１１-２５"]}, "until", "date"),
        ({"since": ["0001-01-01"]}, "since", "date"),
        ({"since": ["2025-11-24"]}, "since", "date_span"),  # to today: 367 days
        ({"since": ["2026-11-02"], "until": ["2026-11-01"]}, "since", "date_order"),
        ({"since": ["2024-01-01"], "until": ["2025-01-01"]}, "since", "date_span"),  # 367 days
        ({"kind": ["no-such-kind"]}, "kind", "choice"),
        ({"status": ["open", "nonsense"]}, "status", "choice"),
        ({"bank": ["工商\x00银行"]}, "bank", "text"),
        ({"channel": ["x" * 101]}, "channel", "text"),
        ({"q": ["华联" * 51]}, "q", "text"),
    ],
)
def test_a_malformed_filter_names_its_parameter(params: dict, name: str, code: str) -> None:
    with pytest.raises(BadParameter) as raised:
        CaseFilter.from_params(params)
    assert (raised.value.name, raised.value.code) == (name, code)


def test_a_date_range_is_at_most_366_days_and_until_alone_says_where_it_starts() -> None:
    longest = CaseFilter.from_params({"since": ["2025-11-25"]})  # today is 2026-11-25
    assert (longest.since, longest.until) == (date(2025, 11, 25), None)
    leap = CaseFilter.from_params({"since": ["2024-01-01"], "until": ["2024-12-31"]})
    assert (leap.until - leap.since).days + 1 == 366
    until_alone = CaseFilter.from_params({"until": ["2026-10-31"]})
    assert (until_alone.since, until_alone.until) == (date(2025, 10, 31), date(2026, 10, 31))
    assert ("since", "2025-10-31") in until_alone.params()
    with pytest.raises(BadParameter):
        CaseFilter(since=date(2000, 1, 1), until=date(2099, 12, 31))  # however the filter is made


@on_both_backends
def test_pages_walk_forward_and_back_without_gaps_or_repeats(store: ConsoleStore) -> None:
    for number in range(7):
        store.cases.open_case(f"sender-{number}", "rest", "misswipe", Facts())
    # Two cases share a timestamp, so case_id has to break the tie.
    store.db.execute("UPDATE cases SET created_at = (SELECT min(created_at) FROM cases)")
    first = store.queue(CaseFilter(), limit=3)
    second = store.queue(CaseFilter(), after=first.older, limit=3)
    third = store.queue(CaseFilter(), after=second.older, limit=3)
    seen = [row.case_id for page in (first, second, third) for row in page.rows]
    assert len(seen) == 7 and len(set(seen)) == 7 and seen == sorted(seen, reverse=True)
    assert first.newer is None and third.older is None and first.total == 7
    back = store.queue(CaseFilter(), before=second.newer, limit=3)
    assert [row.case_id for row in back.rows] == [row.case_id for row in first.rows]
    assert back.newer is None
    assert Cursor.decode(first.older.encode(), "after") == first.older
    assert Cursor.decode("", "after") is None
    for garbage in (
        "garbage",
        "2026-11-25|WS-1",
        f"x|{first.older.case_id}",
        "２０２６-11-25T10:00:00|WS-20261125-0001",
        "2026-11-25T10:00:00+08:00|WS-20261125-0001\x00",
    ):
        with pytest.raises(BadParameter):
            Cursor.decode(garbage, "after")


@on_both_backends
def test_handoffs_wait_longest_first_and_resolving_one_is_audited(store: ConsoleStore) -> None:
    case = store.cases.open_case("s1", "rest", "misswipe", Facts())
    newer = store.cases.request_handoff("s1", "rest", case.case_id)
    older = store.cases.request_handoff("s2", "wechat", None)
    store.db.execute(
        "UPDATE handoffs SET requested_at = ? WHERE id = ?",
        [(older.requested_at - timedelta(hours=3)).isoformat(), older.handoff_id],
    )
    waiting = store.waiting_handoffs()
    assert [handoff.handoff_id for handoff in waiting] == [older.handoff_id, newer.handoff_id]
    assert timedelta(hours=3) <= waiting[0].waited < timedelta(hours=3, minutes=5)
    assert store.waiting_handoff_for_case(case.case_id).handoff_id == newer.handoff_id
    assert store.resolve_handoff(newer.handoff_id, "bob") is not None
    assert store.resolve_handoff(newer.handoff_id, "bob") is None
    assert [handoff.handoff_id for handoff in store.waiting_handoffs()] == [older.handoff_id]
    entry = store.audit_log(case_id=case.case_id)[0]
    assert (entry.username, entry.action) == ("bob", "handoff_resolved")


@on_both_backends
def test_status_change_goes_through_the_case_store_and_the_audit_log(store: ConsoleStore) -> None:
    case = store.cases.open_case("s1", "rest", "misswipe", Facts())
    store.set_status(case.case_id, "with_bank", "alice")
    store.set_status(case.case_id, "with_bank", "alice")  # no change, nothing logged
    events = [event for event in store.cases.events(case.case_id) if event["event"] == "status"]
    assert [event["detail"] for event in events] == [{"from": "open", "to": "with_bank"}]
    (entry,) = store.audit_log(case_id=case.case_id)
    assert (entry.username, entry.action, entry.detail) == (
        "alice",
        "status_changed",
        {"from": "open", "to": "with_bank"},
    )
    with pytest.raises(ValueError):
        store.set_status(case.case_id, "lost", "alice")


@on_both_backends
def test_notes_tags_and_reviews_are_kept_and_audited(store: ConsoleStore) -> None:
    case = store.cases.open_case("s1", "rest", "misswipe", Facts())
    store.add_note(case.case_id, "  已电话联系用户  ", "alice")
    assert [note.text for note in store.notes(case.case_id)] == ["已电话联系用户"]
    with pytest.raises(ValueError):
        store.add_note(case.case_id, "   ", "alice")
    store.add_tag(case.case_id, "需回电", "alice")
    store.add_tag(case.case_id, "需回电", "bob")
    with pytest.raises(ValueError):
        store.add_tag(case.case_id, "<b>x</b>", "alice")
    assert store.tags(case.case_id) == ["需回电"] and store.all_tags() == ["需回电"]
    store.remove_tag(case.case_id, "需回电", "bob")
    assert store.tags(case.case_id) == []
    review = store.mark_reviewed("s1", "carol", 42, case.case_id)
    assert store.review("s1") == review and store.review("nobody") is None
    actions = [(entry.username, entry.action) for entry in reversed(store.audit_log(case_id=case.case_id))]
    assert actions == [
        ("alice", "note_added"),
        ("alice", "tag_added"),
        ("bob", "tag_removed"),
        ("carol", "conversation_reviewed"),
    ]


@on_both_backends
def test_flagging_a_message_again_replaces_its_annotation(store: ConsoleStore) -> None:
    common = {"sender_id": "s1", "event_id": 7, "text": "在华联被扣两次", "predicted_intent": "nlu_fallback",
              "confidence": 0.4}  # fmt: skip
    store.flag_example(**common, annotated="在华联被扣两次", intent="inform", username="alice")
    store.flag_example(
        **common, annotated="在[华联](merchant)被扣两次", intent="report_misswipe", username="bob"
    )
    (example,) = store.flagged_examples()
    assert (example.intent, example.annotated, example.flagged_by) == (
        "report_misswipe",
        "在[华联](merchant)被扣两次",
        "bob",
    )
    store.delete_flag(example.example_id, "bob")
    assert store.flagged_examples() == []
    assert [entry.action for entry in store.audit_log(sender_id="s1")] == [
        "example_unflagged",
        "example_flagged",
        "example_flagged",
    ]


@on_both_backends
def test_dashboard_figures(store: ConsoleStore) -> None:
    ids = seed(store)
    store.cases.mark_steps_done(ids["hualian"], ["contact_merchant", "gather_evidence"])
    store.cases.mark_steps_done(ids["old"], ["contact_merchant"])
    per_day = store.cases_per_day(CaseFilter(), days=30)
    assert len(per_day) == 30 and per_day[-1] == (date(2026, 11, 25), 4) and sum(n for _, n in per_day) == 4
    assert store.cases_per_day(CaseFilter(since=date(2026, 10, 1), until=date(2026, 10, 2))) == [
        (date(2026, 10, 1), 1),
        (date(2026, 10, 2), 0),
    ]
    assert store.steps_reached(CaseFilter(kind="misswipe")) == [2, 2, 1, 0, 0, 0, 0]
    assert store.status_counts(CaseFilter())["resolved"] == 1
    assert sum(store.status_counts(CaseFilter(bank="中国工商银行")).values()) == 2
    steps_done = store.db.execute("SELECT steps_done FROM cases WHERE case_id = ?", [ids["hualian"]])
    assert json.loads(steps_done.fetchone()[0]) == [
        "contact_merchant",
        "gather_evidence",
    ]


def resolved_case(
    store: ConsoleStore,
    kind: str,
    opened: datetime,
    *changes: tuple[str, datetime],
    rating: Rating | None = None,
) -> str:
    """A case opened at ``opened`` whose status changed as ``changes`` say, at those moments."""
    case_id = store.cases.open_case(f"{kind}-{opened:%m%d}", "rest", kind, Facts()).case_id
    store.db.execute("UPDATE cases SET created_at = ? WHERE case_id = ?", [opened.isoformat(), case_id])
    for status, _ in changes:
        store.cases.set_status(case_id, status)
    logged = [event["id"] for event in store.cases.events(case_id) if event["event"] == "status"]
    for event_id, (_, moment) in zip(logged, changes, strict=True):
        store.db.execute("UPDATE case_events SET at = ? WHERE id = ?", [moment.isoformat(), event_id])
    if rating is not None:
        store.cases.record_feedback(case_id, rating, None, "rest")
    return case_id


@on_both_backends
def test_time_to_resolution_and_satisfaction_per_path_and_per_week(store: ConsoleStore) -> None:
    day = date(2026, 11, 1)
    resolved_case(
        store,
        "misswipe",
        at(day.replace(day=20)),
        ("resolved", at(day.replace(day=23))),
        rating=Rating(5, "satisfied"),
    )  # 3 days, resolved Monday of 2026-W48
    resolved_case(
        store,
        "misswipe",
        at(day.replace(day=16)),
        ("resolved", at(day.replace(day=17), 22)),
        rating=Rating(1, "dissatisfied"),
    )  # 1.5 days, W47
    resolved_case(
        store, "misswipe", at(day.replace(day=10)), ("resolved", at(day.replace(day=20)))
    )  # 10, W47
    resolved_case(
        store,
        "failed_charge",
        at(day.replace(day=24)),
        ("with_bank", at(day.replace(day=24), 12)),
        ("resolved", at(day.replace(day=25), 16)),
        rating=Rating(3, "neutral"),
    )  # 1.25 days, W48
    # Reopened and resolved again: 3 days to its last resolution (Friday of W47).
    resolved_case(store, "merchant", at(day.replace(day=18)), ("resolved", at(day.replace(day=19))),
                  ("open", at(day.replace(day=19), 12)), ("resolved", at(day.replace(day=21))),
                  rating=Rating(5, "satisfied"))  # fmt: skip
    resolved_case(store, "unauthorized", at(day.replace(day=20)), ("closed", at(day.replace(day=21))))
    resolved_case(
        store, "misswipe", at(date(2026, 10, 1)), ("resolved", at(date(2026, 10, 2)))
    )  # before the window

    by_path, by_week = store.outcomes(CaseFilter())
    figures = [(row.group, row.resolved, row.median_days, row.mean_days, row.ratings, row.average_score,
                row.satisfied_share) for row in by_path]  # fmt: skip
    assert figures == [
        ("misswipe", 3, 3.0, pytest.approx(14.5 / 3), 2, 3.0, 0.5),
        ("failed_charge", 1, 1.25, 1.25, 1, 3.0, 0.0),
        ("unauthorized", 0, None, None, 0, None, None),
        ("merchant", 1, 3.0, 3.0, 1, 5.0, 1.0),
    ]
    weeks = [(row.group, row.resolved, row.median_days, row.mean_days, row.ratings, row.average_score,
              row.satisfied_share) for row in by_week]  # fmt: skip
    assert weeks == [
        ("2026-W47", 3, 3.0, pytest.approx(14.5 / 3), 2, 3.0, 0.5),
        ("2026-W48", 2, 2.125, 2.125, 2, 4.0, 0.5),
    ]
    # The filter's range and its other fields apply as everywhere on the dashboard.
    october = CaseFilter(since=date(2026, 10, 1), until=date(2026, 10, 31))
    assert [(row.group, row.resolved, row.median_days) for row in store.outcomes(october)[1]] == [
        ("2026-W40", 1, 1.0)
    ]
    by_path, by_week = store.outcomes(CaseFilter(kind="failed_charge"))
    assert [row.resolved for row in by_path] == [0, 1, 0, 0] and [row.group for row in by_week] == [
        "2026-W48"
    ]


@on_both_backends
def test_a_status_change_and_its_audit_entry_commit_together(
    store: ConsoleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = store.cases.open_case("s1", "rest", "misswipe", Facts())
    store.cases.add_checklist_link(case.case_id, "a" * 64, case.created_at + timedelta(days=1))

    def broken_audit(*args: object) -> None:
        raise OSError("the audit log is full")

    monkeypatch.setattr(console_store, "write_audit", broken_audit)
    for change in (lambda: store.set_status(case.case_id, "with_bank", "alice"),
                   lambda: store.revoke_checklist_links(case.case_id, "alice")):  # fmt: skip
        with pytest.raises(OSError):
            change()
    assert store.cases.get(case.case_id).status == "open"
    assert store.cases.case_for_checklist_link("a" * 64) is not None
    logged = [event["event"] for event in store.cases.events(case.case_id)]
    assert logged == ["created", "follow_up_scheduled"]
    assert [follow_up.status for follow_up in store.follow_ups(case.case_id)] == ["pending"]


def open_in_a_process(url: str, console: bool, barrier: Barrier) -> None:
    barrier.wait(timeout=120)
    (ConsoleStore(url) if console else open_store(url)).close()


@on_both_backends
def test_the_console_and_the_action_server_starting_on_a_new_database_migrate_it_once(
    settings: Settings,
) -> None:
    """`make run` starts both together; neither may find the other's tables half made."""
    url = database_url(settings.case_db)
    spawn = multiprocessing.get_context("spawn")  # a clean interpreter, as each server is
    barrier = spawn.Barrier(4)
    processes = [
        spawn.Process(target=open_in_a_process, args=(url, number % 2 == 0, barrier)) for number in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
        assert process.exitcode == 0
    store = ConsoleStore(url)
    names = [row["name"] for row in store.db.query("SELECT name FROM _migrations")]
    assert sorted(names) == sorted(name for name, _ in MIGRATIONS)
    store.close()
