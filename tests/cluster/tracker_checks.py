"""What the fault test checks in a conversation's stored tracker; pure functions, tested on their own."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cluster_clients import ConversationRun


@dataclass(frozen=True)
class TrackerEvent:
    type_name: str
    timestamp: float
    action_name: str | None
    text: str | None


def acknowledged_missing_from_tracker(run: ConversationRun, user_texts: list[str]) -> list[str]:
    """Acknowledged messages the tracker does not hold in the order they were sent."""
    missing, position = [], 0
    for message in run.messages:
        if not message.acknowledged:
            continue
        try:
            position = user_texts.index(message.text, position) + 1
        except ValueError:
            missing.append(message.text)
    return missing


def unexplained_copies(run: ConversationRun, user_texts: list[str]) -> list[str]:
    """User messages in the tracker beyond what was sent once, other than copies of retried messages."""
    sent = Counter(message.text for message in run.messages if message.acknowledged)
    retried = {message.text for message in run.messages if message.retried}
    extra = Counter(user_texts) - sent
    return sorted(text for text in extra if text not in retried)


def overlapping_turns(events: list[TrackerEvent]) -> list[str]:
    """Signs that two turns of one conversation were processed at once.

    Under the lock a turn starts after the previous one was saved, so in the
    order the events were stored their timestamps never go back, and every
    user message follows the previous turn's ``action_listen``.
    """
    problems = []
    last_action: str | None = None
    previous = float("-inf")
    for position, event in enumerate(events):
        if event.timestamp < previous:
            problems.append(f"event {position} ({event.type_name}) is older than the one stored before it")
        previous = event.timestamp
        if event.type_name == "user" and last_action != "action_listen":
            problems.append(f"user message {event.text!r} at {position} follows {last_action!r}")
        if event.type_name == "action":
            last_action = event.action_name
    return problems
