"""Calls to the Rasa server's staff channel (``bot/rasa/channels/staff.py``): the console's
takeover, replies and erasures, and the action server's erasure at the user's request."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.infra.server_secret import staff_bridge_token

TIMEOUT_SECONDS = 15
DEFAULT_RASA_URL = "http://127.0.0.1:5005"


def rasa_url_from_env() -> str:
    """The Rasa server (in cluster mode, the balancer): ``RASA_URL``."""
    return os.environ.get("RASA_URL", DEFAULT_RASA_URL).rstrip("/")


@dataclass(frozen=True)
class BridgeAnswer:
    ok: bool
    delivered: bool = False
    reason: str = ""  # why a message was not delivered
    error: str = ""  # why the call failed: "unreachable", "conflict", "not_found", "refused"


async def call(
    rasa_url: str, operation: str, conversation_id: str, staff: str, text: str = ""
) -> BridgeAnswer:
    """``operation`` is takeover, reply, handback or erase (at a staff member's request)."""
    return await _post(
        rasa_url, operation, {"conversation_id": conversation_id, "staff": staff, "text": text}
    )


async def erase(
    rasa_url: str, conversation_id: str, requested_by: str, *, reason: str, after_turn: bool = False
) -> BridgeAnswer:
    """Everything about the conversation deleted; ``after_turn`` from inside the user's own turn."""
    body = {
        "conversation_id": conversation_id,
        "staff": requested_by,
        "reason": reason,
        "after_turn": after_turn,
    }
    return await _post(rasa_url, "erase", body)


async def erase_after_the_users_turn(conversation_id: str, reason: str) -> BridgeAnswer:
    """From the action server, inside the user's turn: the Rasa server erases once the turn ends."""
    return await erase(rasa_url_from_env(), conversation_id, "user", reason=reason, after_turn=True)


async def _post(rasa_url: str, operation: str, body: dict[str, Any]) -> BridgeAnswer:
    headers = {"Authorization": f"Bearer {staff_bridge_token()}"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)) as session:
            async with session.post(
                f"{rasa_url}/webhooks/staff/{operation}", json=body, headers=headers
            ) as answer:
                data = await answer.json(content_type=None)
                status = answer.status
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return BridgeAnswer(False, error="unreachable")
    if status in (200, 202) and isinstance(data, dict):
        return BridgeAnswer(True, bool(data.get("delivered")), str(data.get("reason") or ""))
    return BridgeAnswer(False, error={409: "conflict", 404: "not_found"}.get(status, "refused"))
