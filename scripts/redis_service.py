"""A throwaway Redis server on 127.0.0.1, for tests and the local cluster.

    python -m scripts.redis_service --data-dir /tmp/wushua-redis --port 56379

runs ``redis-server`` in the foreground, prints its URL once it answers PING
and stops it cleanly on Ctrl-C or SIGTERM. The server listens on 127.0.0.1
only, keeps its append-only file and log in the data directory, and is never
daemonised, so it cannot outlive whoever started it unnoticed. Debian's own
``redis-server`` service (on port 6379, if the package started it) is left
alone: ours runs on the port we name.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import redis

START_TIMEOUT_SECONDS = 15
STOP_TIMEOUT_SECONDS = 10


class RedisNotInstalled(RuntimeError):
    pass


def find_redis_server() -> Path:
    found = shutil.which("redis-server")
    if found is None:
        raise RedisNotInstalled(
            "redis-server not found on PATH: install the Debian package 'redis-server' "
            "(apt-get install redis-server)"
        )
    return Path(found)


class RedisService:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.server = find_redis_server()
        self.log_file = self.data_dir / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Starts the server unless it runs already; returns once it answers PING."""
        if self._process is not None and self._process.poll() is None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(self.server),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--daemonize", "no",
            "--logfile", str(self.log_file),
        ]  # fmt: skip
        self._process = subprocess.Popen(command, cwd=self.data_dir)
        self._wait_for_ping()

    def _wait_for_ping(self) -> None:
        assert self._process is not None
        probe = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited ({self._process.returncode}):\n{self._log_tail()}"
                    )
                try:
                    if probe.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.05)
        finally:
            probe.close()
        self.stop()
        raise RuntimeError(f"redis-server not answering after {START_TIMEOUT_SECONDS}s:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        return self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""

    def stop(self) -> None:
        """SIGTERM, on which Redis flushes its append-only file and exits; SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def wait(self) -> int:
        """Until the server exits; its exit status."""
        return self._process.wait() if self._process is not None else 0


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args(argv)
    service = RedisService(arguments.data_dir, arguments.port)
    # Python ends on SIGTERM without running ``finally``; turned into SystemExit it stops the server.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    service.start()
    print(service.url, flush=True)
    try:
        return service.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        service.stop()


if __name__ == "__main__":
    sys.exit(main())
