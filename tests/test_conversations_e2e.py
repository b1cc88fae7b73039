"""Whole conversations, as people have them, against the real Rasa and action servers.

Each conversation in ``tests/conversations/*.yml`` is a list of user turns, each
with checks on what the bot replied to that turn (its texts, over the REST
channel) and on the case store behind it. The conversations were written from
how cardholders and merchants talk, independently of the training data, so a
failure is a finding about the bot, not about the test.

A conversation file holds a list of conversations::

    - name: short_snake_case_id
      about: 一句话说明这段对话考的是什么
      turns:
        - user: 昨天在超市被扣了两次
          expect:
            contains: [哪家银行]

Checks (every turn needs at least one; an unknown key is an error, so a
misspelt check cannot pass silently):

- ``contains``: every string appears in the turn's replies.
- ``contains_any``: at least one appears.
- ``not_contains``: none appears.
- ``matches``: every regular expression is found.
- ``case_id_in_reply``: the replies name the conversation's newest case.
- ``case``: the newest case's columns have these values (``unknown_facts`` as a set).
- ``case_contains``: the newest case's text columns contain these strings.
- ``case_count``: the conversation has this many cases.
- ``case_kinds``: the kinds of all its cases, in any order.
- ``case_unchanged``: no case row and no case event changed during the turn.
- ``events_include``: the newest case's event log has these events.
- ``handoffs``: the conversation has this many requests for a human.
- ``tracker_not_contains``: the stored conversation (Rasa's tracker) never holds these strings.

A user turn may name ``{case_id}``, the conversation's newest case.
Every turn must also get HTTP 200 and at least one text reply.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from server_env import BotServers, bot_servers

pytestmark = pytest.mark.e2e

CONVERSATIONS_DIR = Path(__file__).parent / "conversations"
# The day the servers take as today: the Thursday before New Year, so that bank
# processing dates run into 2027, a year without a published holiday schedule (约).
TODAY = "2026-12-24"
TURN_TIMEOUT_SECONDS = 120
CHECKS = frozenset(
    {
        "contains",
        "contains_any",
        "not_contains",
        "matches",
        "case_id_in_reply",
        "case",
        "case_contains",
        "case_count",
        "case_kinds",
        "case_unchanged",
        "events_include",
        "handoffs",
        "tracker_not_contains",
    }
)


@dataclass(frozen=True)
class Turn:
    user: str
    expect: dict[str, Any]


@dataclass(frozen=True)
class Conversation:
    name: str
    about: str
    turns: tuple[Turn, ...]


def load_conversations() -> list[Conversation]:
    conversations: list[Conversation] = []
    for path in sorted(CONVERSATIONS_DIR.glob("*.yml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")):
            turns = []
            for number, turn in enumerate(entry["turns"], start=1):
                expect = turn.get("expect") or {}
                unknown = set(expect) - CHECKS
                if unknown or not expect:
                    raise ValueError(f"{path.name} {entry['name']} turn {number}: checks {sorted(unknown)}")
                turns.append(Turn(str(turn["user"]), expect))
            conversations.append(Conversation(entry["name"], entry.get("about", ""), tuple(turns)))
    names = [conversation.name for conversation in conversations]
    duplicated = {name for name in names if names.count(name) > 1}
    if duplicated:
        raise ValueError(f"conversation names used twice: {sorted(duplicated)}")
    return conversations


CONVERSATIONS = load_conversations()


def test_every_known_failure_names_a_conversation() -> None:
    assert set(KNOWN_FAILURES) <= {conversation.name for conversation in CONVERSATIONS}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServers]:
    workdir = tmp_path_factory.mktemp("conversations")
    with bot_servers(workdir, "/webhooks/rest/", WUSHUA_TODAY=TODAY) as running:
        yield running


@dataclass
class Exchange:
    """The conversation so far, printed in full when a check fails."""

    name: str
    about: str
    lines: list[str] = field(default_factory=list)

    def add(self, user: str, replies: list[dict[str, Any]]) -> None:
        self.lines.append(f"用户: {user}")
        for reply in replies:
            if reply.get("text"):
                self.lines.append("  助手: " + reply["text"].replace("\n", "\n        "))
            if reply.get("buttons"):
                self.lines.append("  按钮: " + " | ".join(button["title"] for button in reply["buttons"]))

    def fail(self, turn_number: int, problems: list[str]) -> None:
        pytest.fail(
            f"{self.name} ({self.about}) turn {turn_number}:\n"
            + "\n".join(f"  ✗ {problem}" for problem in problems)
            + "\n--- the exchange so far ---\n"
            + "\n".join(self.lines),
            pytrace=False,
        )


class Store:
    """Read-only looks at the case store the action server writes."""

    def __init__(self, path: Path, sender_id: str) -> None:
        self.path, self.sender_id = path, sender_id

    def _query(self, sql: str, parameters: list[Any]) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(sql, parameters)]

    def cases(self) -> list[dict[str, Any]]:
        """The conversation's cases, oldest first."""
        return self._query(
            "SELECT * FROM cases WHERE sender_id = ? ORDER BY created_at, rowid", [self.sender_id]
        )

    def newest(self) -> dict[str, Any] | None:
        cases = self.cases()
        return cases[-1] if cases else None

    def events(self, case_id: str) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM case_events WHERE case_id = ? ORDER BY id", [case_id])

    def handoffs(self) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM handoffs WHERE sender_id = ?", [self.sender_id])

    def snapshot(self) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
        cases = self.cases()
        return cases, [self.events(case["case_id"]) for case in cases]


