"""Settings for the action server's own Sanic app (``rasa run actions``).

Rasa opens a new connection for every action call. Sanic counts the wait for
the first request on a connection against ``KEEP_ALIVE_TIMEOUT`` (5 s by
default) and then closes it. When many users talk at once, the Rasa server's
event loop can be busy with model inference for longer than that between
connecting and writing its request, and the call fails with "Cannot write to
closing transport": the user's action is lost and they get no reply (seen
with 50 simulated users in ``make bench``). Waiting as long as nginx does by
default (75 s) removes that failure.
"""

from __future__ import annotations

from sanic import Sanic
from sanic.exceptions import SanicException

RASA_SDK_APP_NAME = "rasa_sdk"
FIRST_REQUEST_WAIT_SECONDS = 75


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
