"""Where a request comes from, as far as the server can tell.

Behind a reverse proxy the peer is the proxy; Sanic then reports the client
the proxy names (``request.remote_addr``) when told to trust it
(``SANIC_PROXIES_COUNT``), and only then.
"""

from __future__ import annotations

import ipaddress

from sanic.request import Request


def client_address(request: Request) -> str:
    """The client's address: the proxy's report when Sanic trusts one, else the peer's."""
    return request.remote_addr or request.ip


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
