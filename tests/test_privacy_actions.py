"""导出我的信息 and 删除我的信息 in the chat (actions/privacy.py), with the Rasa server's side faked."""

from __future__ import annotations

from typing import Any

import pytest
from case_store_fixtures import fresh_case_store  # noqa: F401  (autouse)
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import privacy
from actions.store import case_store
from bot.domain.cases import Facts
from bot.infra.export_links import EXPORT_PATH, conversation_for_export
from bot.infra.staff_bridge import BridgeAnswer


def tracker(sender: str, events: list[dict[str, Any]]) -> Tracker:
    return Tracker(
        sender_id=sender,
        slots={},
        latest_message={"text": "", "intent": {"name": "confirm_erase", "confidence": 1.0}, "entities": []},
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def asked_then_confirmed(confirmation: str = privacy.CONFIRMATION) -> list[dict[str, Any]]:
    return [
        {"event": "user", "text": "删除我的信息"},
        {"event": "action", "name": "utter_confirm_erase"},
        {"event": "bot", "text": "确认要删除…", "metadata": {"utter_action": confirmation}},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "确认删除"},
    ]


async def run(action: Any, current: Tracker) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    assert await action.run(dispatcher, current, {}) == []
    return dispatcher.messages


@pytest.fixture
def erase_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    async def erase(url: str, conversation: str, by: str, *, reason: str, after_turn: bool) -> BridgeAnswer:
        calls.append((conversation, by, reason, after_turn))
        return BridgeAnswer(True)

    monkeypatch.setattr(privacy.staff_bridge, "erase", erase)
    return calls


async def test_a_confirmed_deletion_is_asked_of_the_rasa_server_after_the_turn(
    erase_calls: list[tuple[Any, ...]],
) -> None:
    messages = await run(privacy.ActionEraseMyData(), tracker("web:abc", asked_then_confirmed()))
    assert erase_calls == [("web:abc", "user", "user_request", True)]
    assert messages[0]["response"] == "utter_erase_done"
    assert messages[0]["custom"] == {"data": {"erased": True}}  # the widget forgets too


async def test_confirm_erase_without_the_question_just_before_asks_it(
    erase_calls: list[tuple[Any, ...]],
) -> None:
    for events in (
        [{"event": "user", "text": "确认删除"}],
        asked_then_confirmed(confirmation="utter_checklist"),
        [
            *asked_then_confirmed(),
            {"event": "bot", "text": "好的，已取消", "metadata": {"utter_action": "utter_erase_cancelled"}},
            {"event": "user", "text": "确认删除"},
        ],
    ):
        messages = await run(privacy.ActionEraseMyData(), tracker("web:abc", events))
        assert [message["response"] for message in messages] == ["utter_confirm_erase"]
    assert erase_calls == []


async def test_a_deletion_the_server_could_not_take_says_nothing_was_deleted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def unreachable(*args: Any, **kwargs: Any) -> BridgeAnswer:
        return BridgeAnswer(False, error="unreachable")

    monkeypatch.setattr(privacy.staff_bridge, "erase", unreachable)
    messages = await run(privacy.ActionEraseMyData(), tracker("web:abc", asked_then_confirmed()))
    assert [message["response"] for message in messages] == ["utter_erase_failed"]


async def test_the_widget_gets_a_link_to_its_own_conversation_only() -> None:
    (message,) = await run(privacy.ActionExportMyData(), tracker("web:abc", []))
    assert message["response"] == "utter_export_ready" and message["minutes"] == 30
    link = message["custom"]["data"]["export_url"]
    assert link.startswith(EXPORT_PATH)
    token = link.removeprefix(EXPORT_PATH)
    assert "abc" not in token
    assert conversation_for_export(token) == "web:abc"
    assert conversation_for_export(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None


async def test_wechat_gets_a_summary_of_its_cases_in_the_chat() -> None:
    case = case_store().open_case(
        "wechat:o-1", "wechat", "misswipe", Facts(bank="中国工商银行", amount=3000.0, merchant="华联超市")
    )
    case_store().open_case("wechat:o-2", "wechat", "misswipe", Facts(merchant="永辉超市"))
    (message,) = await run(privacy.ActionExportMyData(), tracker("wechat:o-1", []))
    assert message["response"] == "utter_export_summary"
    assert case.case_id in message["summary"] and "华联超市" in message["summary"]
    assert "永辉超市" not in message["summary"]
    (nothing,) = await run(privacy.ActionExportMyData(), tracker("wechat:o-3", []))
    assert nothing["response"] == "utter_export_nothing"
