"""Calls to the action server over kept-alive connections.

Rasa 3.6's ``EndpointConfig.request`` opens an ``aiohttp.ClientSession`` for
every call and closes it after, so each action (and each form validation)
pays for a new session and a new TCP connection: about 1.2 ms of the Rasa
server's CPU per call, measured against the real action server. This sends
the same request (headers, auth, token, timeout, errors) through one session
per endpoint and event loop, which keeps connections open between calls.

aiohttp forgets an idle connection after 15 s, well before the action server
(75 s, ``actions/server.py``) or nginx (75 s) would close it, so a call never
goes out on a connection the other side is closing.

The bodies are encoded and decoded with ujson (a Rasa dependency): the
request carries the conversation's whole tracker, and the standard library's
encoder was about 5 % of the Rasa server's CPU under load. The action server
decodes the same JSON either way.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import weakref
from typing import Any

import aiohttp
import ujson
from rasa.shared.exceptions import FileNotFoundException
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, ClientResponseError, EndpointConfig, concat_url

# Per event loop (an aiohttp session belongs to one), per session-level setting (headers, auth).
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, aiohttp.ClientSession]] = (
    weakref.WeakKeyDictionary()
)


def _session(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    on_loop = _sessions.setdefault(asyncio.get_running_loop(), {})
    key = (tuple(sorted(endpoint.headers.items())), tuple(sorted(endpoint.basic_auth.items())))
    session = on_loop.get(key)
    if session is None or session.closed:
        session = on_loop[key] = _new_session(endpoint)
    return session


def _new_session(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    """``EndpointConfig.session()`` of Rasa 3.6, encoding bodies with ujson."""
    auth = (
        aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
        if endpoint.basic_auth
        else None
    )
    return aiohttp.ClientSession(
        headers=endpoint.headers,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        json_serialize=ujson.dumps,
    )


def _ssl_context(cafile: str | None) -> ssl.SSLContext | None:
    if not cafile:
        return None
    try:
        return ssl.create_default_context(cafile=cafile)
    except FileNotFoundError as error:
        raise FileNotFoundException(
            f"Failed to find certificate file, '{os.path.abspath(cafile)}' does not exist."
        ) from error


async def request(
    self: EndpointConfig,
    method: str = "post",
    subpath: str | None = None,
    content_type: str | None = "application/json",
    compress: bool = False,
    **kwargs: Any,
) -> Any:
    """``EndpointConfig.request`` of Rasa 3.6, on a kept session; same arguments, result and errors."""
    headers = {"Content-Type": content_type} if content_type else {}
    headers.update(kwargs.pop("headers", {}))
    headers.update(self.headers)
    sslcontext = _ssl_context(self.cafile)
    kwargs.setdefault("timeout", aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT))
    async with _session(self).request(
        method,
        concat_url(self.url, subpath),
        headers=headers,
        params=self.combine_parameters(kwargs),
        compress=compress,
        ssl=sslcontext,
        **kwargs,
    ) as response:
        if response.status >= 400:
            raise ClientResponseError(response.status, response.reason, await response.content.read())
        try:
            return await response.json(loads=ujson.loads)
        except aiohttp.ContentTypeError:
            return None


async def close_sessions() -> None:
    """Closes the sessions opened on the running loop (the server stopping)."""
    for session in _sessions.pop(asyncio.get_running_loop(), {}).values():
        await session.close()
