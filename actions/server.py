"""Settings for the action server's own Sanic app (``rasa run actions``).

Who may call it. The action server runs any action for any conversation it
is told about (create a case with any facts, close one, mint a checklist
link), so only the Rasa server may reach it. It listens on 127.0.0.1 unless
``SANIC_HOST`` says otherwise (rasa-sdk reads that variable after loading
this package), and where it listens more widely it requires
``ACTION_SERVER_TOKEN`` in the ``X-Action-Token`` header, which Rasa sends
(``endpoints.cluster.yml``); listening more widely without a token is
refused at start-up.

Keep-alive. Rasa opens a new connection for every action call. Sanic counts
the wait for the first request on a connection against
``KEEP_ALIVE_TIMEOUT`` (5 s by default) and then closes it. When many users
talk at once, the Rasa server's event loop can be busy with model inference
for longer than that between connecting and writing its request, and the
call fails with "Cannot write to closing transport": the user's action is
lost and they get no reply (seen with 50 simulated users in ``make bench``).
Waiting as long as nginx does by default (75 s) removes that failure.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

RASA_SDK_APP_NAME = "rasa_sdk"
FIRST_REQUEST_WAIT_SECONDS = 75
DEFAULT_HOST = "127.0.0.1"
TOKEN_HEADER = "X-Action-Token"
OPEN_PATHS = ("/health",)


def listens_on_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def configure_action_server() -> None:
    """Applies our settings when rasa-sdk loads this package inside ``create_app``.

    Anything else importing ``actions`` (tests, tools) has no such app, and
    nothing happens.
    """
    try:
        app = Sanic.get_app(RASA_SDK_APP_NAME)
    except SanicException:
        return
    app.config.KEEP_ALIVE_TIMEOUT = FIRST_REQUEST_WAIT_SECONDS
    host = os.environ.setdefault("SANIC_HOST", DEFAULT_HOST)
    token = os.environ.get("ACTION_SERVER_TOKEN", "")
    if not token and not listens_on_loopback(host):
        raise SystemExit(
            f"The action server would listen on {host} without ACTION_SERVER_TOKEN: set the token "
            "(and the same X-Action-Token header in Rasa's action_endpoint), or listen on 127.0.0.1."
        )
    if token:
        app.register_middleware(token_check(token), "request")


def token_check(token: str):
    expected = token.encode()

    async def check(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        presented = request.headers.get(TOKEN_HEADER, "").encode()
        if hmac.compare_digest(presented, expected):
            return None
        return response.json({"error": "unauthorized"}, status=401)

    return check
