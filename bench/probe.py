"""The `rasa` command with timers around each part of a turn.

``python -m bench.probe run --model ...`` is ``rasa run --model ...`` plus a
stopwatch: for every message the agent handles it appends one JSON line to
``$BENCH_PROBE_FILE`` with the seconds spent (and the number of calls) in
NLU, policy prediction, the action server and the tracker store, and the
seconds of the whole turn.

The timers wrap Rasa's own methods (pinned Rasa 3.6), so the server runs the
same code as ``rasa run``; the cost is a few ``perf_counter`` calls per turn.
A context variable keeps concurrent turns apart: each request is its own task.
"""

from __future__ import annotations

import contextvars
import functools
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

PROBE_FILE_ENV = "BENCH_PROBE_FILE"
PARTS = ("nlu", "policies", "actions", "tracker_store")

_turn: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar("bench_turn", default=None)


def _add(part: str, seconds: float) -> None:
    turn = _turn.get()
    if turn is not None:
        turn[part] = turn.get(part, 0.0) + seconds
        turn[f"{part}_calls"] = turn.get(f"{part}_calls", 0) + 1


def _timed(part: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            _add(part, time.perf_counter() - start)

    return wrapper


def _timed_async(part: str, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            _add(part, time.perf_counter() - start)

    return wrapper


def _recorded_turn(method: Callable[..., Awaitable[Any]], out: TextIO) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        turn: dict[str, float] = {}
        token = _turn.set(turn)
        start = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            turn["total"] = time.perf_counter() - start
            _turn.reset(token)
            out.write(json.dumps(turn) + "\n")

    return wrapper


def install(out: TextIO) -> None:
    """Wrap the methods a turn goes through; every handled message is written to ``out``."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import Agent
    from rasa.core.processor import MessageProcessor

    Agent.handle_message = _recorded_turn(Agent.handle_message, out)  # lock wait included
    MessageProcessor._parse_message_with_graph = _timed("nlu", MessageProcessor._parse_message_with_graph)
    MessageProcessor._predict_next_with_tracker = _timed(
        "policies", MessageProcessor._predict_next_with_tracker
    )
    # Custom actions and form validation both call the action server through
    # RemoteAction.run (not EndpointConfig.request, which our server replaces).
    RemoteAction.run = _timed_async("actions", RemoteAction.run)
    # Whatever store the agent ends up with: Rasa's fail-safe wrapper around the configured
    # one (the stock bot), or ours itself (bot/rasa/patches/tracker_store.py).
    create_tracker_store = Agent._create_tracker_store

    def timed_tracker_store(store: Any, domain: Any) -> Any:
        tracker_store = create_tracker_store(store, domain)
        tracker_store.retrieve = _timed_async("tracker_store", tracker_store.retrieve)
        tracker_store.save = _timed_async("tracker_store", tracker_store.save)
        return tracker_store

    Agent._create_tracker_store = staticmethod(timed_tracker_store)


def read(path: os.PathLike[str] | str) -> list[dict[str, float]]:
    """The turns recorded so far, oldest first."""
    try:
        with open(path, encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError:
        return []


def breakdown(turns: list[dict[str, float]], client_mean_ms: float) -> dict[str, float]:
    """Mean milliseconds (and calls) per turn in each part; what the parts leave is "other".

    "http" is what the client saw beyond the agent's own turn: Sanic, the
    channel, JSON, and the wait for the event loop before the turn started.
    """
    if not turns:
        return {}
    count = len(turns)
    result = {"turns": count, "total_ms": 1000 * sum(turn["total"] for turn in turns) / count}
    for part in PARTS:
        result[f"{part}_ms"] = 1000 * sum(turn.get(part, 0.0) for turn in turns) / count
        result[f"{part}_calls"] = sum(turn.get(f"{part}_calls", 0) for turn in turns) / count
    result["other_ms"] = result["total_ms"] - sum(result[f"{part}_ms"] for part in PARTS)
    result["http_ms"] = client_mean_ms - result["total_ms"]
    return {key: round(value, 2) for key, value in result.items()}


def main() -> None:
    """``python -m bench.probe [--patched] <rasa arguments>``; ``--patched`` as ``python -m bot.rasa``."""
    from rasa.__main__ import main as rasa_main

    arguments = sys.argv[1:]
    if arguments[:1] == ["--patched"]:
        from bot.rasa import patches

        patches.install()
        arguments = arguments[1:]
    install(open(os.environ[PROBE_FILE_ENV], "a", buffering=1, encoding="utf-8"))
    sys.argv = ["rasa", *arguments]
    rasa_main()


if __name__ == "__main__":
    main()
