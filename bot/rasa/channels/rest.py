"""The REST channel: for trusted backends, with input checks and secret masking.

A drop-in for Rasa's ``rest`` channel (same name, same URL
``/webhooks/rest/webhook``), for a backend that speaks for its own users, not
for browsers. It answers loopback clients, and other hosts only with
``Authorization: Bearer $REST_TOKEN``; behind a reverse proxy the client's
address is the one the proxy reports when Sanic is told to trust it
(``SANIC_PROXIES_COUNT``), never the proxy's own loopback address. The sender
a client names lives in the ``rest:`` namespace (``bot/infra/identity.py``), so a
REST client can never speak as a widget visitor or a WeChat user, and the
channel shown to staff is always ``rest``, whatever the client says. A
browser page may call it only from an allowed origin (``bot/rasa/channels/origins.py``):
others get 403, so no website can drive it from its visitors' browsers.

Malformed requests get a 400 instead of reaching Rasa; the text is masked
before anything, Rasa's own error log included, can see it. A turn that fails
inside Rasa answers 503 when the tracker store or the lock store could not be
reached (``bot/rasa/channels/turn_failures.py``) and 500 otherwise, instead of
Rasa's 200 with whatever was collected, so a client can rely on a 200 meaning
the message was stored, and send it again on a 503.
"""

from __future__ import annotations

import hmac
import json
import os
from contextvars import ContextVar
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.domain.masking import mask_secrets
from bot.domain.responses import response_text
from bot.infra.identity import conversation_id
from bot.rasa.channels.client_address import client_address, is_loopback
from bot.rasa.channels.guard import MASKED_METADATA_KEY, MAX_MESSAGE_CHARS, Handler, guard_incoming, throttled
from bot.rasa.channels.origins import origin_allowed
from bot.rasa.channels.turn_failures import RETRY_AFTER_SECONDS, store_unreachable
from bot.rasa.patches import action_endpoint

MAX_SENDER_CHARS = 128
MAX_METADATA_BYTES = 4096
# The whole Rasa server's request cap (Sanic's default is 100 MB): the largest
# legitimate body is a message of MAX_MESSAGE_CHARS in JSON, well under it.
MAX_REQUEST_BYTES = 64 * 1024

# The status of a failed turn: set inside Rasa's handler, read by the response middleware.
# Both run in the request's task, and Rasa's own webhook swallows the exception in between.
_turn_failed: ContextVar[int | None] = ContextVar("rest_turn_failed", default=None)


def request_problem(body: Any) -> str | None:
    """Why a webhook body is unusable, or None when it is fine."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        return f"sender must be a non-empty string of at most {MAX_SENDER_CHARS} characters"
    if not isinstance(message, str):
        return "message must be a string"
    if len(message) > MAX_MESSAGE_CHARS:
        return f"message must be at most {MAX_MESSAGE_CHARS} characters"
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return "metadata must be an object"
    if metadata and len(json.dumps(metadata, ensure_ascii=False).encode()) > MAX_METADATA_BYTES:
        return f"metadata must be at most {MAX_METADATA_BYTES} bytes"
    return None


def access_problem(request: Request, rest_token: str) -> HTTPResponse | None:
    """Why this client may not use the channel (a 401 or 403), or None when it may."""
    if not origin_allowed(request.headers.get("origin"), request.host):
        return response.json({"error": "this origin may not use the REST channel"}, status=403)
    if is_loopback(client_address(request)):
        return None
    if not rest_token:
        return response.json({"error": "this channel answers requests from this machine only"}, status=403)
    presented = request.headers.get("authorization", "")
    if hmac.compare_digest(presented.encode(), f"Bearer {rest_token}".encode()):
        return None
    return response.json(
        {"error": "a valid bearer token is required"}, status=401, headers={"WWW-Authenticate": "Bearer"}
    )


def reporting_failures(on_new_message: Handler) -> Handler:
    async def handler(message: UserMessage) -> Any:
        try:
            return await on_new_message(message)
        except Exception as error:
            _turn_failed.set(503 if store_unreachable(error) else 500)
            raise

    return handler


class MaskedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        webhook = super().blueprint(reporting_failures(guard_incoming(on_new_message)))

        rest_token = os.environ.get("REST_TOKEN", "")

        @webhook.middleware("request")
        async def reject_malformed(request: Request) -> HTTPResponse | None:
            if request.method != "POST":
                return None
            refused = access_problem(request, rest_token)
            if refused is not None:
                return refused
            try:
                body = request.json
            except Exception:
                return response.json({"error": "body must be valid JSON"}, status=400)
            problem = request_problem(body)
            return response.json({"error": problem}, status=400) if problem else None

        @webhook.route("/webhook", methods=["OPTIONS"])
        async def preflight(request: Request) -> HTTPResponse:
            if not request.headers.get("origin") or not origin_allowed(
                request.headers.get("origin"), request.host
            ):
                return response.empty(status=403)
            return response.empty(
                status=204,
                headers={
                    "Access-Control-Allow-Methods": "POST",
                    "Access-Control-Allow-Headers": "Content-Type, Authorization",
                    "Access-Control-Max-Age": "600",
                },
            )

        @webhook.listener("before_server_start")
        async def cap_request_size(app: Sanic, _: Any) -> None:
            app.config.REQUEST_MAX_SIZE = min(app.config.REQUEST_MAX_SIZE, MAX_REQUEST_BYTES)

        @webhook.listener("after_server_stop")
        async def close_action_server_connections(*_: Any) -> None:
            await action_endpoint.close_sessions()

        @webhook.middleware("response")
        async def report_failed_turn(request: Request, reply: HTTPResponse) -> HTTPResponse | None:
            if failed := _turn_failed.get():
                retry = {"Retry-After": str(RETRY_AFTER_SECONDS)} if failed == 503 else None
                reply = response.json(
                    {"error": response_text("utter_turn_failed")}, status=failed, headers=retry
                )
            elif throttled.get():
                reply.status = 429
            origin = request.headers.get("origin")
            if origin and origin_allowed(origin, request.host):
                reply.headers["Access-Control-Allow-Origin"] = origin
                reply.headers["Vary"] = "Origin"
            return reply

        return webhook

    async def _extract_sender(self, req: Request) -> str:
        return conversation_id(self.name(), req.json["sender"])

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()

    def _extract_message(self, req: Request) -> str:
        masked = mask_secrets(req.json["message"])
        req.ctx.masked_secrets = list(masked.kinds)
        return masked.text

    def get_metadata(self, request: Request) -> dict[str, Any]:
        metadata = dict(request.json.get("metadata") or {})
        metadata[MASKED_METADATA_KEY] = getattr(request.ctx, "masked_secrets", [])
        return metadata
