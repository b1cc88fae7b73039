"""The retention purge on a large store while the bot keeps writing (issue 23).

    PYTHONPATH=$PWD .venv/bin/python -m bench.purge [--cases 100000] [--postgres] [--out var/bench_purge.json]
    make bench-purge

Generates ``--cases`` closed cases, one conversation each, aged past the
retention period, with their case events and transcripts (bulk inserts), plus
as many open ones that must stay. Runs the dry run, then the real run, while a
writer thread opens cases and changes their facts without pause and records
its longest call: the purge's batches must never keep it waiting a second.
Checks that both runs selected the same cases and that the open ones are
untouched. Prints and writes the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.domain.cases import ROLES, Facts
from bot.domain.clock import now
from bot.storage import open_store
from bot.storage.cases import SQLCaseStore
from bot.storage.database import Database
from bot.storage.erasure import DEFAULT_RETENTION_DAYS, purge_closed_cases
from bot.storage.schema import case_events, cases

MAX_WRITER_WAIT_SECONDS = 1.0
EVENTS_PER_TRANSCRIPT = 6
# Rasa 3.6's `events` table (SQLTrackerStore.SQLEvent).
EVENTS = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


def generate(store: SQLCaseStore, tracker: Database, count: int, chunk: int = 10_000) -> list[str]:
    """``count`` old closed cases and ``count // 10`` old open ones; returns the closed ones' ids."""
    closed_at = now() - timedelta(days=DEFAULT_RETENTION_DAYS + 30)
    stamp = closed_at.isoformat()
    EVENTS.metadata.create_all(tracker.engine)
    closed_ids = []
    for start in range(0, count + count // 10, chunk):
        numbers = range(start, min(start + chunk, count + count // 10))
        rows = [_case_row(number, "closed" if number < count else "open", stamp) for number in numbers]
        closed_ids += [row["case_id"] for row in rows if row["status"] == "closed"]
        events = [{"case_id": row["case_id"], "at": stamp, "event": name, "detail": "{}"}
                  for row in rows for name in ("created", "status")]  # fmt: skip
        transcript = [_event(row, closed_at.timestamp() + offset) for row in rows
                      for offset in range(EVENTS_PER_TRANSCRIPT)]  # fmt: skip
        store.db.run(lambda: _insert_all(store.db, (cases, rows), (case_events, events)))  # noqa: B023
        tracker.run(lambda: tracker.execute(EVENTS.insert(), transcript))  # noqa: B023
    return closed_ids


def _case_row(number: int, status: str, stamp: str) -> dict[str, Any]:
    return {"case_id": f"WS-20260101-{number:07d}", "kind": "misswipe", "role": ROLES["misswipe"],
            "sender_id": f"rest:bench-{number:07d}", "channel": "rest", "status": status, "bank": "招商银行",
            "amount": 3456.78, "merchant": "华联超市", "card_last4": f"{number % 10_000:04d}",
            "steps_done": "[]", "handoff_requested": 0, "created_at": stamp, "updated_at": stamp,
            "unknown_facts": "[]"}  # fmt: skip


def _event(case: dict[str, Any], timestamp: float) -> dict[str, Any]:
    text = f"{case['merchant']}多扣了{case['amount']}元，尾号{case['card_last4']}"
    return {"sender_id": case["sender_id"], "type_name": "user", "timestamp": timestamp,
            "intent_name": "report_misswipe", "action_name": None,
            "data": json.dumps({"event": "user", "text": text})}  # fmt: skip


def _insert_all(db: Database, *batches: tuple[sa.Table, list[dict[str, Any]]]) -> None:
    for table, rows in batches:
        db.execute(table.insert(), rows)


class Writer(threading.Thread):
    """Opens a case and changes its facts, again and again; remembers its longest call."""

    def __init__(self, store: SQLCaseStore) -> None:
        super().__init__(daemon=True)
        self.store, self.stop, self.longest, self.calls = store, threading.Event(), 0.0, 0
        self.phase, self.slowest = "dry run", []  # (seconds, phase, call number) of the slowest calls

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            sender = f"rest:writer-{number}"
            self._timed(lambda: self.store.open_case(sender, "rest", "misswipe", Facts(bank="招商银行")))  # noqa: B023
            case = self.store.current_case(sender)
            assert case is not None
            self._timed(lambda: self.store.update_facts(case.case_id, Facts(merchant="沃尔玛")))  # noqa: B023

    def _timed(self, call: Callable[[], object]) -> None:
        started = time.perf_counter()
        call()
        took = time.perf_counter() - started
        self.longest = max(self.longest, took)
        self.calls += 1
        self.slowest = sorted([*self.slowest, (round(took, 3), self.phase, self.calls)], reverse=True)[:5]


def run(store_url: str, tracker_location: str | Path, count: int) -> dict[str, Any]:
    store = open_store(store_url)
    tracker = Database(tracker_location)
    try:
        started = time.perf_counter()
        closed_ids = generate(store, tracker, count)
        generated = time.perf_counter() - started
        writer = Writer(store)
        writer.start()
        started = time.perf_counter()
        dry = purge_closed_cases(store, tracker, dry_run=True)
        dry_seconds = time.perf_counter() - started
        started = time.perf_counter()
        writer.phase = "real run"
        real = purge_closed_cases(store, tracker, dry_run=False)
        real_seconds = time.perf_counter() - started
        writer.stop.set()
        writer.join()
        open_left = store.db.execute(
            "SELECT count(*) FROM cases WHERE status = 'open' AND erased_at IS NULL"
        ).fetchone()[0]
        with tracker.engine.connect() as connection:
            events_left = connection.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
        result = {
            "backend": store.db.dialect.name,
            "cases": count,
            "generate_seconds": round(generated, 1),
            "dry_run_seconds": round(dry_seconds, 1),
            "real_run_seconds": round(real_seconds, 1),
            "selected_dry": len(dry.erased.case_ids),
            "selected_real": len(real.erased.case_ids),
            "runs_agree": sorted(dry.erased.case_ids) == sorted(real.erased.case_ids) == sorted(closed_ids),
            "tracker_events_deleted": real.erased.counts["tracker_events"],
            "tracker_events_left": events_left,
            "open_cases_untouched": open_left >= count // 10,
            "writer_calls": writer.calls,
            "writer_max_wait_seconds": round(writer.longest, 3),
            "writer_slowest": writer.slowest,
        }
        result["ok"] = bool(result["runs_agree"] and result["open_cases_untouched"]
                            and writer.longest < MAX_WRITER_WAIT_SECONDS)  # fmt: skip
        return result
    finally:
        store.close()
        tracker.close()


@contextmanager
def postgres() -> Iterator[str]:
    from scripts.pg_service import PostgresService
    from scripts.rasa_env import free_port

    with tempfile.TemporaryDirectory(prefix="wushua-bench-pg-", ignore_cleanup_errors=True) as data_dir:
        service = PostgresService(Path(data_dir), free_port(), durable=False)
        service.start()
        try:
            yield service.create_database("bench_purge")
        finally:
            service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="also on a PostgreSQL server of its own")
    parser.add_argument("--out", default="var/bench_purge.json")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="wushua-bench-purge-") as directory:
        results.append(run(f"sqlite:///{directory}/cases.db", Path(directory) / "tracker.db", args.cases))
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    if args.postgres:
        with postgres() as url:
            results.append(run(url, url, args.cases))
            print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if not all(result["ok"] for result in results):
        raise SystemExit("the purge failed its checks (see ok, runs_agree, writer_max_wait_seconds)")


if __name__ == "__main__":
    main()
