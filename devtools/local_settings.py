"""`make run`'s part of local.settings.json: the one file both the app (the development host, or `func start`) and
the command line read, so a setting put there is seen by both, and lasts.

- No file yet: `make run` writes one from the sample, pointed at the stand-ins, marked ``"LOCAL_STANDINS": "true"``.
- A file with that mark: on every start `make run` rewrites only what the stand-ins own (STANDIN_OWNED: their
  addresses, ports and test credentials, which change from run to run) and keeps every other value as you left it:
  your own settings (LEAD_ROUTING_FILE, DYNAMICS_LINK_CONTACTS, NOTIFY_TO…) go there.
- A file without the mark is yours (Core Tools' way: a copy of the sample with real values): `make run` starts no
  stand-ins, uses it as it is, and says what the app will do with it. Delete it, or add the mark, to go back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from leads.settings import SettingsError, load_dynamics, load_mail, local_file

MARK = "LOCAL_STANDINS"  # a Values entry: this file points at make run's stand-ins, which rewrite their part of it
# What make run sets when it first writes the file; changed values are kept on later runs.
FIRST_VALUES = {
    "DYNAMICS_ENABLED": "true",
    "DYNAMICS_AUTH": "client_secret",
    "NOTIFY_TO": "sales@contoso.example;ceo@contoso.example",
    "MAIL_TRANSPORT": "smtp",
}
# The stand-ins' webhook is a connection value too: its port changes with each run.
TEAMS_SETTING = "TEAMS_WEBHOOK_URL"


def uses_standins(path: Path) -> bool:
    """No file yet, or one marked as pointing at the stand-ins."""
    if not path.exists():
        return True
    return local_file.values(local_file.read(path), path).get(MARK) == "true"


def standin_owned(standin_values: Mapping[str, str]) -> dict[str, str]:
    """The values the stand-ins own in the file: their settings (not the STANDIN_ ones, which are for harnesses)."""
    owned = {name: value for name, value in standin_values.items() if not name.startswith("STANDIN_")}
    owned[TEAMS_SETTING] = standin_values["STANDIN_TEAMS_WEBHOOK_URL"]
    return owned


def write_standin_settings(path: Path, sample: Path, standin_values: Mapping[str, str]) -> list[str]:
    """Point the file at the stand-ins, keeping every value of yours; returns the names of the values you set (or
    changed from make run's first ones) that were kept. Mode 0600: it holds the stand-ins' test secrets."""
    existing = path.exists()
    document = local_file.read(path if existing else sample)
    values = local_file.values(document, path if existing else sample)
    owned = standin_owned(standin_values)
    if not existing:
        values.update(FIRST_VALUES)
    first = local_file.values(local_file.read(sample), sample) | FIRST_VALUES
    kept = sorted(
        name for name, value in values.items() if name not in owned and name != MARK and value != first.get(name)
    )
    if values.get("REQUESTS_CA_BUNDLE") == owned.get("LOOPBACK_CA_FILE"):
        del values["REQUESTS_CA_BUNDLE"]  # written by make run before LOOPBACK_CA_FILE: it replaced the machine's CAs
    values.update(owned)
    values[MARK] = "true"
    document["Values"] = values
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return kept


def describe_own_settings(path: Path, environ: Mapping[str, str] | None = None) -> list[str]:
    """What the app will do with a file of your own (and the environment, which wins over it): enough to see why
    leads would sit `held`, and how to go back to the stand-ins."""
    env = {**local_file.values(local_file.read(path), path), **(os.environ if environ is None else environ)}
    lines = [f'{path.name} is your own (its Values have no "{MARK}": "true"): no stand-ins, the app uses it as it is:']
    try:
        dynamics = load_dynamics(env)
        if not dynamics.enabled:
            lines.append("  Dynamics 365: off (DYNAMICS_ENABLED=false): leads are stored and kept `held`")
        else:
            lines.append(f"  Dynamics 365: {dynamics.url} (DYNAMICS_AUTH={dynamics.auth})")
    except SettingsError as exc:
        lines.append(f"  Dynamics 365: leads will fail until these are fixed: {'; '.join(exc.problems)}")
    try:
        mail = load_mail(env)
        said = f"{mail.transport} to NOTIFY_TO" if mail.enabled else "none (NOTIFY_TO empty or MAIL_TRANSPORT=none)"
        lines.append(f"  mail: {said}")
    except SettingsError as exc:
        lines.append(f"  mail: the settings have problems: {'; '.join(exc.problems)}")
    lines += [
        "  `python -m leads check` checks them against the services.",
        f'To go back to the stand-ins: delete {path.name}, or add "{MARK}": "true" to its Values (make run then '
        "writes the stand-ins' addresses into it and keeps your other values).",
    ]
    return lines
