"""The action server's Sanic settings (actions/server.py)."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
from server_env import free_port, wait_for

from actions.server import FIRST_REQUEST_WAIT_SECONDS, TOKEN_HEADER
from scripts.rasa_env import ACTION_SERVER

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


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket listens on at ``port``, read from /proc/net/tcp{,6}."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                packed = bytes.fromhex(address)
                # /proc prints each 32-bit word in host (little-endian) order.
                words = [packed[i : i + 4][::-1] for i in range(0, len(packed), 4)]
                addresses.add(str(ipaddress.ip_address(b"".join(words))))
    return addresses


def test_the_action_server_listens_on_loopback_and_wants_the_token(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "SANIC_HOST"}
    env.update(ACTION_SERVER_TOKEN="shared-secret", CASE_STORE_URL=f"sqlite:///{tmp_path / 'cases.db'}")
    log = tmp_path / "actions.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [*ACTION_SERVER, "--port", str(port)],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/health", server, log, 120)
        assert listening_addresses(port) == {"127.0.0.1"}
        call = {"next_action": "action_request_human", "tracker": {"sender_id": "rest:x", "events": []}}
        webhook = f"http://127.0.0.1:{port}/webhook"
        assert requests.post(webhook, json=call, timeout=30).status_code == 401
        wrong = requests.post(webhook, json=call, headers={TOKEN_HEADER: "guess"}, timeout=30)
        assert wrong.status_code == 401
        right = requests.post(webhook, json=call, headers={TOKEN_HEADER: "shared-secret"}, timeout=30)
        assert right.status_code == 200, right.text
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_listening_widely_without_a_token_is_refused_at_start() -> None:
    program = "from rasa_sdk.endpoint import create_app\ncreate_app('actions')"
    env = {**os.environ, "SANIC_HOST": "0.0.0.0"}
    env.pop("ACTION_SERVER_TOKEN", None)
    run = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode != 0
    assert "ACTION_SERVER_TOKEN" in run.stderr
