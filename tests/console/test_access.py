"""Who may do what in the web console: agents and admins, disabled accounts, ended and idle sessions."""

from __future__ import annotations

import time
from datetime import timedelta

from console_support import (
    FIRST_LOGIN_DELAY,
    PASSWORD,
    Console,
    ConsoleSession,
    add_user,
    on_both_backends,
    open_mis_swipe,
)

from bot.domain.clock import now

ADMIN_PAGES = (
    "/export/cases.csv",
    "/export/transcripts.json",
    "/teach/export.yml",
    "/audit",
    "/users",
    "/conversation/erase?sender=alice-phone",
)


def set_last_seen(console: Console, username: str, ago: timedelta) -> None:
    console.store.db.execute(
        "UPDATE staff_sessions SET last_seen_at = ? WHERE username = ?", [(now() - ago).isoformat(), username]
    )


def is_signed_in(browser: ConsoleSession) -> bool:
    return browser.get("/", allow_redirects=False).status_code == 200


@on_both_backends
def test_an_agent_works_cases_but_cannot_export_or_manage_staff(console: Console) -> None:
    case, user_ids = open_mis_swipe(console.store, console.settings)
    agent = console.signed_in("bob", role="agent")
    queue = agent.get("/").text
    assert case.case_id in queue and "导出：" not in queue and "/export/" not in queue
    assert 'href="/audit"' not in queue and 'href="/users"' not in queue
    for path in ADMIN_PAGES:
        response = agent.get(path, allow_redirects=False)
        assert response.status_code == 403 and "只有管理员" in response.text, path
    assert agent.submit("/users/alice/disable").status_code == 403
    # Everything an agent is for:
    for path in (f"/cases/{case.case_id}", "/conversations", f"/conversation?sender={case.sender_id}",
                 "/teach", "/dashboard"):  # fmt: skip
        assert agent.get(path).status_code == 200, path
    assert agent.submit(f"/cases/{case.case_id}/notes", {"text": "回电了"}).status_code == 200
    assert agent.submit(f"/cases/{case.case_id}/tags", {"tag": "需回电"}).status_code == 200
    assert agent.submit(f"/cases/{case.case_id}/status", {"status": "with_bank"}).status_code == 200
    flag = {"sender": case.sender_id, "event_id": str(user_ids[2]), "intent": "ask_refund_time"}
    assert agent.submit("/teach/flag", {**flag, "annotated": "那个钱啥时候回来", "next": "/teach"}).ok
    teach = agent.get("/teach").text
    assert "1 条待管理员导出" in teach and "/teach/export.yml" not in teach
    review = {"sender": case.sender_id, "case_id": case.case_id, "next": f"/cases/{case.case_id}"}
    assert agent.submit("/conversation/review", review).status_code == 200
    actions = {entry.action for entry in console.store.audit_log()}
    assert {
        "note_added",
        "tag_added",
        "status_changed",
        "example_flagged",
        "conversation_reviewed",
    } <= actions
    assert not actions & {"exported", "nlu_exported"}


def test_an_admin_sees_and_uses_what_an_agent_may_not(console: Console) -> None:
    open_mis_swipe(console.store, console.settings)
    admin = console.signed_in()
    queue = admin.get("/").text
    assert "导出：" in queue and 'href="/audit"' in queue and 'href="/users"' in queue
    for path in ADMIN_PAGES:
        assert admin.get(path).status_code == 200, path


@on_both_backends
def test_disabling_a_user_ends_their_sessions_at_once_and_is_audited(console: Console) -> None:
    admin = console.signed_in()
    agent = console.signed_in("bob", role="agent")
    users = admin.get("/users").text
    assert "bob" in users and "客服" in users and "管理员" in users
    done = admin.submit("/users/bob/disable")
    assert done.url.endswith("/users") and "已停用" in done.text
    assert not is_signed_in(agent)
    refused = console.session().login("bob", PASSWORD)
    assert refused.status_code == 403 and "已停用" in refused.text
    admin.submit("/users/bob/enable")
    time.sleep(FIRST_LOGIN_DELAY.total_seconds())  # the refused sign-in counted as a failure
    assert console.session().login("bob", PASSWORD).url.endswith("/")
    entries = [(entry.username, entry.action, entry.detail) for entry in console.store.audit_log()]
    assert ("alice", "user_disabled", {"username": "bob", "sessions": 1}) in entries
    assert ("alice", "user_enabled", {"username": "bob"}) in entries
    assert "停用账号" in admin.get("/audit").text


def test_revoking_and_roles_from_the_users_page(console: Console) -> None:
    admin = console.signed_in()
    agent = console.signed_in("bob", role="agent")
    assert agent.get("/export/cases.csv").status_code == 403
    admin.submit("/users/bob/role", {"role": "admin"})
    assert agent.get("/export/cases.csv").status_code == 200  # the open session has the new role
    admin.submit("/users/bob/revoke-sessions")
    assert not is_signed_in(agent)
    bob = console.signed_in("bob")
    bob.submit("/users/alice/role", {"role": "agent"})
    last = bob.submit("/users/bob/disable")
    assert last.status_code == 400 and "最后一个在用的管理员" in last.text
    assert bob.submit("/users/nobody/disable").status_code == 404
    assert is_signed_in(bob)


@on_both_backends
def test_a_session_ends_after_30_idle_minutes(console: Console) -> None:
    staff = console.signed_in()
    set_last_seen(console, "alice", timedelta(minutes=29))
    assert is_signed_in(staff)  # and that request counts as activity
    set_last_seen(console, "alice", timedelta(minutes=31))
    response = staff.get("/cases/WS-20261125-0001", allow_redirects=False)
    assert response.status_code == 303 and response.headers["Location"].startswith("/login?next=")
    assert console.store.db.execute("SELECT count(*) FROM staff_sessions").fetchone()[0] == 0


def test_the_client_address_comes_from_a_proxy_only_when_sanic_is_told_to_trust_it(console: Console) -> None:
    """The address whose failures make it wait: a header counts only behind a proxy Sanic trusts."""
    add_user(console.store, console.settings, "alice")
    browser = console.session()

    def recorded_address(claimed: str) -> str:
        assert browser.login("alice", PASSWORD, headers={"X-Forwarded-For": claimed}).url.endswith("/")
        browser.submit("/logout")
        return console.store.audit_log()[0].detail["ip"]

    # Without SANIC_PROXIES_COUNT (or SANIC_REAL_IP_HEADER) a client's claim is ignored.
    assert recorded_address("10.0.0.1") == "127.0.0.1"
    console.app.config.PROXIES_COUNT = 1  # as SANIC_PROXIES_COUNT=1 sets it
    assert recorded_address("10.0.0.1") == "10.0.0.1"
    assert recorded_address("6.6.6.6, 10.0.0.2") == "10.0.0.2"  # what the proxy added, not the client
    console.app.config.PROXIES_COUNT = None
    console.app.config.REAL_IP_HEADER = "x-real-ip"
    assert browser.login("alice", PASSWORD, headers={"X-Real-IP": "10.0.0.3"}).url.endswith("/")
    attempts = console.store.db.execute("SELECT ip FROM login_attempts ORDER BY id").fetchall()
    assert [row[0] for row in attempts] == ["127.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3"]
