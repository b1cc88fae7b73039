"""Staff access to personal data: every look at a case or a conversation is in the audit log (a reload
within minutes logged once), the case page lists who looked, exports are logged without search terms,
and admins delete a user's personal data through the Rasa server after a confirmation page.

The Rasa server's staff channel is a recording fake of ``bot.infra.staff_bridge.call``.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from console_support import Console, database_url, on_both_backends, open_mis_swipe
from tracker_events import session, user, write_events

from bot.console import store as console_store
from bot.console.cli import main
from bot.console.pages.erasure import erasure
from bot.console.settings import Settings
from bot.console.store import AuditEntry, ConsoleStore
from bot.domain.cases import Facts
from bot.domain.clock import CHINA, now
from bot.infra import staff_bridge
from bot.infra.staff_bridge import BridgeAnswer
from bot.storage import case_log
from bot.storage.erasure import ERASED_EVENT, USER, erase_conversation, erase_tracker_events

# What open_mis_swipe's user said and gave: none of it may reach the audit log.
PERSONAL = ("华联超市", "1234", "3000", "工商银行", "重复扣款", "啥时候回来")


def views(store: ConsoleStore, **where: str) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (entry.username, entry.action, entry.case_id, entry.sender_id)
        for entry in reversed(store.audit_log(views=True, **where))
    ]


def age_views(store: ConsoleStore, minutes: int) -> None:
    """Move every logged view ``minutes`` into the past, as if the staff member had come back later."""
    for entry in store.audit_log(views=True, limit=1000):
        earlier = (entry.at - timedelta(minutes=minutes)).isoformat()
        store.db.execute("UPDATE audit_log SET at = ? WHERE id = ?", [earlier, entry.entry_id])


def assert_no_personal_data(store: ConsoleStore) -> None:
    """No audit entry says anything of the user; its id and time are numbers of the log's own."""
    for row in store.db.query("SELECT * FROM audit_log"):
        said = json.dumps(
            {name: value for name, value in row.items() if name not in ("id", "at")}, ensure_ascii=False
        )
        for text in PERSONAL:
            assert text not in said, (text, said)


@on_both_backends
def test_looking_at_a_case_or_a_conversation_is_logged_once_per_person_within_ten_minutes(
    console: Console,
) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    alice, bob = console.signed_in(), console.signed_in("bob", role="agent")
    conversation = {"sender": case.sender_id}

    assert alice.get(f"/cases/{case.case_id}").status_code == 200
    assert alice.get(f"/cases/{case.case_id}").status_code == 200  # a reload
    # The transcript was on the case page: its own page and its live stream add nothing yet.
    assert alice.get("/conversation", params=conversation).status_code == 200
    assert views(console.store) == [("alice", "case_viewed", case.case_id, case.sender_id)]
    assert bob.get("/conversation", params=conversation).status_code == 200
    assert bob.get(f"/cases/{case.case_id}").status_code == 200  # the case's facts are new to bob
    assert views(console.store)[1:] == [
        ("bob", "conversation_viewed", None, case.sender_id),
        ("bob", "case_viewed", case.case_id, case.sender_id),
    ]

    age_views(console.store, 11)
    alice.get(f"/cases/{case.case_id}")
    bob.get("/conversation", params=conversation)
    assert views(console.store)[3:] == [
        ("alice", "case_viewed", case.case_id, case.sender_id),
        ("bob", "conversation_viewed", None, case.sender_id),
    ]
    assert_no_personal_data(console.store)


