"""What every Rasa process the project starts (tests, benchmark, cluster) needs: its environment, a port."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# How the project runs Rasa: its command line with the project's patches (bot/rasa/patches).
RASA = (sys.executable, "-m", "bot.rasa")
# The action server is rasa-sdk's, which needs no patch.
ACTION_SERVER = (str(BIN / "rasa"), "run", "actions")

# credentials.yml names these; Rasa refuses to start when one is unset, and an
# empty token disables the WeChat channel. The Makefile exports the same defaults.
WECHAT_DEFAULTS = {
    "WECHAT_TOKEN": "",
    "WECHAT_APPID": "",
    "WECHAT_AES_KEY": "",
    "WECHAT_ENCRYPT_MODE": "",
    "WECHAT_APPSECRET": "",
    "WECHAT_API_BASE": "https://api.weixin.qq.com",
}


def rasa_environment(**overrides: str) -> dict[str, str]:
    """The caller's environment with the WeChat defaults under it and ``overrides`` over it."""
    return {
        **WECHAT_DEFAULTS,
        **os.environ,
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
        **overrides,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local_endpoints(path: Path, action_url: str | None, tracker_db: Path) -> Path:
    """endpoints.yml as `make run` has it, pointed at ``action_url`` and a tracker DB of the caller's.

    The tracker store's type and keys come from the project's endpoints.yml, so
    tests and the benchmark run the store `make run` runs.
    """
    project = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints = {"tracker_store": {**project["tracker_store"], "db": str(tracker_db)}}
    if action_url:
        endpoints["action_endpoint"] = {"url": action_url}
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False), encoding="utf-8")
    return path