def same_value(actual: Any, expected: Any, column: str) -> bool:
    if column == "unknown_facts":
        return set(json.loads(actual or "[]")) == set(expected or [])
    if isinstance(expected, bool) or expected is None:
        return actual == expected or (isinstance(expected, bool) and actual == int(expected))
    if isinstance(expected, (int, float)):
        return actual is not None and abs(float(actual) - float(expected)) < 0.005
    return str(actual) == str(expected)


def check_turn(
    expect: dict[str, Any],
    text: str,
    store: Store,
    before: tuple[list[dict[str, Any]], list[list[dict[str, Any]]]],
    tracker: Any,
) -> list[str]:
    problems: list[str] = []
    problems += [f"reply lacks {word!r}" for word in expect.get("contains", []) if word not in text]
    if "contains_any" in expect and not any(word in text for word in expect["contains_any"]):
        problems.append(f"reply has none of {expect['contains_any']!r}")
    problems += [f"reply has {word!r}" for word in expect.get("not_contains", []) if word in text]
    problems += [
        f"reply does not match /{pattern}/"
        for pattern in expect.get("matches", [])
        if not re.search(pattern, text)
    ]

    cases = store.cases()
    newest = cases[-1] if cases else None
    if expect.get("case_id_in_reply"):
        if newest is None:
            problems.append("no case in the store")
        elif newest["case_id"] not in text:
            problems.append(f"reply does not name the newest case {newest['case_id']}")
    if "case_count" in expect and len(cases) != expect["case_count"]:
        problems.append(f"{len(cases)} cases in the store, expected {expect['case_count']}")
    if "case_kinds" in expect and sorted(case["kind"] for case in cases) != sorted(expect["case_kinds"]):
        problems.append(f"case kinds {[case['kind'] for case in cases]}, expected {expect['case_kinds']}")
    for column, expected in (expect.get("case") or {}).items():
        if newest is None:
            problems.append(f"no case in the store (expected {column}={expected!r})")
        elif not same_value(newest[column], expected, column):
            problems.append(f"case {column} is {newest[column]!r}, expected {expected!r}")
    for column, part in (expect.get("case_contains") or {}).items():
        if newest is None or part not in str(newest[column] or ""):
            problems.append(f"case {column} is {newest and newest[column]!r}, expected to contain {part!r}")
    if expect.get("case_unchanged") and store.snapshot() != before:
        problems.append(f"the case store changed during this turn: before {before[0]!r}, after {cases!r}")
    if "events_include" in expect:
        logged = [event["event"] for event in store.events(newest["case_id"])] if newest else []
        problems += [
            f"case events {logged}, lacking {name!r}"
            for name in expect["events_include"]
            if name not in logged
        ]
    if "handoffs" in expect and len(store.handoffs()) != expect["handoffs"]:
        problems.append(f"{len(store.handoffs())} handoff requests, expected {expect['handoffs']}")
    if "tracker_not_contains" in expect:
        stored = json.dumps(tracker(), ensure_ascii=False)
        problems += [
            f"the stored conversation holds {word!r}"
            for word in expect["tracker_not_contains"]
            if word in stored
        ]
    return problems


