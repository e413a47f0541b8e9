"""Fixtures: a fresh orchlogd on 127.0.0.1 port 0 with a temporary database per test."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

import orchlog

CLIENT_DIR = Path(__file__).resolve().parent.parent
_LISTENING = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")

#: Retries generous enough to ride out a server restart in the tests.
TEST_RETRY = orchlog.RetryPolicy(max_attempts=40, initial_backoff=0.05, max_backoff=0.3)


def find_orchlogd() -> str:
    """ORCHLOGD, else ../../.build/debug/orchlogd (what `swift build` makes)."""
    env = os.environ.get("ORCHLOGD")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise pytest.UsageError(f"ORCHLOGD={env} is not an executable file")
        return os.path.abspath(env)
    for candidate in (
        CLIENT_DIR / ".." / ".." / ".build" / "debug" / "orchlogd",
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate.resolve())
    raise pytest.UsageError("orchlogd not found: set ORCHLOGD to the server binary")


class OrchlogServer:
    """One orchlogd process; can be killed and restarted on the same port and database."""

    def __init__(self, binary: str, directory: Path, extra_args: Optional[List[str]] = None):
        self.binary = binary
        self.db = directory / "orchlog.db"
        self.log_path = directory / "orchlogd.log"
        self.extra_args = list(extra_args or [])
        self.port = 0
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self, port: int = 0, timeout: float = 10.0) -> None:
        """Start on ``port`` (0 = any) and wait for the "listening on" line."""
        deadline = time.monotonic() + timeout
        while True:
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [
                        self.binary,
                        "--listen",
                        f"127.0.0.1:{port}",
                        "--db",
                        str(self.db),
                        *self.extra_args,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            while time.monotonic() < deadline:
                with open(self.log_path, "rb") as log:
                    log.seek(offset)
                    match = _LISTENING.search(log.read())
                if match:
                    self.port = int(match.group(1))
                    return
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
            if self.proc.poll() is None:
                self.kill()
                raise RuntimeError(f"orchlogd did not start in time: {self.log_text()}")
            # Exited (e.g. status 3, the port not free yet after a restart): try again.
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"orchlogd exited with {self.proc.returncode}: {self.log_text()}"
                )
            time.sleep(0.1)

    def restart(self) -> None:
        """Start again on the same port and database."""
        self.start(port=self.port)

    def kill(self) -> None:
        """kill -9 and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM (drain) and wait for the exit status; kill -9 after ``timeout``."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def stop(self) -> None:
        """Stop for good: drain, or kill -9 when that takes too long."""
        if self.proc is not None and self.proc.poll() is None:
            self.terminate(timeout=5.0)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def orchlogd_binary() -> str:
    return find_orchlogd()


@pytest.fixture
def server(orchlogd_binary: str, tmp_path: Path) -> Iterator[OrchlogServer]:
    srv = OrchlogServer(orchlogd_binary, tmp_path)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server: OrchlogServer) -> Iterator[orchlog.Client]:
    with orchlog.Client("127.0.0.1", server.port, timeout=10.0, retry=TEST_RETRY) as c:
        yield c
