"""Every console page a staff member sees has no WCAG 2.1 A/AA violations under axe-core.

The console runs over a case store and tracker that hold one case in each status,
with notes, tags, a review, flagged examples and waiting handoffs, so that each
kind of badge, table, list and form is on screen. To check a new page, add a
``ConsolePage`` to ``PAGES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pytest
from accessibility import assert_accessible
from console_support import PASSWORD, Console, add_user, at, open_mis_swipe
from tracker_events import reply, user, write_events

from bot.console.teach import training_texts
from bot.domain.cases import Facts
from bot.storage.erasure import erase_conversation

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

CASE_SENDER = "alice-phone"


@dataclass(frozen=True)
class Seeded:
    case_id: str
    sender: str
    taken_over: str  # a conversation staff have taken over (the takeover view)
    erased: str  # a case whose user's personal data staff deleted


def seed(console: Console) -> Seeded:
    """A console with something of every kind on its pages."""
    store, settings = console.store, console.settings
    auth = add_user(store, settings, "alice", role="admin")
    add_user(store, settings, "bob", role="agent")
    auth.set_disabled("bob", True, by="alice")
    case, user_ids = open_mis_swipe(store, settings, CASE_SENDER)
    store.set_status(case.case_id, "waiting_merchant", "alice")
    store.add_note(case.case_id, "已电话联系用户，商户答应三天内退款。", "alice")
    store.add_tag(case.case_id, "需回电", "alice")
    store.mark_reviewed(CASE_SENDER, "alice", user_ids[0], case.case_id)  # later messages are new
    store.flag_example(
        sender_id=CASE_SENDER, event_id=user_ids[1], text="asdfgh", annotated="asdfgh",
        predicted_intent="nlu_fallback", confidence=0.4, intent="inform", username="alice",
        case_id=case.case_id,
    )  # fmt: skip
    store.cases.request_handoff(CASE_SENDER, "rest", case.case_id)
    # A sentence the training data has: once flagged, the teach page marks it as not exported.
    known = min(text for text in training_texts(settings.training_data) if "盗刷" in text)
    # Someone else looked at the case: its list of views has two names.
    store.record_view("bob", "conversation_viewed", sender_id=CASE_SENDER)
    for number, status in enumerate(["open", "with_bank", "escalated", "resolved", "closed"]):
        sender = f"customer-{number}"
        other = store.cases.open_case(sender, "wechat", "unauthorized", Facts(bank="招商银行", amount=88.0))
        if status != "open":
            store.set_status(other.case_id, status, "alice")
        (event_id,) = write_events(
            settings.tracker_db,
            sender,
            [user(known, "report_unauthorized", 0.5), reply("utter_freeze_card", "请先冻结银行卡。")],
            at(date(2026, 11, 24), 15),
        )
    # The last of those conversations: a handoff without a case, and a flagged message.
    store.flag_example(
        sender_id=sender, event_id=event_id, text=known, annotated=known,
        predicted_intent="report_unauthorized", confidence=0.5, intent="report_misswipe", username="alice",
    )  # fmt: skip
    store.cases.request_handoff(sender, "wechat", None)
    taken_over = "wechat:o-taken-over"
    staff_turn = {
        "event": "bot",
        "text": "您好，我是客服 alice。",
        "data": {},
        "metadata": {"staff": "alice"},
    }
    write_events(
        settings.tracker_db,
        taken_over,
        [user("转人工", "request_human", 0.97), {"event": "pause"}, staff_turn],
        at(date(2026, 11, 24), 16),
    )
    erased = store.cases.open_case("rest:erased", "rest", "misswipe", Facts())
    store.set_status(erased.case_id, "closed", "alice")
    erase_conversation(store.cases, "rest:erased", requested_by="alice", reason="staff_request")
    return Seeded(case.case_id, CASE_SENDER, taken_over, erased.case_id)


def sign_in(page: Page, console: Console, password: str = PASSWORD) -> None:
    page.goto(console.base_url + "/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", password)
    page.click("button:has-text('登录')")


def wrong_password(page: Page, console: Console) -> None:
    sign_in(page, console, "not the password")
    page.wait_for_selector("p.error")


@dataclass(frozen=True)
class ConsolePage:
    name: str
    path: str  # may name {case_id}, {sender}, {taken_over} and {erased}
    signed_in: bool = True
    status: int = 200
    # What a person does first, e.g. submit a form; the page checked is the one it leads to.
    action: Callable[[Page, Console], None] | None = None


PAGES = [
    ConsolePage("login", "/login", signed_in=False),
    ConsolePage("login-wrong-password", "/login", signed_in=False, action=wrong_password),
    ConsolePage("queue", "/"),
    ConsolePage("case", "/cases/{case_id}"),
    ConsolePage("case-just-erased", "/cases/{erased}?erased=1"),
    ConsolePage("erase-confirmation", "/conversation/erase?sender={sender}&case={case_id}"),
    ConsolePage("conversation", "/conversation?sender={sender}"),
    ConsolePage("conversation-taken-over", "/conversation?sender={taken_over}"),
    ConsolePage("conversations", "/conversations"),
    ConsolePage("dashboard", "/dashboard"),
    ConsolePage("audit", "/audit"),
    ConsolePage("audit-of-a-case", "/audit?case={case_id}"),
    ConsolePage("users", "/users"),
    ConsolePage("teach", "/teach"),
    ConsolePage("not-found", "/cases/WS-20261125-9999", status=404),
]


@pytest.mark.parametrize("console_page", PAGES, ids=[console_page.name for console_page in PAGES])
def test_the_page_has_no_wcag_violations(console: Console, page: Page, console_page: ConsolePage) -> None:
    seeded = seed(console)
    if console_page.signed_in:
        sign_in(page, console)
        page.wait_for_url(console.base_url + "/")
    url = console.base_url + console_page.path.format(
        case_id=seeded.case_id, sender=seeded.sender, taken_over=seeded.taken_over, erased=seeded.erased
    )
    response = page.goto(url)
    assert response is not None and response.status == console_page.status, url
    if console_page.action:
        console_page.action(page, console)
    # Folded parts (a checklist's text, the form that flags a message) are checked too.
    page.eval_on_selector_all("details", "all => all.forEach(details => { details.open = true; })")
    assert_accessible(page, f"{console_page.name} ({page.url})")


def test_a_violation_is_reported_with_its_rule_impact_and_element(console: Console, page: Page) -> None:
    """The check fails, readably, on a page that breaks a rule (here: text too pale to read)."""
    page.goto(console.base_url + "/login")
    pale = '<p id="pale" style="color: #d1d5db">提示</p>'
    page.eval_on_selector(".login", "(card, pale) => card.insertAdjacentHTML('beforeend', pale)", pale)
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page, "the login page with a pale hint")
    message = str(failure.value)
    assert "color-contrast (serious)" in message and "    #pale: " in message, message
