"""``azd env get-values | python -m devtools.azd_settings --output FILE``: a settings file for ``python -m leads
--settings FILE`` (check, status, replay, import from a laptop) holding the deployed app's settings, as infra/main.bicep
derives them from the azd environment, without a single secret.

Secrets stay in Key Vault: the file leaves them out, and the command prints, for each secret the deployment uses,
the ``az keyvault secret show`` line that puts it in this shell's environment for as long as it is needed (the
environment wins over the file). Keep FILE outside the repository (default: ~/.config/marketplace-leads/); it is
written with mode 0600 all the same. docs/deploy.md ("Check and watch from your laptop") walks through it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

# App setting ← azd environment variable (main.parameters.json), or a deployment output.
FROM_AZD = {
    "AzureWebJobsStorage__tableServiceUri": "AZURE_STORAGE_TABLE_ENDPOINT",
    "AzureWebJobsStorage__queueServiceUri": "AZURE_STORAGE_QUEUE_ENDPOINT",
    "LEADS_TABLE": "LEADS_TABLE",
    "LEADS_QUEUE": "LEADS_QUEUE",
    "DYNAMICS_URL": "DYNAMICS_URL",
    "DYNAMICS_API_VERSION": "DYNAMICS_API_VERSION",
    "DYNAMICS_ENABLED": "DYNAMICS_ENABLED",
    "DYNAMICS_AUTH": "DYNAMICS_AUTH",
    "AZURE_CLIENT_ID": "LEADS_AZURE_CLIENT_ID",
    "DYNAMICS_USERNAME": "DYNAMICS_USERNAME",
    "AZURE_AUTHORITY_HOST": "LEADS_AZURE_AUTHORITY_HOST",
    "NOTIFY_TO": "NOTIFY_TO",
    "NOTIFY_FROM": "NOTIFY_FROM",
    "MAIL_TRANSPORT": "MAIL_TRANSPORT",
    "GRAPH_URL": "GRAPH_URL",
    "SMTP_HOST": "SMTP_HOST",
    "SMTP_PORT": "SMTP_PORT",
    "SMTP_USERNAME": "SMTP_USERNAME",
    "SMTP_STARTTLS": "SMTP_STARTTLS",
    "LEAD_ROUTING_FILE": "LEAD_ROUTING_FILE",
    "DYNAMICS_LINK_CONTACTS": "DYNAMICS_LINK_CONTACTS",
    "DYNAMICS_DUPLICATES": "DYNAMICS_DUPLICATES",
    "DYNAMICS_DUPLICATES_DAYS": "DYNAMICS_DUPLICATES_DAYS",
    "MARKETPLACE_TABLE": "MARKETPLACE_TABLE",
}
DEFAULTS = {"LEADS_TABLE": "leads", "LEADS_QUEUE": "leads", "DYNAMICS_AUTH": "client_secret"}
_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def parse_env_values(text: str) -> dict[str, str]:
    """``azd env get-values`` output: ``NAME="value"`` lines (dotenv, with \\" \\\\ and \\n escapes in quotes)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        name, raw = match.groups()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r"\\(.)", lambda escaped: {"n": "\n"}.get(escaped.group(1), escaped.group(1)), raw[1:-1])
        elif len(raw) >= 2 and raw[0] == raw[-1] == "'":
            raw = raw[1:-1]
        values[name] = raw
    return values


def app_settings(azd: Mapping[str, str]) -> dict[str, str]:
    """The deployed app's settings that are not secrets, as main.bicep sets them from these azd values."""
    settings = {name: azd.get(source) or DEFAULTS.get(name, "") for name, source in FROM_AZD.items()}
    settings["AzureWebJobsStorage"] = ""  # Azure's storage through your sign-in, never Azurite from the sample
    settings["AZURE_TENANT_ID"] = azd.get("LEADS_AZURE_TENANT_ID") or azd.get("AZURE_TENANT_ID", "")
    if not settings["DYNAMICS_ENABLED"]:
        settings["DYNAMICS_ENABLED"] = "true" if settings["DYNAMICS_URL"] else "false"
    if settings["DYNAMICS_AUTH"] == "managed_identity":
        settings["AZURE_CLIENT_ID"] = azd.get("AZURE_MANAGED_IDENTITY_CLIENT_ID", "")
    return {name: value for name, value in settings.items() if value or name == "AzureWebJobsStorage"}


def secrets(azd: Mapping[str, str]) -> dict[str, str]:
    """The secret settings the deployment uses (main.bicep's Key Vault references): setting → secret name."""
    auth, mail = azd.get("DYNAMICS_AUTH") or "client_secret", azd.get("MAIL_TRANSPORT") or "graph"
    # Setting → Key Vault secret name (names, not values), as main.bicep's secretNames.
    wanted = (
        ("AZURE_CLIENT_SECRET", "azure-client-secret", auth == "client_secret"),
        ("DYNAMICS_PASSWORD", "dynamics-password", auth == "username_password"),
        ("SMTP_PASSWORD", "smtp-password", mail == "smtp" and bool(azd.get("SMTP_USERNAME"))),
        ("TEAMS_WEBHOOK_URL", "teams-webhook-url", (azd.get("LEADS_TEAMS") or "").lower() == "true"),
    )
    found = {setting: secret for setting, secret, used in wanted if used}
    for name in filter(None, (azd.get("LEADS_TEAMS_CHANNELS") or "").replace(" ", "").split(",")):
        found[name] = name.lower().replace("_", "-")
    return found


def secret_commands(azd: Mapping[str, str]) -> list[str]:
    vault = azd.get("AZURE_KEY_VAULT_NAME") or "<vault>"
    return [
        f'export {setting}="$(az keyvault secret show --vault-name {vault} --name {secret} --query value -o tsv)"'
        for setting, secret in secrets(azd).items()
    ]


def default_output(azd: Mapping[str, str]) -> Path:
    name = azd.get("AZURE_ENV_NAME") or "azd"
    return Path.home() / ".config" / "marketplace-leads" / f"{name}.settings.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.azd_settings",
        description="Read `azd env get-values` on stdin; write the deployed app's settings, without secrets, for "
        "`python -m leads --settings FILE` (mode 0600, outside the repository).",
    )
    parser.add_argument(
        "--output", type=Path, help="where to write (default: ~/.config/marketplace-leads/<env>.settings.json)"
    )
    args = parser.parse_args(argv)
    if sys.stdin.isatty():
        print(
            "pipe `azd env get-values` into this command: azd env get-values | python -m devtools.azd_settings",
            file=sys.stderr,
        )
        return 2
    azd = parse_env_values(sys.stdin.read())
    if not azd.get("AZURE_STORAGE_TABLE_ENDPOINT"):
        print("the input has no AZURE_STORAGE_TABLE_ENDPOINT: run `azd up` (or `azd provision`) first", file=sys.stderr)
        return 2
    output = args.output or default_output(azd)
    output.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"IsEncrypted": False, "Values": app_settings(azd)}, handle, indent=2)
        handle.write("\n")
    print(f"wrote {output} (no secrets). Use it with: python -m leads --settings {output} status")
    commands = secret_commands(azd)
    if commands:
        print(
            "Secrets stay in Key Vault. For `check`, give them to this shell only (you hold Key Vault Secrets Officer):"
        )
        print("\n".join(f"  {command}" for command in commands))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
