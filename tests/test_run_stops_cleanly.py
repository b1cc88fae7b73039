"""`make run` stopped as a person stops it: Ctrl-C, or SIGTERM to its process group.

The test starts what `make run` starts, the way it starts it: make, its recipe's
shell and the three servers in one process group, on free ports, with the
set-up prerequisites marked done (``make -o``) so nothing is installed or
trained. Needs the trained model (``make test`` trains it first); about a
minute and a half per signal.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests
from server_env import MODEL, STARTUP_SECONDS, bot_server_env, free_port, wait_for

from scripts.rasa_env import local_endpoints

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
SET_UP = (".venv/.installed", "models/wushua.tar.gz", "node_modules/.installed")
STOP_SECONDS = 20
CRASH_SIGNS = ("Segmentation fault", "core dumped", "Traceback", "make: ***")


def default_sigint() -> None:
    # A terminal's Ctrl-C reaches a foreground job whose SIGINT is at its default;
    # pytest started in the background inherits it ignored, and so would make.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def live_members(group: int) -> set[int]:
    """Processes of ``group`` that still run (a zombie has ended, it only waits to be reaped)."""
    members = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name in parentheses may hold spaces; the fields after it do not.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        state, process_group = fields[0], int(fields[2])
        if process_group == group and state != "Z":
            members.add(int(stat.parent.name))
    return members


def still_running(pids: set[int]) -> set[int]:
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state != "Z":
            running.add(pid)
    return running


def command_lines(pids: set[int]) -> list[str]:
    """Which server each leftover process is (it may have gone meanwhile)."""
    found = []
    for pid in sorted(pids):
        try:
            found.append(f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            found.append(f"{pid}: gone")
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_make_run_stops_every_server_cleanly(tmp_path: Path, stop_signal: signal.Signals) -> None:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make test`, which trains it first")
    rasa_port, actions_port, console_port = free_port(), free_port(), free_port()
    tracker_db = tmp_path / "tracker.db"
    endpoints = local_endpoints(
        tmp_path / "endpoints.yml", f"http://127.0.0.1:{actions_port}/webhook", tracker_db
    )
    env = bot_server_env(tmp_path / "cases.db", TRACKER_DB_URL=f"sqlite:///{tracker_db}")
    for inherited in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # a person's make, not a sub-make of `make test`
        env.pop(inherited, None)
    ports = [f"RASA_PORT={rasa_port}", f"ACTIONS_PORT={actions_port}", f"CONSOLE_PORT={console_port}"]
    skip_set_up = [option for done in SET_UP for option in ("-o", done)]
    command = ["make", *skip_set_up, "run", *ports, f"ENDPOINTS={endpoints}"]
    dry_run = subprocess.run([*command, "-n"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert not any(step in dry_run.stdout for step in ("pip install", "npm ci", " train ")), dry_run.stdout

    log = tmp_path / "make-run.log"
    with open(log, "w") as output:
        make = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=default_sigint,
        )
    try:
        for url in (
            f"http://127.0.0.1:{actions_port}/health",
            f"http://127.0.0.1:{console_port}/login",
            f"http://127.0.0.1:{rasa_port}/",
        ):
            wait_for(url, make, log, STARTUP_SECONDS)
        started = live_members(make.pid)
        assert len(started) >= 5, started  # make, its shell, three servers

        os.killpg(make.pid, stop_signal)
        try:
            make.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"make run still running {STOP_SECONDS}s after {stop_signal.name}:\n{log.read_text()[-3000:]}"
            )
        # make returns once its shell has: by then every server has stopped.
        leftover = still_running(started) | live_members(make.pid)
        output_text = log.read_text()
        crashes = [line for line in output_text.splitlines() if any(sign in line for sign in CRASH_SIGNS)]
        assert not crashes, "\n".join(crashes)
        assert not leftover, f"left running: {command_lines(leftover)}\n{output_text[-3000:]}"
        assert make.returncode in (0, -stop_signal, 128 + stop_signal), output_text[-3000:]
        for port in (rasa_port, actions_port, console_port):
            with pytest.raises(requests.ConnectionError):
                requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        for pid in live_members(make.pid):
            os.kill(pid, signal.SIGKILL)
        make.wait(timeout=10)
