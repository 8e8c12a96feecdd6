"""`make bench` interrupted by SIGTERM (a CI job's timeout) stops what it started: here, its Azurite."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from devtools.azurite import port_open

ROOT = Path(__file__).resolve().parents[2]
AZURITE_LINE = re.compile(r"Azurite \(pid (\d+)\) on ports (\d+) \(table\), (\d+) \(queue\)")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_sigterm_stops_the_benchmarks_azurite(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "--quick", "--only", "coldstart", "--output", str(tmp_path / "r.md")]
    environment = {**os.environ, "BENCH_WORK": str(tmp_path / "work")}  # not the worktree's bench/.work
    bench = subprocess.Popen(command, cwd=ROOT, env=environment, stderr=subprocess.PIPE, text=True)
    assert bench.stderr is not None
    lines: list[str] = []
    started = threading.Event()

    def read(stream: object) -> None:
        for line in bench.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if AZURITE_LINE.search(line):
                started.set()

    reader = threading.Thread(target=read, args=(bench.stderr,), daemon=True)
    reader.start()
    assert started.wait(60), "".join(lines)
    [found] = [match for line in lines if (match := AZURITE_LINE.search(line))]
    pid, table_port, queue_port = (int(value) for value in found.groups())
    try:
        assert alive(pid) and port_open(table_port)
        bench.send_signal(signal.SIGTERM)
        code = bench.wait(timeout=60)
        reader.join(10)
        left_running = alive(pid)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        if alive(pid):  # a failing run must not leave it behind either
            os.killpg(pid, signal.SIGKILL)  # Azurite runs in a process group of its own (devtools/azurite.py)
    assert not left_running, f"Azurite (pid {pid}) was still running after the benchmark ended"
    assert not port_open(table_port) and not port_open(queue_port)
    assert code == 143  # 128 + SIGTERM, after its clean-up
    assert "terminated: everything started was stopped" in "".join(lines)
