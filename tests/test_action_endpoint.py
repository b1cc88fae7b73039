"""Action-server calls on kept-alive connections (bot/rasa/patches/action_endpoint.py) beside Rasa's own.

A local aiohttp server records what reaches it and from which client port;
each case runs the same calls through Rasa's ``EndpointConfig.request`` and
through ours, and both must send the same requests and return or raise the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from bot.rasa import patches
from bot.rasa.patches import action_endpoint

rasas_request = patches.rasas_own(EndpointConfig, "request")
_runners: list[web.AppRunner] = []


async def serving(check: Callable[[str, list[dict]], Awaitable[None]]) -> None:
    """Runs ``check(base_url, seen)`` against a local server; ``seen`` lists each request it got."""
    seen: list[dict] = []

    async def webhook(request: web.Request) -> web.Response:
        seen.append(
            {
                "client_port": request.transport.get_extra_info("peername")[1],
                "path": request.path,
                "query": dict(request.query),
                "header": request.headers.get("X-Deploy"),
                "auth": request.headers.get("Authorization"),
                "json": await request.json() if request.can_read_body else None,
            }
        )
        if request.path == "/broken":
            return web.Response(status=422, text="missing slot")
        if request.path == "/plain":
            return web.Response(text="ok")
        return web.json_response({"events": [], "responses": [{"text": "好的"}]})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    _runners.append(runner)
    port = site._server.sockets[0].getsockname()[1]
    try:
        await check(f"http://127.0.0.1:{port}", seen)
    finally:
        await action_endpoint.close_sessions()
        while _runners:
            await _runners.pop().cleanup()


def without_ports(seen: list[dict]) -> list[dict]:
    return [{key: value for key, value in request.items() if key != "client_port"} for request in seen]


def test_calls_share_one_connection_and_return_what_rasas_request_returns() -> None:
    async def check(base: str, seen: list[dict]) -> None:
        endpoint = EndpointConfig(
            f"{base}/webhook",
            token="secret",
            headers={"X-Deploy": "blue"},
            basic_auth={"username": "rasa", "password": "s3cret"},
        )
        # Encoded with ujson on our side: the server must decode the same body.
        body = {"text": "刷了两次 <b>/</b>", "confidence": 0.1 + 0.2, "slots": {"amount": 1e-7, "bank": None}}
        rasas = [
            await rasas_request(endpoint, json={**body, "n": n}, method="post", timeout=10) for n in range(3)
        ]
        rasas_seen, seen[:] = list(seen), []
        ours = [
            await action_endpoint.request(endpoint, json={**body, "n": n}, method="post", timeout=10)
            for n in range(3)
        ]

        assert ours == rasas == [{"events": [], "responses": [{"text": "好的"}]}] * 3
        assert without_ports(seen) == without_ports(rasas_seen)
        assert seen[0]["query"] == {"token": "secret"} and seen[0]["header"] == "blue"
        assert seen[0]["json"] == {**body, "n": 0} and seen[0]["auth"].startswith("Basic ")
        assert len({request["client_port"] for request in rasas_seen}) == 3  # a new connection per call
        assert len({request["client_port"] for request in seen}) == 1  # one connection for all

    asyncio.run(serving(check))


@pytest.mark.parametrize("path, outcome", [("/plain", None), ("/broken", ClientResponseError)])
def test_answers_and_errors_are_rasas(path: str, outcome: Any) -> None:
    async def check(base: str, seen: list[dict]) -> None:
        endpoint = EndpointConfig(base)
        for request in (rasas_request, action_endpoint.request):
            if outcome is ClientResponseError:
                with pytest.raises(ClientResponseError) as raised:
                    await request(endpoint, subpath=path, json={})
                assert raised.value.status == 422 and raised.value.text == b"missing slot"
            else:
                assert await request(endpoint, subpath=path, json={}) is outcome

    asyncio.run(serving(check))


def test_a_restarted_action_server_is_reached_on_a_new_connection() -> None:
    async def check(base: str, seen: list[dict]) -> None:
        endpoint = EndpointConfig(f"{base}/webhook")
        await action_endpoint.request(endpoint, json={})
        port = int(base.rsplit(":", 1)[1])
        await restart_on(port)
        assert await action_endpoint.request(endpoint, json={}) == {"events": [], "responses": []}

    asyncio.run(serving(check))


async def restart_on(port: int) -> None:
    """Stops every server on ``port`` (closing its connections), then serves a second app there."""
    for runner in list(_runners):
        await runner.cleanup()
    app = web.Application()
    app.router.add_post("/webhook", lambda request: web.json_response({"events": [], "responses": []}))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    _runners.append(runner)