# Conversations the bot still gets wrong, each with what goes wrong. Strict: once one
# passes, the test fails until it is taken off this list.
KNOWN_FAILURES = {
    # The model of 2026-12-06 17:05 (about 440 new training examples from a cross-validation
    # pass, issue 19; the held-out set went from 0.953 to 0.967) reads these two worse than the
    # one before it; it now reads obfuscated_words_and_typos, dup_elderly_one_fact_at_a_time and
    # what_now_twice_in_form right. Turn numbers count the 同意 turn that answers the notice.
    "dup_correction_after_case": (
        "turn 2: the shop in a full first report (在沃尔玛刷中信的卡，一笔256被扣了两遍) is not "
        "picked out, so the form asks for it and no case is filed at that turn"
    ),
    "small_bank_without_a_known_number": (
        "turn 6: a loosely worded question for the bank's number falls back (没太明白)"
    ),
    "typed_rating_and_no_comment": (
        "turn 4: typed ratings are not understood; ratings come from the buttons "
        "(tests/nlu/heldout_new_intents.yml says why)"
    ),
    "merchant_yesterday_wrong_amount": (
        "turn 3: a merchant asking how soon their customer gets the money back (顾客那边多久能收到钱) "
        "falls back; turn 1, the merchant's opener without 我是商户, is read right since MerchantSpeaker"
    ),
}


def _marked(conversation: Conversation) -> Any:
    reason = KNOWN_FAILURES.get(conversation.name)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(conversation, id=conversation.name, marks=marks)


@pytest.mark.parametrize("conversation", [_marked(conversation) for conversation in CONVERSATIONS])
def test_conversation(servers: BotServers, conversation: Conversation) -> None:
    local_sender = f"conv-{conversation.name}-{uuid.uuid4().hex[:8]}"
    store = Store(servers.case_db, f"rest:{local_sender}")
    exchange = Exchange(conversation.name, conversation.about)

    def tracker() -> Any:
        reply = requests.get(f"{servers.base_url}/conversations/rest:{local_sender}/tracker", timeout=30)
        reply.raise_for_status()
        return reply.json()

    for number, turn in enumerate(conversation.turns, start=1):
        newest = store.newest()
        user = turn.user.replace("{case_id}", newest["case_id"] if newest else "WS-00000000-0000")
        before = store.snapshot()
        answer = requests.post(
            f"{servers.base_url}/webhooks/rest/webhook",
            json={"sender": local_sender, "message": user},
            timeout=TURN_TIMEOUT_SECONDS,
        )
        replies = answer.json() if answer.ok else []
        exchange.add(user, replies)
        if not answer.ok:
            exchange.fail(number, [f"HTTP {answer.status_code}: {answer.text[:300]}"])
        text = "\n".join(reply["text"] for reply in replies if reply.get("text"))
        problems = [] if text else ["the bot sent no text at all"]
        problems += check_turn(turn.expect, text, store, before, tracker)
        if problems:
            exchange.fail(number, problems)
    # Shown with `pytest -rP`, to read what a passing conversation looked like.
    print("\n".join(exchange.lines))
