"""Which web origins may drive the bot from a browser.

The widget's socket.io connection and any browser call to the REST channel
carry an ``Origin``. Allowed are the bot's own origin (the page it serves
itself), pages on this machine (``localhost``), and the sites named in
``ALLOWED_ORIGINS`` (comma-separated, e.g.
``https://www.bank.example,https://help.bank.example``): the sites that embed
the widget. A request without an ``Origin`` comes from a program, not a
browser page, and is left to the channel's own rules.
"""

from __future__ import annotations

import os
from functools import cache
from urllib.parse import urlsplit

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@cache
def allowed_origins() -> frozenset[str]:
    configured = os.environ.get("ALLOWED_ORIGINS", "")
    return frozenset(origin.strip().rstrip("/").lower() for origin in configured.split(",") if origin.strip())


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Whether a browser page at ``origin`` may use the bot reached as ``host`` (the Host header)."""
    if not origin:
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if host and parts.netloc.lower() == host.lower():
        return True  # the bot's own pages, whether TLS ends here or at a proxy in front
    if parts.hostname in LOCAL_HOSTS:
        return True
    return origin.rstrip("/").lower() in allowed_origins()
