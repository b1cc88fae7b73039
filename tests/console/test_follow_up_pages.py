"""Follow-ups in the console: the case page lists and cancels them (audited); the queue counts undelivered."""

from __future__ import annotations

from console_support import Console, on_both_backends, open_mis_swipe

from bot.domain.cases import Facts


@on_both_backends
def test_staff_see_and_cancel_a_cases_follow_up(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    [follow_up] = console.store.follow_ups(case.case_id)
    staff = console.signed_in()
    page = staff.get(f"/cases/{case.case_id}").text
    section = page[page.index('id="follow-ups"') :]
    assert "跟进提醒" in section and "2026-12-02 10:00" in section and "待发送" in section
    cancel = f"/cases/{case.case_id}/follow-ups/{follow_up.follow_up_id}/cancel"
    assert cancel in section

    page = staff.submit(cancel)
    assert page.url.endswith(f"/cases/{case.case_id}#follow-ups")
    section = page.text[page.text.index('id="follow-ups"') :]
    assert "已取消" in section and "工作人员取消" in section and cancel not in section
    [cancelled] = console.store.follow_ups(case.case_id)
    assert (cancelled.status, cancelled.reason) == ("cancelled", "cancelled_by_staff")
    entry = console.store.audit_log(case_id=case.case_id, views=False)[0]
    assert (entry.username, entry.action, entry.detail) == (
        "alice",
        "follow_up_cancelled",
        {"follow_up": follow_up.follow_up_id, "step": "follow_up"},
    )
    assert "取消跟进提醒" in page.text  # the audit list on the page

    assert staff.submit(cancel).status_code == 400  # no longer pending
    assert len(console.store.audit_log(case_id=case.case_id, views=False)) == 1


@on_both_backends
def test_a_follow_up_is_cancelled_only_through_its_own_case(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    other = console.store.cases.open_case("rest:bob", "rest", "misswipe", Facts(amount=50.0))
    [theirs] = console.store.follow_ups(other.case_id)
    staff = console.signed_in()
    assert staff.submit(f"/cases/{case.case_id}/follow-ups/{theirs.follow_up_id}/cancel").status_code == 400
    assert staff.submit(f"/cases/WS-19990101-0001/follow-ups/{theirs.follow_up_id}/cancel").status_code == 404
    assert console.store.follow_ups(other.case_id)[0].status == "pending"
    no_csrf = staff.post(
        f"/cases/{other.case_id}/follow-ups/{theirs.follow_up_id}/cancel", allow_redirects=False
    )
    assert no_csrf.status_code == 403
    assert console.store.follow_ups(other.case_id)[0].status == "pending"


def test_the_queue_counts_undelivered_follow_ups_of_open_cases(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    staff = console.signed_in()
    assert "跟进提醒未送达" not in staff.get("/").text
    follow_ups = console.store.cases.follow_ups
    [follow_up] = follow_ups.for_case(case.case_id)
    [claimed] = follow_ups.claim_due(follow_up.due_at, "test", 300, 10)
    follow_ups.mark_undelivered(claimed, "wechat_window_closed")
    queue = staff.get("/").text
    assert "1 条跟进提醒未送达" in queue and f"/cases/{case.case_id}#follow-ups" in queue
    case_page = staff.get(f"/cases/{case.case_id}").text
    assert "未送达" in case_page and "超过微信48小时回复窗口" in case_page
    console.store.set_status(case.case_id, "closed", "alice")
    assert "跟进提醒未送达" not in staff.get("/").text
