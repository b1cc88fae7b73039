"""Starting a real Rasa + action server pair in tests: environment, ports, readiness."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import requests

# credentials.yml names these; Rasa refuses to start when one is unset.
WECHAT_DEFAULTS = {
    "WECHAT_TOKEN": "",
    "WECHAT_APPID": "",
    "WECHAT_AES_KEY": "",
    "WECHAT_APPSECRET": "",
    "WECHAT_API_BASE": "https://api.weixin.qq.com",
}


def bot_server_env(case_db: Path) -> dict[str, str]:
    return {
        **WECHAT_DEFAULTS,
        **os.environ,
        "CASE_STORE_URL": f"sqlite:///{case_db}",
        "WUSHUA_LINK_SECRET": os.environ.get("WUSHUA_LINK_SECRET") or uuid.uuid4().hex,
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout_seconds: float) -> None:
    """Until ``url`` answers 200; fails early with the log's tail if the server died."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise RuntimeError(f"server not up after {timeout_seconds}s:\n{log.read_text()[-3000:]}")
