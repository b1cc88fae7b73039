"""The fault test's tracker checks catch what they are meant to catch (part of the normal, fast run)."""

from __future__ import annotations

from cluster_clients import ConversationRun, SentMessage
from tracker_checks import (
    TrackerEvent,
    acknowledged_missing_from_tracker,
    overlapping_turns,
    unexplained_copies,
)


def conversation(*messages: SentMessage) -> ConversationRun:
    return ConversationRun("alice", "rest", "script", list(messages))


def acknowledged(text: str, attempts: int = 1) -> SentMessage:
    return SentMessage(text, attempts=attempts, acknowledged=True)


def turn(text: str, start: float) -> list[TrackerEvent]:
    """A user message and the bot's turn, as Rasa stores them."""
    return [
        TrackerEvent("user", start, None, text),
        TrackerEvent("user_featurization", start + 0.1, None, None),
        TrackerEvent("action", start + 0.2, "utter_greet", None),
        TrackerEvent("bot", start + 0.3, None, None),
        TrackerEvent("action", start + 0.4, "action_listen", None),
    ]


SESSION_START = [
    TrackerEvent("action", 0.0, "action_session_start", None),
    TrackerEvent("session_started", 0.0, None, None),
    TrackerEvent("action", 0.0, "action_listen", None),
]


def test_every_acknowledged_message_in_order_is_found() -> None:
    run = conversation(acknowledged("你好"), acknowledged("工商银行"), SentMessage("昨天"))
    assert acknowledged_missing_from_tracker(run, ["你好", "你好", "工商银行"]) == []


def test_an_acknowledged_message_missing_or_out_of_order_is_reported() -> None:
    run = conversation(acknowledged("你好"), acknowledged("工商银行"), acknowledged("你好"))
    assert acknowledged_missing_from_tracker(run, ["你好", "工商银行"]) == ["你好"]
    assert acknowledged_missing_from_tracker(run, ["工商银行", "你好", "你好"]) == ["工商银行"]


def test_only_a_retried_message_may_be_stored_twice() -> None:
    retried = conversation(acknowledged("你好", attempts=2), acknowledged("工商银行"))
    assert unexplained_copies(retried, ["你好", "你好", "工商银行"]) == []
    assert unexplained_copies(retried, ["你好", "工商银行", "工商银行"]) == ["工商银行"]
    assert unexplained_copies(retried, ["你好", "陌生的话", "工商银行"]) == ["陌生的话"]


def test_turns_one_after_the_other_do_not_overlap() -> None:
    assert overlapping_turns([*SESSION_START, *turn("你好", 1.0), *turn("你好", 2.0)]) == []


def test_a_turn_stored_inside_another_is_reported() -> None:
    first, second = turn("你好", 1.0), turn("工商银行", 1.05)
    interleaved = [*SESSION_START, *first[:3], *second, *first[3:]]
    assert overlapping_turns(interleaved)


def test_a_turn_whose_start_a_concurrent_save_dropped_shows_as_a_missing_message() -> None:
    # Rasa's SQL tracker store appends only the events beyond the count it
    # already holds, so the later save of two overlapping turns keeps just
    # its tail: no user event, which the acknowledged-message check reports.
    first, second = turn("你好", 1.0), turn("工商银行", 1.2)
    stored = [*SESSION_START, *first, *second[2:]]
    user_texts = [event.text or "" for event in stored if event.type_name == "user"]
    run = conversation(acknowledged("你好"), acknowledged("工商银行"))
    assert acknowledged_missing_from_tracker(run, user_texts) == ["工商银行"]
