"""Every endpoint of the web console, over real HTTP against the Sanic app."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
import requests
from console_support import (
    FIRST_LOGIN_DELAY,
    LOGIN_DELAY_CAP,
    PASSWORD,
    Console,
    at,
    on_both_backends,
    open_mis_swipe,
)
from tracker_events import entity, reply, session, user, write_events

from bot.console.settings import Settings
from bot.console.web import safe_next
from bot.domain.cases import Facts
from bot.domain.feedback import Rating
from bot.domain.links import case_for_link, new_checklist_link
from bot.domain.receipts import ReceiptReading

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def route_examples(console: Console) -> list[tuple[str, str]]:
    """(method, path) for every route the app has, with its parameters filled in."""
    examples = []
    for route in console.app.router.routes:
        path = "/" + route.path
        path = re.sub(r"<handoff_id:int>|<example_id:int>", "1", path)
        path = re.sub(r"<case_id:str>", "WS-20261125-0001", path)
        path = re.sub(r"<name:str>", "cases.csv", path)
        for method in route.methods:
            examples.append((method, path.replace("//", "/")))
    return sorted(set(examples))


def test_every_page_but_login_needs_a_session(console: Console) -> None:
    open_mis_swipe(console.store, console.settings)
    anonymous = console.session()
    routes = route_examples(console)
    assert len(routes) >= 20
    for method, path in routes:
        response = anonymous.request(method, path, allow_redirects=False)
        if path in ("/login", "/static/console.css"):
            assert response.status_code in (200, 403), (method, path)
        elif method == "GET":
            assert response.status_code == 303, (method, path)
            assert response.headers["Location"].startswith("/login?next=")
        else:
            assert response.status_code == 403, (method, path)
    forged = console.session()
    forged.cookies.set("console_session", "forged-token")
    assert forged.get("/", allow_redirects=False).status_code == 303


def test_every_post_needs_the_sessions_csrf_token(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    staff = console.signed_in()
    other = console.signed_in("bob")
    posts = [path for method, path in route_examples(console) if method == "POST" and path not in ("/login",)]
    assert len(posts) >= 9
    for path in posts:
        for token in (None, "", "not-the-token", other.csrf_token()):
            data = {"status": "closed", "text": "x", "tag": "x"} | (
                {} if token is None else {"csrf_token": token}
            )
            response = staff.post(path, data=data, allow_redirects=False)
            assert response.status_code == 403, (path, token)
            assert "页面已过期" in response.text
    assert console.store.cases.get(case.case_id).status == "open"
    assert console.store.audit_log(case_id=case.case_id) == []


@on_both_backends
def test_signing_in_and_out(console: Console) -> None:
    console.signed_in()  # creates alice
    browser = console.session()
    landing = browser.get("/cases/WS-20261125-0001?x=1")
    assert landing.url.endswith("/login?next=%2Fcases%2FWS-20261125-0001%3Fx%3D1")
    assert "登录" in landing.text
    wrong = browser.login("alice", "not the password", next_path="/dashboard")
    assert wrong.status_code == 401 and "用户名或密码不对" in wrong.text
    assert 'name="next" value="/dashboard"' in wrong.text
    time.sleep(FIRST_LOGIN_DELAY.total_seconds())  # the pause after a failure
    right = browser.login("alice", PASSWORD, next_path="/cases/WS-20261125-0001?x=1")
    assert right.url.endswith("/cases/WS-20261125-0001?x=1") and right.status_code == 404  # no such case yet
    assert browser.get("/login").url.endswith("/")
    out = browser.submit("/logout")
    assert out.url.endswith("/login")
    assert browser.get("/", allow_redirects=False).status_code == 303
    audit = console.store.audit_log()
    assert [(entry.username, entry.action) for entry in audit] == [
        ("alice", "signed_in"),
        ("alice", "signed_in"),
        ("test", "user_added"),
    ]


def test_login_form_needs_its_token(console: Console) -> None:
    console.signed_in()
    browser = console.session()
    response = browser.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
    browser.get("/login")
    response = browser.post(
        "/login", data={"username": "alice", "password": PASSWORD, "login_token": "forged"}
    )
    assert response.status_code == 403


@on_both_backends
def test_the_right_password_works_after_the_pause_that_follows_five_wrong_ones(console: Console) -> None:
    console.signed_in()
    console.signed_in("bob")
    browser = console.session()
    failures = 0
    while failures < 5:
        response = browser.login("alice", "wrong")
        if response.status_code == 429:  # still in the pause: neither checked nor counted
            assert "秒后再试" in response.text and int(response.headers["Retry-After"]) >= 1
            time.sleep(FIRST_LOGIN_DELAY.total_seconds() / 4)
            continue
        assert response.status_code == 401
        failures += 1
    # Five failures: the wait is now 16 times the first (4 s here; a second would be 16 s).
    throttled = browser.login("alice", PASSWORD)
    assert throttled.status_code == 429 and "请 4 秒后再试" in throttled.text
    # The same address (this test's) with another name waits too.
    assert browser.login("bob", PASSWORD).status_code == 429
    time.sleep(LOGIN_DELAY_CAP.total_seconds())
    assert browser.login("alice", PASSWORD).url.endswith("/")
    attempts = console.store.db.execute("SELECT count(*), sum(succeeded) FROM login_attempts").fetchone()
    assert tuple(attempts) == (8, 3)  # signed_in() twice, five wrong, one right


def test_next_only_ever_points_at_this_site() -> None:
    assert safe_next("/cases/WS-1?x=1") == "/cases/WS-1?x=1"
    for target in (
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "evil",
        "",
        None,
        "/x\r\nSet-Cookie: a",
    ):
        assert safe_next(target) == "/"


def test_cookies_are_http_only_strict_and_secure_off_localhost(console: Console) -> None:
    console.signed_in()
    browser = console.session()
    form = browser.get("/login")
    assert "HttpOnly" in form.headers["Set-Cookie"] and "SameSite=Strict" in form.headers["Set-Cookie"]
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)[1]
    signed_in = browser.post("/login", data={"login_token": token, "username": "alice", "password": PASSWORD},
                             allow_redirects=False)  # fmt: skip
    session_cookie = signed_in.headers["Set-Cookie"]
    assert "console_session=" in session_cookie and "HttpOnly" in session_cookie
    assert "SameSite=Strict" in session_cookie and "Secure" not in session_cookie
    # Reached by a real host name (behind a proxy), the cookie is Secure.
    remote = console.session()
    form = remote.get("/login", headers={"Host": "console.example.com"})
    assert "Secure" in form.headers["Set-Cookie"]


def test_the_secure_flag_can_be_forced_on() -> None:
    settings = Settings(case_db=":memory:", tracker_db=":memory:")  # type: ignore[arg-type]
    assert not settings.cookies_secure_for("localhost:5002") and not settings.cookies_secure_for("[::1]:5002")
    assert settings.cookies_secure_for("console.bank.cn")
    assert replace(settings, secure_cookies=True).cookies_secure_for("127.0.0.1:5002")
    assert not replace(settings, secure_cookies=False).cookies_secure_for("console.bank.cn")


def test_pages_allow_only_the_consoles_own_script_and_no_framing(console: Console) -> None:
    staff = console.signed_in()
    for path in ("/", "/login", "/dashboard"):
        response = staff.get(path)
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in response.headers["Content-Security-Policy"].split(";")
        )
        assert policy["default-src"] == "'none'"
        assert policy["script-src"] == "'self'" and policy["connect-src"] == "'self'"
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", response.text)  # no inline script
        assert (
            response.headers["X-Frame-Options"] == "DENY" and response.headers["Cache-Control"] == "no-store"
        )


def test_user_text_is_escaped_everywhere(console: Console) -> None:
    store, settings = console.store, console.settings
    sender = "xss" + XSS
    case = store.cases.open_case(sender, "rest", "misswipe", Facts(merchant=XSS, bank=XSS))
    store.cases.request_handoff(sender, "rest", case.case_id)
    text = "在" + XSS + "刷卡"
    write_events(
        settings.tracker_db,
        sender,
        [
            *session(),
            user(text, "report_misswipe", 0.9, [entity(text, "merchant", XSS)]),
            reply("utter_echo", XSS),
        ],
        at(date(2026, 11, 25)),
    )
    staff = console.signed_in()
    staff.submit(f"/cases/{case.case_id}/notes", {"text": XSS})
    event_id = re.search(r'id="e(\d+)"', staff.get(f"/cases/{case.case_id}").text)[1]
    flagged = staff.submit(
        "/teach/flag",
        {"sender": sender, "event_id": event_id, "intent": "report_misswipe", "annotated": text, "next": "/"},
    )
    assert flagged.status_code == 200
    pages = [staff.get(path).text for path in
             ("/", f"/cases/{case.case_id}", "/conversations",
              f"/conversation?sender={requests.utils.quote(sender)}",
              "/teach", "/audit", "/dashboard")]  # fmt: skip
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page
    case_page = pages[1]
    assert case_page.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") >= 4  # facts, note, user, bot
    assert unescape(case_page).count(XSS) >= 4


def test_card_numbers_in_transcripts_show_masked(console: Console) -> None:
    case = console.store.cases.open_case("leaky", "rest", "misswipe", Facts())
    write_events(
        console.settings.tracker_db,
        "leaky",
        [user("我的卡号是6222021234567890", "inform")],
        at(date(2026, 11, 20)),
    )
    staff = console.signed_in()
    for path in (f"/cases/{case.case_id}", "/conversation?sender=leaky", "/export/transcripts.json"):
        body = staff.get(path).text
        assert "6222021234567890" not in body and "尾号7890" in body


@on_both_backends
def test_the_queue_filters_searches_and_pins_handoffs(console: Console) -> None:
    store = console.store
    hualian, _ = open_mis_swipe(store, console.settings)
    fraud = store.cases.open_case("s2", "wechat", "unauthorized", Facts(bank="招商银行", card_last4="8888"))
    store.set_status(fraud.case_id, "with_bank", "alice")
    handoff = store.cases.request_handoff("s3", "wechat", None)
    store.db.execute(
        "UPDATE handoffs SET requested_at = ? WHERE id = ?",
        [(handoff.requested_at - timedelta(hours=2, minutes=5)).isoformat(), handoff.handoff_id],
    )
    staff = console.signed_in()
    page = staff.get("/").text
    assert page.index("等待人工") < page.index("<h1>案件队列")
    assert "2小时5分" in page and "对话 s3" in page and "共 2 件" in page

    def listed(**params: str) -> set[str]:
        body = staff.get("/", params=params).text
        return set(re.findall(r'<td><a href="/cases/[^"]+">(WS-[0-9-]+)</a></td>', body))

    assert listed() == {hualian.case_id, fraud.case_id}
    assert listed(status="with_bank") == {fraud.case_id}
    assert listed(kind="misswipe") == {hualian.case_id}
    assert listed(bank="招商银行") == {fraud.case_id}
    assert listed(channel="rest") == {hualian.case_id}
    assert listed(since="2026-11-26") == set()
    assert listed(q="华联") == {hualian.case_id}
    assert listed(q="8888") == {fraud.case_id}
    assert listed(q=fraud.case_id) == {fraud.case_id}
    assert "没有符合条件的案件" in staff.get("/", params={"q": "无此商户"}).text

    resolved = staff.submit(f"/handoffs/{handoff.handoff_id}/resolve", {"next": "/"})
    assert resolved.url.endswith("/") and "等待人工" not in resolved.text
    assert staff.submit(f"/handoffs/{handoff.handoff_id}/resolve").status_code == 404


def test_queue_pages_link_forward_and_back(console: Console) -> None:
    for number in range(55):
        console.store.cases.open_case(f"s{number}", "rest", "misswipe", Facts())
    staff = console.signed_in()
    first = staff.get("/", params={"kind": "misswipe"}).text
    assert first.count('<td><a href="/cases/') == 50 and "较新" not in first
    older = unescape(re.search(r'href="(/\?[^"]*after=[^"]+)"', first)[1])
    assert "kind=misswipe" in older
    second = staff.get(older).text
    assert second.count('<td><a href="/cases/') == 5 and "较早" not in second and "较新" in second


@on_both_backends
def test_the_case_page_shows_facts_steps_checklist_and_annotated_transcript(console: Console) -> None:
    case, user_ids = open_mis_swipe(console.store, console.settings)
    console.store.cases.mark_steps_done(case.case_id, ["contact_merchant"])
    page = console.signed_in().get(f"/cases/{case.case_id}").text
    for expected in ("中国工商银行", "3000元", "华联超市", "1234", "2026-11-24",
                     "联系商户", "收集凭证", "1/6", "☑", "☐", "95588",  # steps; checklist with the hotline
                     "report_misswipe", "0.97", "merchant", "utter_ask_bank", "工商银行",
                     "未识别", "兜底回复", "置信度低", "action_answer_question", "次选"):  # fmt: skip
        assert expected in page, expected
    assert f'id="e{user_ids[0]}"' in page
    assert console.signed_in().get("/cases/WS-19990101-0001").status_code == 404


@on_both_backends
def test_changing_the_status_is_logged_with_who_and_when(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    staff = console.signed_in()
    page = staff.submit(f"/cases/{case.case_id}/status", {"status": "waiting_merchant"})
    assert page.url.endswith(f"/cases/{case.case_id}") and "等待商户退款" in page.text
    assert console.store.cases.get(case.case_id).status == "waiting_merchant"
    assert console.store.cases.events(case.case_id)[-1]["detail"] == {
        "from": "open",
        "to": "waiting_merchant",
    }
    entry = console.store.audit_log(case_id=case.case_id, views=False)[0]
    assert (entry.username, entry.action) == ("alice", "status_changed")
    assert "更改状态" in page.text and "处理中 → 等待商户退款" in page.text
    assert staff.submit(f"/cases/{case.case_id}/status", {"status": "gone"}).status_code == 400
    assert staff.submit("/cases/WS-19990101-0001/status", {"status": "closed"}).status_code == 404


@on_both_backends
def test_staff_revoke_the_checklist_links_of_a_case(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    path = new_checklist_link(console.store.cases, case.case_id)
    token = path.rsplit("/", 1)[1]
    staff = console.signed_in()
    page = staff.submit(f"/cases/{case.case_id}/checklist-links/revoke")
    assert page.url.endswith(f"/cases/{case.case_id}")
    assert "使清单链接失效" in page.text and "：1个" in page.text
    assert case_for_link(console.store.cases, token) is None
    entry = console.store.audit_log(case_id=case.case_id, views=False)[0]
    assert (entry.username, entry.action, entry.detail) == ("alice", "checklist_links_revoked", {"links": 1})
    assert staff.submit("/cases/WS-19990101-0001/checklist-links/revoke").status_code == 404


@on_both_backends
def test_notes_tags_and_review(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    staff = console.signed_in()
    assert (
        "已电话联系，明天回电"
        in staff.submit(f"/cases/{case.case_id}/notes", {"text": "已电话联系，明天回电"}).text
    )
    assert staff.submit(f"/cases/{case.case_id}/notes", {"text": "  "}).status_code == 400
    tagged = staff.submit(f"/cases/{case.case_id}/tags", {"tag": "需回电"})
    assert 'href="/?tag=%E9%9C%80%E5%9B%9E%E7%94%B5"' in tagged.text
    assert staff.get("/", params={"tag": "需回电"}).text.count('<td><a href="/cases/') == 1
    assert staff.submit(f"/cases/{case.case_id}/tags", {"tag": "a b"}).status_code == 400
    staff.submit(f"/cases/{case.case_id}/tags/remove", {"tag": "需回电"})
    assert console.store.tags(case.case_id) == []
    assert "标记为已审阅" in staff.get(f"/cases/{case.case_id}").text
    reviewed = staff.submit(
        "/conversation/review",
        {"sender": case.sender_id, "case_id": case.case_id, "next": f"/cases/{case.case_id}"},
    )
    assert "已审阅" in reviewed.text and "标记为已审阅" not in reviewed.text
    write_events(
        console.settings.tracker_db, case.sender_id, [user("还在吗", "greet")], at(date(2026, 11, 25), 12)
    )
    assert "有新消息" in staff.get(f"/cases/{case.case_id}").text
    assert staff.submit("/conversation/review", {"sender": "nobody"}).status_code == 404
    actions = [entry.action for entry in console.store.audit_log(case_id=case.case_id, views=False)]
    assert actions == ["conversation_reviewed", "tag_removed", "tag_added", "note_added"]


def test_flagging_a_message_and_exporting_training_data(console: Console) -> None:
    case, user_ids = open_mis_swipe(console.store, console.settings)
    staff = console.signed_in()
    page = staff.get(f"/cases/{case.case_id}").text
    assert "我在[华联超市](merchant)刷卡被重复扣款了3000元" in page  # suggestion: the learned entity only
    flag = {"sender": case.sender_id, "event_id": str(user_ids[2]), "next": f"/cases/{case.case_id}"}
    done = staff.submit("/teach/flag", {**flag, "intent": "ask_refund_time", "annotated": "那个钱啥时候回来"})
    assert done.status_code == 200 and "已标注为" in done.text
    for bad, status in (
        ({"intent": "no_such_intent"}, 400),
        ({"intent": "ask_refund_time", "annotated": "那个钱什么时候回来"}, 400),
        ({"intent": "ask_refund_time", "event_id": "999999"}, 404),
        ({"intent": "ask_refund_time", "sender": "someone-else"}, 404),
    ):
        assert staff.submit("/teach/flag", {**flag, **bad}).status_code == status, bad
    teach = staff.get("/teach").text
    assert "那个钱啥时候回来" in teach and "ask_refund_time" in teach and "导出训练数据（1 条）" in teach
    assert "asdfgh" in teach  # the fallback waits in the list of messages to look at
    exported = staff.get("/teach/export.yml")
    assert exported.headers["Content-Disposition"] == 'attachment; filename="console_flagged.yml"'
    assert "- intent: ask_refund_time\n  examples: |\n    - 那个钱啥时候回来\n" in exported.text
    example_id = console.store.flagged_examples()[0].example_id
    staff.submit(f"/teach/{example_id}/delete")
    assert console.store.flagged_examples() == []
    actions = [entry.action for entry in console.store.audit_log()]
    assert actions[:3] == ["example_unflagged", "nlu_exported", "example_flagged"]


def test_the_dashboard_draws_its_charts(console: Console) -> None:
    open_mis_swipe(console.store, console.settings)
    page = console.signed_in().get("/dashboard").text
    assert page.count("<svg") == 5 and "pygal.org" not in page.replace("http://pygal.org", "")
    for title in ("每日新案件", "每日未识别率", "步骤进度", "案件状态", "热门意图", "已解决", "未识别率"):
        assert title in page
    assert "33.3%" in page  # 1 fallback of 3 user messages
    assert "<script" not in page
    by_kind = console.signed_in().get("/dashboard", params={"kind": "misswipe"}).text
    assert "联系发卡行" in by_kind  # the funnel names the kind's steps


def test_the_dashboard_shows_time_to_resolution_and_satisfaction(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    console.store.cases.set_status(case.case_id, "resolved")  # the same day: 0.0 days
    console.store.cases.record_feedback(case.case_id, Rating(3, "neutral"), "还行", "rest")
    page = console.signed_in().get("/dashboard").text
    assert "解决用时与满意度（按类型）" in page and "解决用时与满意度（按周）" in page
    by_path = page.split("解决用时与满意度（按类型）")[1].split("解决用时与满意度（按周）")[0]
    assert re.search(r"<td>误刷</td>\s*<td class=\"num\">1</td>\s*<td class=\"num\">0.0</td>", by_path)
    assert "3.00" in by_path and "0.0%" in by_path and "还行" not in page  # comments are not shown here
    assert "2026-W48" in page.split("解决用时与满意度（按周）")[1]
    empty = console.signed_in().get("/dashboard", params={"since": "2026-10-01", "until": "2026-10-31"}).text
    assert "这段时间立案的案件还没有已解决的" in empty


def test_the_case_page_shows_the_users_rating_and_comment(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    staff = console.signed_in()
    assert "用户评价" not in staff.get(f"/cases/{case.case_id}").text
    console.store.cases.set_status(case.case_id, "resolved")
    console.store.cases.record_feedback(case.case_id, Rating(1, "dissatisfied"), "<b>等了太久</b>", "rest")
    page = staff.get(f"/cases/{case.case_id}").text
    rated = page.split("用户评价")[1].split("</section>")[0]
    assert "不满意" in rated and "1分" in rated
    assert "&lt;b&gt;等了太久&lt;/b&gt;" in rated  # the user's words, escaped


def test_the_case_page_shows_the_users_pictures_only_under_their_case(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    other, _ = open_mis_swipe(console.store, console.settings)
    reading = ReceiptReading(
        kind="slip", amount=Decimal("88.00"), merchant_name="<i>永辉超市</i>", card_last4="4321"
    )
    picture = b"\xff\xd8 a stored JPEG"
    receipt = console.store.cases.receipts.add(
        case.sender_id, "socketio", reading, picture, numbers_covered=1, case_id=case.case_id
    )
    staff = console.signed_in()
    page = staff.get(f"/cases/{case.case_id}").text
    shown = page.split('id="receipts"')[1].split("</section>")[0]
    assert f"/cases/{case.case_id}/receipts/{receipt.receipt_id}" in shown
    assert "金额：88元" in shown and "卡号尾号：4321" in shown and "已遮盖完整卡号" in shown
    assert "&lt;i&gt;永辉超市&lt;/i&gt;" in shown  # read from a picture, escaped like anything the user sent
    image = staff.get(f"/cases/{case.case_id}/receipts/{receipt.receipt_id}")
    assert (image.status_code, image.content) == (200, picture)
    assert image.headers["Content-Type"] == "image/jpeg" and image.headers["Cache-Control"] == "no-store"
    # Another case's address does not open it, nor does anyone signed out.
    assert staff.get(f"/cases/{other.case_id}/receipts/{receipt.receipt_id}").status_code == 404
    assert 'id="receipts"' not in staff.get(f"/cases/{other.case_id}").text
    signed_out = console.session().get(f"/cases/{case.case_id}/receipts/{receipt.receipt_id}")
    assert signed_out.status_code != 200 or signed_out.content != picture


def test_exports_follow_the_filter(console: Console) -> None:
    store = console.store
    hualian, _ = open_mis_swipe(store, console.settings)
    other = store.cases.open_case("s2", "wechat", "unauthorized", Facts(merchant='=HYPERLINK("http://x")'))
    store.add_tag(hualian.case_id, "需回电", "alice")
    staff = console.signed_in()
    cases = staff.get("/export/cases.json", params={"kind": "misswipe"})
    assert cases.headers["Content-Type"].startswith("application/json")
    assert "attachment" in cases.headers["Content-Disposition"]
    (record,) = cases.json()
    assert record["case_id"] == hualian.case_id and record["tags"] == ["需回电"] and record["amount"] == 3000
    rows = list(csv.DictReader(io.StringIO(staff.get("/export/cases.csv").text.lstrip("\ufeff"))))
    assert {row["case_id"] for row in rows} == {hualian.case_id, other.case_id}
    assert next(row for row in rows if row["case_id"] == other.case_id)["merchant"].startswith("'=")
    transcripts = staff.get("/export/transcripts.json", params={"q": "华联"}).json()
    assert [item["case_id"] for item in transcripts] == [hualian.case_id]
    assert [turn["speaker"] for turn in transcripts[0]["turns"]][:2] == ["user", "bot"]
    assert transcripts[0]["turns"][0]["intent"] == "report_misswipe"
    turns = list(
        csv.DictReader(io.StringIO(staff.get("/export/transcripts.csv", params={"status": "open"}).text[1:]))
    )
    assert len(turns) == 6 and turns[0]["entities"] == "merchant=华联超市; amount=3000"
    assert staff.get("/export/cases.xml").status_code == 404
    assert json.loads(staff.get("/export/cases.json", params={"q": "无此商户"}).text) == []
    assert store.audit_log()[0].action == "exported"


def test_conversations_list_and_page(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    write_events(
        console.settings.tracker_db,
        "no-case",
        [*session(), user("你好", "greet")],
        at(date(2026, 11, 25), 11),
    )
    staff = console.signed_in()
    listing = staff.get("/conversations").text
    assert listing.index("no-case") < listing.index("alice-phone") and case.case_id in listing
    page = staff.get("/conversation", params={"sender": "no-case"}).text
    assert "这段对话还没有立案" in page and "你好" in page
    assert staff.get("/conversation", params={"sender": "nobody"}).status_code == 404


def test_pages_cope_with_no_tracker_database_yet(console: Console) -> None:
    case = console.store.cases.open_case("s1", "rest", "misswipe", Facts())
    staff = console.signed_in()
    assert "还没有对话记录库" in staff.get(f"/cases/{case.case_id}").text
    assert "还没有对话记录库" in staff.get("/conversations").text
    assert staff.get("/dashboard").status_code == 200 and staff.get("/teach").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/audit", "/audit?before=3", "/conversations?page=2", "/conversations?page=", "/static/console.css"],
)
def test_small_pages(console: Console, path: str) -> None:
    response = console.signed_in().get(path)
    assert response.status_code == 200
