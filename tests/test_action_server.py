"""The action server's Sanic settings (actions/server.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from actions.server import FIRST_REQUEST_WAIT_SECONDS

ROOT = Path(__file__).resolve().parent.parent


def test_rasa_sdk_app_waits_for_a_slow_first_request() -> None:
    # A fresh interpreter: rasa-sdk must be the first to import `actions`, as in `rasa run actions`.
    program = (
        "from rasa_sdk.endpoint import create_app\nprint(create_app('actions').config.KEEP_ALIVE_TIMEOUT)"
    )
    run = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == str(FIRST_REQUEST_WAIT_SECONDS)
    assert FIRST_REQUEST_WAIT_SECONDS > 5  # Sanic's default, which dropped calls under load
