"""The environment the tests give a real Rasa + action server pair."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

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