def test_the_live_stream_is_logged_when_it_opens_unless_its_page_just_was(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.console.pages.takeover.STREAM_SECONDS", 0.2)
    case, _ = open_mis_swipe(console.store, console.settings)
    alice = console.signed_in()
    stream = {"sender": case.sender_id}
    assert "啥时候回来" in alice.get("/conversation/stream", params=stream).text
    assert views(console.store) == [("alice", "conversation_viewed", None, case.sender_id)]
    alice.get("/conversation/stream", params=stream)  # the browser reconnects
    assert len(views(console.store)) == 1
    age_views(console.store, 11)  # a page left open: its stream reconnects later
    alice.get("/conversation/stream", params=stream)
    assert len(views(console.store)) == 2


def test_each_day_a_staff_member_looks_is_logged_even_within_ten_minutes(
    store: ConsoleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [datetime(2026, 11, 25, 23, 58, tzinfo=CHINA)]
    for module in (console_store, case_log):  # the window's clock, and the entries' (bot.storage.case_log)
        monkeypatch.setattr(module, "now", lambda: clock[0])
    assert store.record_view("alice", "case_viewed", "WS-20261125-0001", "rest:a")
    clock[0] += timedelta(minutes=1)
    assert not store.record_view("alice", "case_viewed", "WS-20261125-0001", "rest:a")
    assert store.record_view("alice", "case_viewed", "WS-20261125-0002", "rest:a")  # another case
    clock[0] += timedelta(minutes=3)  # 00:02 the next day
    assert store.record_view("alice", "case_viewed", "WS-20261125-0001", "rest:a")
    days = [entry.at.date().isoformat() for entry in store.audit_log(case_id="WS-20261125-0001")]
    assert days == ["2026-11-26", "2026-11-25"]


@on_both_backends
def test_the_case_page_lists_who_looked_at_it_and_its_conversation(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    other = console.store.cases.open_case("rest:other", "rest", "misswipe", Facts(amount=12.0))
    bob = console.signed_in("bob", role="agent")
    bob.get("/conversation", params={"sender": case.sender_id})
    bob.get(f"/cases/{other.case_id}")
    alice = console.signed_in()
    page = alice.get(f"/cases/{case.case_id}").text
    listed = page[page.index('id="views"') :]
    listed = listed[: listed.index("</section>")]
    assert "查看记录" in listed
    assert listed.index("alice") < listed.index("bob")  # newest first
    assert "查看案件" in listed and "查看对话" in listed and other.case_id not in listed
    assert f'href="/audit?case={case.case_id}"' in listed
    assert "查看案件" not in page[page.index("操作记录") : page.index('id="views"')]  # changes only there
    bob_page = bob.get(f"/cases/{case.case_id}").text
    assert "查看记录" in bob_page and "/audit?case=" not in bob_page  # the audit log is for admins

    audit = alice.get("/audit", params={"case": case.case_id.lower()})
    assert audit.status_code == 200 and f"案件 {case.case_id} 的操作记录" in audit.text
    assert audit.text.count("查看案件") == 2 and "查看对话" in audit.text
    assert other.case_id not in audit.text
    assert alice.get("/audit", params={"case": "WS-19990101-0001"}).status_code == 404


@on_both_backends
def test_exports_are_logged_with_their_size_and_without_the_search_term(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    console.store.cases.open_case("rest:other", "rest", "misswipe", Facts(amount=12.0))
    alice = console.signed_in()
    download = alice.get("/export/transcripts.json", params={"q": "1234", "kind": "misswipe"})
    assert download.status_code == 200 and case.case_id in download.text
    [entry] = console.store.audit_log()[:1]
    assert (entry.username, entry.action) == ("alice", "exported")
    assert entry.detail == {
        "what": "transcripts",
        "format": "json",
        "cases": 1,
        "filter": [["kind", "misswipe"]],
        "searched": True,
    }
    assert "transcripts.json，1个案件" in alice.get("/audit").text
    assert_no_personal_data(console.store)


def run_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setenv("CASE_STORE_URL", database_url(settings.case_db))
    monkeypatch.setenv("TRACKER_DB_URL", database_url(settings.tracker_db))
    return main(list(argv), stdin=io.StringIO(), stdout=io.StringIO())


def test_the_command_line_logs_a_case_shown_and_the_file_an_export_wrote(
    store: ConsoleStore, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, _ = open_mis_swipe(store, settings)
    actor = f"cli:{os.environ.get('USER') or 'unknown'}"
    assert run_cli(settings, monkeypatch, "cases", "show", case.case_id) == 0
    assert views(store) == [(actor, "case_viewed", case.case_id, case.sender_id)]
    target = tmp_path / "out.csv"
    assert run_cli(settings, monkeypatch, "export", "--format", "csv", "--output", str(target)) == 0
    entry = store.audit_log()[0]
    assert (entry.username, entry.action, entry.detail["path"]) == (actor, "exported", str(target.resolve()))
    assert entry.detail["cases"] == 1


@dataclass
class FakeRasa:
    """The Rasa server's ``erase``: records the call and erases as it does (bot.storage.erasure), or fails."""

    settings: Settings
    store: ConsoleStore
    answer: BridgeAnswer
    calls: list[tuple[str, str, str]]

    async def erase(
        self, rasa_url: str, conversation_id: str, requested_by: str, *, reason: str, after_turn: bool = False
    ) -> BridgeAnswer:
        self.calls.append((reason, conversation_id, requested_by))
        if self.answer.ok:
            erase_conversation(self.store.cases, conversation_id, requested_by=requested_by, reason=reason)
            erase_tracker_events(self.settings.tracker_db, conversation_id)
        return self.answer


@pytest.fixture
def rasa(console: Console, monkeypatch: pytest.MonkeyPatch) -> FakeRasa:
    fake = FakeRasa(console.settings, console.store, BridgeAnswer(True), [])
    monkeypatch.setattr(staff_bridge, "erase", fake.erase)
    return fake


def erasures(store: ConsoleStore) -> list[AuditEntry]:
    return [entry for entry in store.audit_log() if entry.action == ERASED_EVENT]


@on_both_backends
def test_an_admin_deletes_a_users_personal_data_after_confirming(console: Console, rasa: FakeRasa) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    alice = console.signed_in()
    page = alice.get(f"/cases/{case.case_id}").text
    confirm_url = f"/conversation/erase?sender={case.sender_id}&amp;case={case.case_id}"
    assert "删除该用户的个人信息" in page and confirm_url in page
    confirm = alice.get("/conversation/erase", params={"sender": case.sender_id, "case": case.case_id})
    assert confirm.status_code == 200 and rasa.calls == []  # looking at the question deletes nothing
    for said in ("将删除", "卡号后四位", "全部聊天记录", "将保留", "处理结果", "删除人（alice）", "无法恢复"):
        assert said in confirm.text, said

    done = alice.submit("/conversation/erase", {"sender": case.sender_id, "case": case.case_id})
    assert rasa.calls == [("staff_request", case.sender_id, "alice")]
    assert done.status_code == 200 and done.url.endswith(f"/cases/{case.case_id}?erased=1")
    assert "已删除该用户的个人信息。" in done.text and "已删除个人信息（" in done.text
    assert "，alice）" in done.text and "华联超市" not in done.text and "这段对话没有记录" in done.text
    assert confirm_url not in done.text  # nothing left to delete
    [entry] = erasures(console.store)  # one record of it, written by the erasure itself
    assert entry.username == "alice" and entry.detail["case_ids"] == [case.case_id]
    assert entry.sender_id is None
    assert "删除个人信息" in alice.get("/audit").text
    assert_no_personal_data(console.store)


def test_a_conversation_without_a_case_is_erased_from_its_own_page(console: Console, rasa: FakeRasa) -> None:
    write_events(console.settings.tracker_db, "rest:no-case", [*session(), user("你好", "greet")], now())
    alice = console.signed_in()
    assert "/conversation/erase?sender=rest%3Ano-case" in alice.get("/conversation?sender=rest:no-case").text
    done = alice.submit("/conversation/erase", {"sender": "rest:no-case"})
    assert done.status_code == 200 and "已删除这段对话中用户的个人信息" in done.text
    assert rasa.calls == [("staff_request", "rest:no-case", "alice")]
    assert [entry.username for entry in erasures(console.store)] == ["alice"]
    assert "你好" not in alice.get("/conversation?sender=rest:no-case").text


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [
        (BridgeAnswer(False, error="unreachable"), 502, "暂时连不上助手服务，个人信息没有删除。请稍后重试。"),
        (BridgeAnswer(False, error="not_found"), 404, "助手服务找不到这段对话，个人信息没有删除。"),
        (BridgeAnswer(False, error="refused"), 409, "助手服务拒绝了删除请求，个人信息没有删除。"),
    ],
)
def test_a_failed_deletion_says_nothing_was_deleted(
    console: Console, rasa: FakeRasa, answer: BridgeAnswer, status: int, message: str
) -> None:
    rasa.answer = answer
    case, _ = open_mis_swipe(console.store, console.settings)
    failed = console.signed_in().submit(
        "/conversation/erase", {"sender": case.sender_id, "case": case.case_id}
    )
    assert failed.status_code == status and message in failed.text
    assert f'href="/conversation/erase?sender={case.sender_id}&amp;case={case.case_id}"' in failed.text
    assert len(rasa.calls) == 1 and not erasures(console.store)
    assert console.store.cases.get(case.case_id).facts.merchant == "华联超市"


def test_only_an_admin_may_delete_and_only_with_the_pages_token(console: Console, rasa: FakeRasa) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    bob = console.signed_in("bob", role="agent")
    assert "删除该用户的个人信息" not in bob.get(f"/cases/{case.case_id}").text
    assert "删除该用户的个人信息" not in bob.get("/conversation", params={"sender": case.sender_id}).text
    assert bob.get("/conversation/erase", params={"sender": case.sender_id}).status_code == 403
    refused = bob.submit("/conversation/erase", {"sender": case.sender_id})
    assert refused.status_code == 403 and "只有管理员" in refused.text
    alice = console.signed_in()
    forged = alice.post("/conversation/erase", data={"sender": case.sender_id}, allow_redirects=False)
    assert forged.status_code == 403
    assert alice.get("/conversation/erase", params={"sender": "rest:nobody"}).status_code == 404
    assert rasa.calls == []


def test_a_case_erased_at_the_users_own_request_says_so(store: ConsoleStore) -> None:
    case = store.cases.open_case("rest:a", "rest", "misswipe", Facts(amount=12.0))
    assert erasure(case) is None
    erase_conversation(store.cases, "rest:a", requested_by=USER, reason="user_request")
    found = erasure(store.cases.get(case.case_id))
    assert found is not None and found.by == USER
