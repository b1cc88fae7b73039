"""The Rasa server's staff channel (bot/rasa/channels/staff.py) over HTTP, with Rasa's in-memory stores.

The browser test (tests/browser/test_takeover.py) and the WeChat test run it
inside the real Rasa server; here each rule is checked on its own: who may
call, what each call writes to the tracker, and what a hand-back says.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic
from server_env import ServerThread

from bot.domain.cases import Facts
from bot.domain.delivery import CHANNEL_CANNOT_PUSH
from bot.domain.responses import response_text
from bot.infra.server_secret import staff_bridge_token
from bot.rasa.channels import staff
from bot.storage import open_store, process_store

ROOT = Path(__file__).resolve().parent.parent
BANK_QUESTION = "请问是哪家银行的卡？点下面的按钮，或直接输入银行名称。"


@dataclass
class Bridge:
    url: str
    trackers: InMemoryTrackerStore
    case_db: Path
    agent: SimpleNamespace

    def call(self, operation: str, body: dict, token: str | None = None) -> requests.Response:
        token = staff_bridge_token() if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(f"{self.url}/webhooks/staff/{operation}", json=body, headers=headers, timeout=10)

    def tracker(self, conversation: str) -> DialogueStateTracker:
        tracker = asyncio.run(self.trackers.retrieve(conversation))
        assert tracker is not None
        return tracker

    def add(self, conversation: str, *events: object) -> None:
        tracker = DialogueStateTracker.from_events(
            conversation, list(events), slots=self.trackers.domain.slots
        )
        asyncio.run(self.trackers.save(tracker))


@pytest.fixture
def bridge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bridge]:
    monkeypatch.setenv("CASE_STORE_URL", f"sqlite:///{tmp_path / 'cases.db'}")
    process_store.cache_clear()
    domain = Domain.load(str(ROOT / "domain.yml"))
    trackers = InMemoryTrackerStore(domain)
    app = Sanic(f"staff_bridge_test_{time.monotonic_ns()}")
    app.ctx.agent = SimpleNamespace(domain=domain, tracker_store=trackers, lock_store=InMemoryLockStore())
    app.blueprint(staff.StaffBridgeInput().blueprint(lambda message: None), url_prefix="/webhooks/staff")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = ServerThread(app, sock)
    thread.start()
    assert thread.ready.wait(timeout=30)
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield Bridge(url, trackers, tmp_path / "cases.db", app.ctx.agent)
    finally:
        thread.stop()
        process_store.cache_clear()


def asked_for_the_bank(at: float) -> list[object]:
    """A conversation whose form has just asked for the bank."""
    return [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
        UserUttered("我被重复扣款了3000元", {"name": "report_misswipe", "confidence": 0.99}, timestamp=at),
        ActionExecuted("case_form", timestamp=at),
        ActiveLoop("case_form", timestamp=at),
        SlotSet("requested_slot", "bank", timestamp=at),
        BotUttered(BANK_QUESTION, timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ]


def test_only_the_consoles_token_may_call(bridge: Bridge) -> None:
    bridge.add("rest:ann", *asked_for_the_bank(time.time()))
    body = {"conversation_id": "rest:ann", "staff": "alice"}
    assert bridge.call("takeover", body, token="").status_code == 401
    assert bridge.call("takeover", body, token="guessed").status_code == 401
    assert bridge.call("takeover", {"conversation_id": "ann", "staff": "alice"}).status_code == 400
    assert bridge.call("takeover", {"conversation_id": "rest:ann", "staff": " "}).status_code == 400
    assert bridge.call("takeover", {"conversation_id": "rest:nobody", "staff": "alice"}).status_code == 404
    assert not bridge.tracker("rest:ann").is_paused()


def test_take_over_reply_and_hand_back_while_the_form_stands(bridge: Bridge) -> None:
    bridge.add("rest:ann", *asked_for_the_bank(time.time()))
    body = {"conversation_id": "rest:ann", "staff": "alice"}
    assert bridge.call("reply", {**body, "text": "在吗"}).status_code == 409  # not taken over yet

    taken = bridge.call("takeover", body)
    assert taken.status_code == 200 and taken.json()["paused"] is True
    # REST cannot push: recorded, not delivered, and said so.
    assert taken.json()["delivered"] is False and taken.json()["reason"] == CHANNEL_CANNOT_PUSH
    assert bridge.call("takeover", body).status_code == 409
    assert bridge.call("reply", {**body, "text": " "}).status_code == 400
    assert bridge.call("reply", {**body, "text": "您好，请问是哪家银行？"}).status_code == 200

    tracker = bridge.tracker("rest:ann")
    assert tracker.is_paused()
    staff_turns = [event for event in tracker.events if isinstance(event, BotUttered) and event.metadata]
    assert [(event.text, event.metadata) for event in staff_turns] == [
        (response_text("utter_staff_joined").format(staff="alice"), {"staff": "alice"}),
        ("您好，请问是哪家银行？", {"staff": "alice"}),
    ]

    handed_back = bridge.call("handback", body)
    assert handed_back.status_code == 200 and handed_back.json()["paused"] is False
    tracker = bridge.tracker("rest:ann")
    said = tracker.events[-1]
    assert isinstance(said, BotUttered)
    assert said.text == response_text("utter_staff_handed_back") + "\n\n" + BANK_QUESTION
    assert tracker.active_loop_name == "case_form"
    assert bridge.call("handback", body).status_code == 409


def test_after_the_session_expired_the_bot_carries_on_from_the_cases_current_step(bridge: Bridge) -> None:
    two_hours_ago = time.time() - 2 * 3600
    bridge.add("rest:ben", *asked_for_the_bank(two_hours_ago), ConversationPaused(timestamp=two_hours_ago))
    store = open_store(f"sqlite:///{bridge.case_db}")
    case = store.open_case(
        "rest:ben", "rest", "misswipe", Facts(bank="招商银行", amount=3000.0, merchant="华联超市")
    )

    answer = bridge.call("handback", {"conversation_id": "rest:ben", "staff": "alice"})

    assert answer.status_code == 200
    said = bridge.tracker("rest:ben").events[-1]
    assert said.text.startswith(response_text("utter_staff_handed_back_to_step").split("{")[0])
    assert "第1步" in said.text and BANK_QUESTION not in said.text
    # REST could not be reached: the case says so.
    undelivered = [event for event in store.events(case.case_id) if event["event"] == "message_undelivered"]
    assert len(undelivered) == 1 and undelivered[0]["detail"]["text"] == said.text[:200]
    store.close()


def test_erase_deletes_the_conversation_and_leaves_a_tombstone(bridge: Bridge) -> None:
    store = open_store(f"sqlite:///{bridge.case_db}")
    case = store.open_case("rest:ann", "rest", "misswipe", Facts(bank="中国工商银行", merchant="华联超市"))
    other = store.open_case("rest:bob", "rest", "misswipe", Facts(merchant="永辉超市"))
    bridge.add("rest:ann", *asked_for_the_bank(time.time()))
    bridge.add("rest:bob", *asked_for_the_bank(time.time()))
    body = {"conversation_id": "rest:ann", "staff": "alice"}
    assert bridge.call("erase", body, token="wrong").status_code == 401
    assert bridge.call("erase", {**body, "reason": "because"}).status_code == 400

    erased = bridge.call("erase", body)
    assert erased.status_code == 200, erased.text
    assert erased.json()["case_ids"] == [case.case_id]
    assert erased.json()["counts"]["tracker_events"] == len(asked_for_the_bank(0))
    assert asyncio.run(bridge.trackers.retrieve("rest:ann")) is None
    assert store.get(case.case_id).facts.merchant is None
    assert store.get(other.case_id).facts.merchant == "永辉超市"
    assert bridge.tracker("rest:bob").get_slot("requested_slot") == "bank"
    assert bridge.call("erase", body).status_code == 404  # nothing left


def test_an_erasure_asked_for_inside_a_turn_waits_for_the_turn_to_let_go(bridge: Bridge) -> None:
    bridge.add("web:abc", *asked_for_the_bank(time.time()))
    locks = bridge.agent.lock_store
    ticket = locks.issue_ticket("web:abc")  # a turn in progress holds the conversation's lock
    scheduled = bridge.call(
        "erase", {"conversation_id": "web:abc", "staff": "user", "reason": "user_request", "after_turn": True}
    )
    assert scheduled.status_code == 202 and scheduled.json() == {"erased": False, "scheduled": True}
    time.sleep(1)
    assert asyncio.run(bridge.trackers.retrieve("web:abc")) is not None  # not while the turn runs
    locks.finish_serving("web:abc", ticket)
    deadline = time.monotonic() + 10
    while asyncio.run(bridge.trackers.retrieve("web:abc")) is not None:
        assert time.monotonic() < deadline, "not erased after the turn let go"
        time.sleep(0.1)
