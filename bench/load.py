"""Simulated users holding scripted conversations with a bot over its REST channel.

Every user works through the conversations in ``conversations.yml`` one after
another (starting at a different one), each with a fresh sender id, until the
level's time is up; a user stops between turns, never in the middle of one.
A turn is one POST to ``/webhooks/rest/webhook`` and its latency is the time
to the full reply. An error is a non-200 answer or an exception (timeouts
included). A reply that lacks the script's ``expect`` text is *off script*:
the conversation went somewhere else, so it is reported apart from errors.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np
import yaml

CONVERSATIONS = Path(__file__).with_name("conversations.yml")
REQUEST_TIMEOUT = 300


@dataclass(frozen=True)
class Turn:
    say: str
    expect: str | None = None


@dataclass(frozen=True)
class Conversation:
    name: str
    turns: tuple[Turn, ...]


@dataclass
class Level:
    """What one level of load (a number of concurrent users) produced."""

    users: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    off_script: list[str] = field(default_factory=list)
    conversations: int = 0

    @property
    def turns(self) -> int:
        return len(self.latencies)

    def summary(self) -> dict[str, object]:
        latencies = np.array(self.latencies or [np.nan]) * 1000
        return {
            "users": self.users,
            "turns": self.turns,
            "conversations": self.conversations,
            "seconds": round(self.seconds, 2),
            "turns_per_second": round(self.turns / self.seconds, 3) if self.seconds else 0.0,
            "p50_ms": round(float(np.percentile(latencies, 50)), 1),
            "p95_ms": round(float(np.percentile(latencies, 95)), 1),
            "p99_ms": round(float(np.percentile(latencies, 99)), 1),
            "mean_ms": round(float(np.mean(latencies)), 1),
            "errors": len(self.errors),
            "error_samples": self.errors[:5],
            "off_script": len(self.off_script),
            "off_script_samples": self.off_script[:5],
        }


def load_conversations(bot: str, path: Path = CONVERSATIONS) -> list[Conversation]:
    """The scripts for ``bot`` (a top-level key of the file); a turn is text or ``{say, expect}``."""
    scripts = yaml.safe_load(path.read_text(encoding="utf-8"))[bot]
    return [
        Conversation(
            script["name"],
            tuple(
                Turn(turn) if isinstance(turn, str) else Turn(turn["say"], turn.get("expect"))
                for turn in script["turns"]
            ),
        )
        for script in scripts
    ]


def _readable(body: str) -> str:
    """The reply with its Chinese unescaped (Rasa answers with ASCII-only JSON)."""
    try:
        return json.dumps(json.loads(body), ensure_ascii=False)
    except ValueError:
        return body


async def _user(
    session: aiohttp.ClientSession,
    webhook: str,
    scripts: list[Conversation],
    first: int,
    deadline: float,
    max_turns: int | None,
    level: Level,
) -> None:
    done = 0
    for conversation in itertools.islice(itertools.cycle(scripts), first, None):
        sender = f"bench-{uuid.uuid4().hex[:12]}"
        for turn in conversation.turns:
            if time.monotonic() >= deadline or (max_turns is not None and done >= max_turns):
                return
            if turn is conversation.turns[0]:
                level.conversations += 1
            done += 1
            start = time.perf_counter()
            try:
                async with session.post(webhook, json={"sender": sender, "message": turn.say}) as reply:
                    body = await reply.text()
                    if reply.status != 200:
                        level.errors.append(f"{reply.status} on {turn.say!r}: {body[:200]}")
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                level.errors.append(f"{type(error).__name__} on {turn.say!r}: {error}")
                continue
            level.latencies.append(time.perf_counter() - start)
            if turn.expect and turn.expect not in _readable(body):
                level.off_script.append(
                    f"{conversation.name} / {turn.say!r}: no {turn.expect!r} in {_readable(body)[:300]}"
                )


async def run_level(
    base_url: str,
    scripts: list[Conversation],
    users: int,
    seconds: float,
    max_turns: int | None = None,
) -> Level:
    """``users`` simulated users for ``seconds`` (or ``max_turns`` turns each, whichever comes first)."""
    level = Level(users)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        webhook = f"{base_url}/webhooks/rest/webhook"
        start = time.monotonic()
        await asyncio.gather(
            *(
                _user(session, webhook, scripts, index % len(scripts), start + seconds, max_turns, level)
                for index in range(users)
            )
        )
        level.seconds = time.monotonic() - start
    return level
