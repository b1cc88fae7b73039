"""The console's calls to the Rasa server's staff channel (``bot/rasa/channels/staff.py``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from bot.infra.server_secret import staff_bridge_token

TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class BridgeAnswer:
    ok: bool
    delivered: bool = False
    reason: str = ""  # why a message was not delivered
    error: str = ""  # why the call failed: "unreachable", "conflict", "not_found", "refused"


async def call(
    rasa_url: str, operation: str, conversation_id: str, staff: str, text: str = ""
) -> BridgeAnswer:
    """``operation`` is takeover, reply, handback or erase."""
    body = {"conversation_id": conversation_id, "staff": staff, "text": text}
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
    if status == 200 and isinstance(data, dict):
        return BridgeAnswer(True, bool(data.get("delivered")), str(data.get("reason") or ""))
    return BridgeAnswer(False, error={409: "conflict", 404: "not_found"}.get(status, "refused"))
