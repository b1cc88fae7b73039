"""The queue on 100,000 cases: every page is an index range scan, never a sort of the whole table.

Asserted through EXPLAIN QUERY PLAN rather than timing, which would flake on a busy machine.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.console.store import CaseFilter, ConsoleStore, Cursor
from bot.domain.cases import KINDS, ROLES
from bot.storage import open_store

CASES = 100_000
STATUSES_CYCLE = ("open", "open", "waiting_merchant", "with_bank", "escalated", "resolved", "closed")
BANKS = ("中国工商银行", "招商银行", "中国建设银行", "中国银行", "交通银行")
MERCHANTS = ("华联超市", "沃尔玛", "海底捞", "星巴克", "全家便利店", "老王烧烤")


def json_list(values: tuple[str, ...]) -> str:
    return json.dumps(values, ensure_ascii=False)


# Generated inside SQLite: building 100,000 dicts for insert_all costs ~25 s of
# Python on this machine, this costs well under one.
GENERATE = f"""
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {CASES - 1}),
numbered AS (SELECT i, date(:first_day, '+' || (i / 500) || ' days') AS day FROM n)
INSERT INTO cases (case_id, kind, role, sender_id, channel, status, bank, amount, merchant, card_last4,
                   steps_done, handoff_requested, created_at, updated_at)
SELECT 'WS-' || replace(day, '-', '') || '-' || printf('%04d', i % 500 + 1),
       json_extract(:kinds, '$[' || (i % 4) || ']'),
       json_extract(:roles, '$[' || (i % 4) || ']'),
       'sender-' || i,
       json_extract('["rest", "socketio", "wechat"]', '$[' || (i % 3) || ']'),
       json_extract(:statuses, '$[' || (i % 7) || ']'),
       json_extract(:banks, '$[' || (i % 5) || ']'),
       i % 5000 + 1,
       json_extract(:merchants, '$[' || (i % 6) || ']') || (i % 97) || '号店',
       printf('%04d', i % 10000),
       CASE WHEN i % 2 THEN '["contact_merchant"]' ELSE '[]' END,
       0,
       day || printf('T%02d:%02d:00+08:00', 8 + i % 12, i % 60),
       day || 'T20:00:00+08:00'
FROM numbered
"""


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> ConsoleStore:
    path: Path = tmp_path_factory.mktemp("big") / "cases.db"
    cases = open_store(str(path))
    cases.db.execute(
        GENERATE,
        {
            "first_day": (date(2026, 11, 25) - timedelta(days=CASES // 500 - 1)).isoformat(),
            "kinds": json_list(KINDS),
            "roles": json_list(tuple(ROLES[kind] for kind in KINDS)),
            "statuses": json_list(STATUSES_CYCLE),
            "banks": json_list(BANKS),
            "merchants": json_list(MERCHANTS),
        },
    )
    assert cases.db.execute("SELECT count(*) FROM cases").fetchone()[0] == CASES
    return ConsoleStore(path)


def plan(store: ConsoleStore, case_filter: CaseFilter, **cursor: Cursor) -> str:
    sql = store.page_query(case_filter, **cursor).compile(compile_kwargs={"literal_binds": True})
    return "\n".join(row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}"))


@pytest.mark.parametrize(
    ("case_filter", "index"),
    [
        (CaseFilter(), "idx_cases_created_at_case_id"),
        (CaseFilter(statuses=("open",)), "idx_cases_status_created_at_case_id"),
        (CaseFilter(kind="merchant"), "idx_cases_kind_created_at_case_id"),
        (CaseFilter(bank="招商银行"), "idx_cases_bank_created_at_case_id"),
        (CaseFilter(channel="wechat"), "idx_cases_channel_created_at_case_id"),
        (CaseFilter(since=date(2026, 10, 1), until=date(2026, 10, 31)), "idx_cases_created_at_case_id"),
    ],
)
def test_every_page_is_an_index_range_without_a_sort(
    big_store: ConsoleStore, case_filter: CaseFilter, index: str
) -> None:
    cursor = Cursor("2026-09-01T12:00:00+08:00", "WS-20260901-0100")
    for query_plan in (plan(big_store, case_filter), plan(big_store, case_filter, after=cursor),
                       plan(big_store, case_filter, before=cursor)):  # fmt: skip
        assert f"USING INDEX {index}" in query_plan or f"USING COVERING INDEX {index}" in query_plan, (
            query_plan
        )
        assert "TEMP B-TREE" not in query_plan, query_plan
        assert "SCAN cases\n" not in query_plan + "\n", query_plan


def test_a_deep_page_is_a_range_seek_on_the_cursor(big_store: ConsoleStore) -> None:
    query_plan = plan(
        big_store, CaseFilter(statuses=("open",)), after=Cursor("2026-06-01T00:00:00+08:00", "WS-X")
    )
    assert (
        "SEARCH cases USING INDEX idx_cases_status_created_at_case_id "
        "(status=? AND (created_at,case_id)<(?,?))" in (query_plan)
    )


def test_walking_pages_covers_the_filtered_cases_in_order(big_store: ConsoleStore) -> None:
    case_filter = CaseFilter(kind="merchant", bank="招商银行")
    page = big_store.queue(case_filter, limit=50)
    assert page.total == CASES // 20
    seen: list[str] = []
    for _ in range(5):
        seen += [row.case_id for row in page.rows]
        assert all(row.kind == "merchant" and row.bank == "招商银行" for row in page.rows)
        page = big_store.queue(case_filter, after=page.older, limit=50)
    keys = [(row.cursor.created_at, row.case_id) for row in big_store.queue(case_filter, limit=250).rows]
    assert len(seen) == len(set(seen)) == 250 and seen == [case_id for _, case_id in keys]


def test_search_and_counts_work_at_scale(big_store: ConsoleStore) -> None:
    found = big_store.queue(CaseFilter(search="WS-20261125-0007"), limit=10)
    assert [row.case_id for row in found.rows] == ["WS-20261125-0007"]
    assert big_store.count(CaseFilter(search="老王烧烤 96号店")) > 0
    assert big_store.count(CaseFilter(statuses=("resolved", "closed"))) == pytest.approx(CASES * 2 / 7, abs=2)
