"""``python -m devtools.standins [--state-dir DIR]``: run every stand-in in one process until SIGINT/SIGTERM.

Writes ``DIR/standins.json`` (the app's settings; removed again on exit) and ``DIR/ca.pem``, prints a short
summary (secrets masked) and one line per event (ids only, no personal data).
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType

from . import Ports, start_all

SECRET_SETTINGS = ("AZURE_CLIENT_SECRET", "DYNAMICS_PASSWORD", "SMTP_PASSWORD", "IDENTITY_HEADER")


def _say(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.standins", description=__doc__)
    parser.add_argument("--state-dir", type=Path, help="where standins.json and ca.pem go (default: a temp dir)")
    for name in ("entra", "msi", "dataverse", "graph", "smtp", "smtp-control"):
        parser.add_argument(f"--{name}-port", type=int, default=0, help="0 (default) picks a free port")
    parser.add_argument("--user-realm-port", type=int, default=443, help="ROPC user-realm listener; 0 disables")
    parser.add_argument("--smtp-auth", action="store_true", help="require SMTP AUTH (credentials in standins.json)")
    args = parser.parse_args(argv)

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="standins-"))
    ports = Ports(
        entra=args.entra_port, msi=args.msi_port, dataverse=args.dataverse_port, graph=args.graph_port,
        smtp=args.smtp_port, smtp_control=args.smtp_control_port, user_realm=args.user_realm_port or None,
    )  # fmt: skip
    try:
        standins = start_all(state_dir, ports=ports, smtp_auth=args.smtp_auth, listener=_say)
    except OSError as exc:
        print(f"stand-ins could not start: {exc}", file=sys.stderr)
        return 2

    try:
        print("stand-ins running (Ctrl-C or SIGTERM stops them):", flush=True)
        print(f"  entra      {standins.entra.base_url}  (managed identity: {standins.entra.identity_endpoint})")
        print(f"  dataverse  {standins.dataverse.base_url}")
        print(f"  graph      {standins.graph.base_url}")
        print(f"  smtp       {standins.smtp.host}:{standins.smtp.port}")
        if standins.entra.user_realm_error:
            print(f"  WARNING: {standins.entra.user_realm_error}")
        print(f"settings ({standins.settings_file}):")
        for name, value in standins.settings.items():
            print(f"  {name}={'***' if name in SECRET_SETTINGS else value}")
        sys.stdout.flush()
        while not stopping.wait(0.5):
            pass
    finally:
        standins.stop()
        standins.settings_file.unlink(missing_ok=True)
    print("stand-ins stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
