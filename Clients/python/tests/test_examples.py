"""Runs every examples/*.py against a live orchlogd."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CLIENT_DIR, OrchlogServer

EXAMPLES = sorted((CLIENT_DIR / "examples").glob("*.py"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(example: Path, server: OrchlogServer) -> None:
    env = dict(os.environ, ORCHLOG_SERVER=server.address)
    proc = subprocess.run(
        [sys.executable, str(example)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip()


def test_quickstart_output(server: OrchlogServer) -> None:
    proc = subprocess.run(
        [sys.executable, str(CLIENT_DIR / "examples" / "quickstart.py"), server.address],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "connected to orchlogd 0.1.0 (0 entries)"
    assert "  deploy service [session] seq=1" in lines
    assert "      compile [task] seq=3" in lines
    assert lines[-4:] == [
        "  child seq=2: build",
        "  child seq=4: test",
        "  child seq=6: package",
        "  child seq=7: release",
    ]
