"""The development host in a process of its own, as a worker runs it: the burst and speed to lead post to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.stack import ROOT
from devtools.azurite import free_port, port_open


class Worker:
    """``python -m devtools.host`` in its own process, with its own settings file and host.json."""

    def __init__(self, work: Path, settings: dict[str, str], queues: dict[str, object]) -> None:
        host_json = json.loads((ROOT / "host.json").read_text())
        host_json["extensions"]["queues"] |= queues
        (work / "host.json").write_text(json.dumps(host_json, indent=2))
        (work / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": settings}, indent=2))
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = work / "host.log"
        self.command = [
            sys.executable, "-m", "devtools.host", "--app-dir", str(ROOT), "--port", str(self.port),
            "--host-json", str(work / "host.json"), "--settings", str(work / "local.settings.json"),
        ]  # fmt: skip
        # The settings file never overrides variables already set, and this process has set some: pass them too.
        self.env = {**os.environ, **settings}
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Worker:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        try:
            while not port_open(self.port):  # the host listens once every function is indexed
                if self.process.poll() is not None:
                    raise RuntimeError(f"the host exited with {self.process.returncode}; see {self.log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the host did not listen within 60 s; see {self.log_path}")
                time.sleep(0.2)
        except BaseException as exc:  # Ctrl-C or SIGTERM too: `with` calls __exit__ only once __enter__ returned
            self.__exit__(type(exc))
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None = None, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # graceful: in-flight invocations finish
        try:
            self.process.wait(timeout=60 if kind is None else 10)  # interrupted: do not keep the caller waiting
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def status(self) -> dict[str, str]:
        """/proc/<pid>/status of the worker: VmHWM is its peak resident memory so far."""
        assert self.process is not None
        lines = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}

    def cpu_seconds(self) -> float:
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
