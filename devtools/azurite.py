"""Start and stop the Azurite storage emulator (npm package ``azurite``, installed into ./node_modules)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Azurite's published, well-known development account; not a secret.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_PORTS = (10000, 10001, 10002)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class Azurite:
    """One Azurite process serving blob, queue and table on the given (or free) loopback ports."""

    def __init__(self, data_dir: Path, ports: tuple[int, int, int] | None = None) -> None:
        self.data_dir = data_dir
        self.blob_port, self.queue_port, self.table_port = ports or (free_port(), free_port(), free_port())
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        if (self.blob_port, self.queue_port, self.table_port) == DEFAULT_PORTS:
            return "UseDevelopmentStorage=true"
        base = "http://127.0.0.1:{}/" + ACCOUNT
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={base.format(self.blob_port)};QueueEndpoint={base.format(self.queue_port)};"
            f"TableEndpoint={base.format(self.table_port)};"
        )

    def start(self, timeout: float = 30.0) -> Azurite:
        executable = ROOT / "node_modules" / ".bin" / "azurite"
        if not executable.exists():
            raise RuntimeError(f"Azurite is not installed at {executable}; run `npm ci` (or `make test`) first")
        busy = [port for port in (self.blob_port, self.queue_port, self.table_port) if port_open(port)]
        if busy:
            raise RuntimeError(f"cannot start Azurite: port(s) {busy} already in use (is another Azurite running?)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(executable), "--silent", "--skipApiVersionCheck", "--disableProductStyleUrl", "--disableTelemetry",
            "--location", str(self.data_dir),
            "--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port),
            "--queueHost", "127.0.0.1", "--queuePort", str(self.queue_port),
            "--tableHost", "127.0.0.1", "--tablePort", str(self.table_port),
        ]  # fmt: skip
        log = (self.data_dir / "azurite.log").open("ab")
        # Own process group, so stop() also ends node's children.
        self.process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        try:
            while not all(port_open(port) for port in (self.blob_port, self.queue_port, self.table_port)):
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"Azurite exited with {self.process.returncode}; see {self.data_dir / 'azurite.log'}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Azurite did not start within {timeout:.0f}s; see {self.data_dir / 'azurite.log'}"
                    )
                time.sleep(0.1)
        except BaseException:  # Ctrl-C or SIGTERM while starting, too: the caller has nothing to stop yet
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
