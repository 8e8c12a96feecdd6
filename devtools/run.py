"""`make run`: everything a newcomer needs to watch a lead go through, on one machine.

Starts Azurite, and — unless local.settings.json holds real credentials — local stand-ins for Entra ID,
Dataverse, Graph and a mail catcher (the ones the tests use), then the app on the development host.
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from devtools.azurite import DEFAULT_PORTS, ROOT, Azurite, port_open
from leads.core.validation_lead import test_lead_payload
from leads.settings import SettingsError, local_file

LOCAL = ROOT / ".local"
SETTINGS = ROOT / local_file.FILE_NAME
SAMPLE = ROOT / local_file.SAMPLE_NAME
GENERATED_MARK = "LOCAL_STANDINS"  # a Values entry: this file was written by `make run`, and may be rewritten
APP_PORT = 7071


def uses_standins() -> bool:
    """No local.settings.json yet, or one that `make run` wrote: run against the stand-ins."""
    if not SETTINGS.exists():
        return True
    return local_file.values(local_file.read(SETTINGS), SETTINGS).get(GENERATED_MARK) == "true"


def write_standin_settings(standin_values: dict[str, str]) -> None:
    """local.settings.json from the sample, pointed at the stand-ins (git-ignored; test secrets only)."""
    document = local_file.read(SAMPLE)
    values = document["Values"]
    values.update({name: value for name, value in standin_values.items() if not name.startswith("STANDIN_")})
    values.update(
        {
            GENERATED_MARK: "true",
            "DYNAMICS_ENABLED": "true",
            "DYNAMICS_AUTH": "client_secret",
            "NOTIFY_TO": "sales@contoso.example;ceo@contoso.example",
            "MAIL_TRANSPORT": "smtp",
            "TEAMS_WEBHOOK_URL": standin_values["STANDIN_TEAMS_WEBHOOK_URL"],
        }
    )
    SETTINGS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    SETTINGS.chmod(0o600)


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
    """The stand-ins, unless local.settings.json holds real credentials; their settings ({} without them)."""
    if not uses_standins():
        print("local.settings.json has your own settings: talking to the real Dynamics 365 and mail service")
        return {}
    standins, standin_values = start_standins()
    started.append(standins)
    write_standin_settings(standin_values)
    print(
        "local.settings.json points at the local stand-ins (it is rewritten on each `make run`;"
        " put real credentials in it to use your Dynamics 365 instead)"
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
        # The environment wins over local.settings.json (as with func start): give the host the stand-ins'
        # values explicitly, so e.g. a machine-wide REQUESTS_CA_BUNDLE does not hide the stand-ins' test CA.
        env = os.environ | {name: value for name, value in standin_values.items() if not name.startswith("STANDIN_")}
        host = subprocess.Popen([sys.executable, "-m", "devtools.host", "--port", str(APP_PORT)], cwd=ROOT, env=env)
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
    ca_file = standin_values.get("REQUESTS_CA_BUNDLE")
    if ca_file and os.environ.get("REQUESTS_CA_BUNDLE", ca_file) != ca_file:
        lines.append(f"  (this shell sets REQUESTS_CA_BUNDLE: prefix `check` with REQUESTS_CA_BUNDLE={ca_file})")
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
