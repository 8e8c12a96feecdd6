"""`make run`: everything a newcomer needs to watch a lead go through, on one machine.

Starts Azurite, and — unless local.settings.json is your own (devtools/local_settings.py) — local stand-ins for
Entra ID, Dataverse, Graph, Teams Workflows and a mail catcher (the ones the tests use), then the app on the
development host (`python -m devtools.host`).
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from devtools import local_settings
from devtools.azurite import DEFAULT_PORTS, ROOT, Azurite, port_open
from devtools.standins.dataverse_seed import seed
from leads.core.validation_lead import test_lead_payload
from leads.settings import SettingsError, local_file

LOCAL = ROOT / ".local"
SETTINGS = ROOT / local_file.FILE_NAME
SAMPLE = ROOT / local_file.SAMPLE_NAME
APP_PORT = 7071
EXAMPLE_RULES = ROOT / "routing.example.toml"


def start_standins() -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    state = LOCAL / "standins"
    (state / "standins.json").unlink(missing_ok=True)
    process = subprocess.Popen([sys.executable, "-m", "devtools.standins", "--state-dir", str(state)], cwd=ROOT)
    deadline = time.monotonic() + 30
    while not (state / "standins.json").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the local stand-ins did not start; see the messages above")
        time.sleep(0.1)
    values: dict[str, str] = json.loads((state / "standins.json").read_text())
    return process, values


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the app did not start listening on port {port}; see the messages above")
        time.sleep(0.1)


def start_azurite() -> Azurite | None:
    """Azurite on 10000-10002, or None when a storage emulator already listens there (it is used as it is)."""
    if all(port_open(port) for port in DEFAULT_PORTS):
        print("Azurite (or another storage emulator) is already running on 10000-10002: using it")
        return None
    azurite = Azurite(LOCAL / "azurite", ports=DEFAULT_PORTS).start()
    print(f"Azurite started (data in {azurite.data_dir.relative_to(ROOT)})")
    return azurite


def start_local_services(started: list[subprocess.Popen[bytes]]) -> dict[str, str]:
    """The stand-ins, unless local.settings.json is your own (devtools/local_settings.py); their settings ({}
    without them)."""
    if not local_settings.uses_standins(SETTINGS):
        print("\n".join(local_settings.describe_own_settings(SETTINGS)))
        return {}
    standins, standin_values = start_standins()
    started.append(standins)
    kept = local_settings.write_standin_settings(SETTINGS, SAMPLE, standin_values)
    yours = f" Kept your values: {', '.join(kept)}." if kept else ""
    seed(standin_values["STANDIN_DATAVERSE_CONTROL"], EXAMPLE_RULES)  # so the example routes fully locally
    print(f"the Dataverse stand-in holds the users, teams and campaigns {EXAMPLE_RULES.name} names")
    print(
        f"local.settings.json points at the local stand-ins: make run rewrites their addresses and test credentials "
        f"on each start and keeps every other value you put there (your own settings go there; the app and "
        f"`python -m leads` both read it).{yours}"
    )
    return standin_values


def stop(started: list[subprocess.Popen[bytes]], azurite: Azurite | None) -> None:
    """Stop what `make run` started, newest first: SIGINT, then a kill after 15 s."""
    for process in reversed(started):
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in reversed(started):
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    if azurite is not None:
        azurite.stop()
    print("stopped everything `make run` started")


def main() -> int:
    if port_open(APP_PORT):
        raise SystemExit(f"port {APP_PORT} is in use: is the app already running (another `make run`, `func start`)?")
    started: list[subprocess.Popen[bytes]] = []
    azurite: Azurite | None = None
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        azurite = start_azurite()
        standin_values = start_local_services(started)
        # The host reads local.settings.json as `python -m leads` does (the environment wins, as with func start):
        # both see the same settings. The stand-ins' CA is LOOPBACK_CA_FILE there, trusted beside any
        # REQUESTS_CA_BUNDLE the machine sets (leads/adapters/trust.py).
        host = subprocess.Popen([sys.executable, "-m", "devtools.host", "--port", str(APP_PORT)], cwd=ROOT)
        started.append(host)
        wait_for_port(APP_PORT, host)
        print_next_steps(standin_values)
        while not stop_requested and all(process.poll() is None for process in started):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    except SettingsError as exc:  # an unreadable local.settings.json: say which file and value, not a traceback
        raise SystemExit(f"error: {exc}") from None
    finally:
        stop(started, azurite)
    return 0


def print_next_steps(standin_values: dict[str, str]) -> None:
    endpoint = f"http://127.0.0.1:{APP_PORT}/api/leads"
    test_lead = json.dumps(test_lead_payload(1))
    lines = [
        "",
        f"The lead endpoint is up: POST {endpoint}",
        "Post Microsoft's test lead:",
        f"  curl -i -X POST {endpoint} -H 'Content-Type: application/json' -d '{test_lead}'",
        "Next, in another terminal (source .venv/bin/activate first):",
        "  python -m leads send-test-lead    # posts a fresh test lead and follows it to Dynamics and the mail",
        "  python -m leads status            # every lead's state",
        "  python -m leads check             # the configuration against the services",
    ]
    if standin_values:
        lines += [
            f"Leads created in the Dataverse stand-in: {standin_values['STANDIN_DATAVERSE_CONTROL']}/leads",
            f"Mail caught by the mail catcher: {standin_values['STANDIN_SMTP_CONTROL']}/messages",
            f"Teams cards posted to the Workflows stand-in: {standin_values['STANDIN_WORKFLOWS_CONTROL']}/cards",
        ]
    lines += ["Ctrl-C stops everything.", ""]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
