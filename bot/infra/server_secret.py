"""The server's one secret, from which every signature and keyed hash is derived.

``WUSHUA_SECRET`` sets it (the same value on every replica); otherwise it is
generated once into ``var/secret`` (mode 0600), so the Rasa server, the
action server and the console of one machine share it. Each use derives its
own key through a salt, so a value signed for one purpose is worthless for
another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet
from itsdangerous import Signer

from bot.domain.knowledge import PROJECT_ROOT
from bot.infra.private_files import private_directory

SECRET_FILE = PROJECT_ROOT / "var" / "secret"


@cache
def server_secret() -> str:
    configured = os.environ.get("WUSHUA_SECRET")
    if configured:
        return configured
    private_directory(SECRET_FILE.parent)
    try:
        # O_EXCL: when the servers start at once, exactly one writes the secret.
        descriptor = os.open(SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_when_written(SECRET_FILE)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32))
    return SECRET_FILE.read_text().strip()


def _read_when_written(path: Path) -> str:
    for _ in range(100):
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.01)
    raise RuntimeError(f"{path} exists but is empty")


def signer(purpose: str) -> Signer:
    """An HMAC signer whose signatures are valid for ``purpose`` only."""
    return Signer(server_secret(), salt=f"wushua.{purpose}", digest_method=hashlib.sha256)


def keyed_hash(purpose: str, value: str) -> str:
    """A stable pseudonym for ``value``: unlinkable without the server secret."""
    key = hmac.new(server_secret().encode(), f"wushua.{purpose}".encode(), hashlib.sha256).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def sealer(purpose: str) -> Fernet:
    """Encrypts and authenticates (AES, HMAC) for ``purpose`` only: what it seals is unreadable
    and unforgeable without the server secret, and carries its time, for links that expire."""
    key = hmac.new(server_secret().encode(), f"wushua.seal.{purpose}".encode(), hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def staff_bridge_token() -> str:
    """The bearer token of the console's calls to the Rasa server (``bot/rasa/channels/staff.py``)."""
    return keyed_hash("staff-bridge", "console")
