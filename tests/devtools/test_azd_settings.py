"""`azd env get-values | python -m devtools.azd_settings`: the deployed app's settings for the command line on a
laptop, with no secret in the file, and the Key Vault lines for the secrets `check` needs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from devtools.azd_settings import parse_env_values
from leads.settings import load_dynamics, load_routing, load_storage, local_file

ROOT = Path(__file__).resolve().parents[2]
# What `azd env get-values` prints after `azd up`: the variables set with `azd env set`, and the outputs.
AZD_ENV = """AZURE_ENV_NAME="leads-prod"
AZURE_LOCATION="westeurope"
AZURE_TENANT_ID="11111111-1111-1111-1111-111111111111"
AZURE_STORAGE_TABLE_ENDPOINT="https://stabc.table.core.windows.net/"
AZURE_STORAGE_QUEUE_ENDPOINT="https://stabc.queue.core.windows.net/"
AZURE_KEY_VAULT_NAME="kv-abc"
LEADS_ENDPOINT_URL="https://func-abc.azurewebsites.net/api/leads"
DYNAMICS_URL="https://contoso.crm4.dynamics.com"
LEADS_AZURE_CLIENT_ID="22222222-2222-2222-2222-222222222222"
LEADS_AZURE_CLIENT_SECRET="s3cr3t-value"
NOTIFY_TO="sales@contoso.com;ceo@contoso.com"
NOTIFY_FROM="leads@contoso.com"
LEAD_ROUTING_FILE="routing.example.toml"
LEADS_TEAMS="true"
TEAMS_WEBHOOK_URL="https://contoso.environment.api.powerplatform.com/hook?sig=secret"
LEADS_TEAMS_CHANNELS="TEAMS_WEBHOOK_DACH, TEAMS_WEBHOOK_US"
LEADS_TEAMS_CHANNEL_URLS="TEAMS_WEBHOOK_DACH=https://x/hook?sig=dach"
QUOTED="say \\"hi\\"\\nthere"
"""


def test_values_are_read_as_azd_prints_them() -> None:
    values = parse_env_values(AZD_ENV)
    assert values["NOTIFY_TO"] == "sales@contoso.com;ceo@contoso.com"
    assert values["QUOTED"] == 'say "hi"\nthere'


def test_the_file_holds_the_apps_settings_and_no_secret(tmp_path: Path) -> None:
    output = tmp_path / "config" / "leads-prod.settings.json"
    done = subprocess.run([sys.executable, "-m", "devtools.azd_settings", "--output", str(output)], input=AZD_ENV,
                          cwd=ROOT, capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = output.read_text()
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    for secret in ("s3cr3t-value", "sig=secret", "sig=dach"):
        assert secret not in text and secret not in done.stdout
    values = local_file.values(json.loads(text), output)
    assert values["AzureWebJobsStorage"] == ""  # never the sample's Azurite
    storage = load_storage(values)
    assert storage.uses_identity and storage.table_endpoint == "https://stabc.table.core.windows.net"
    dynamics = load_dynamics({**values, "AZURE_CLIENT_SECRET": "given for one command"})
    assert dynamics.enabled and dynamics.client_id == "22222222-2222-2222-2222-222222222222"
    assert dynamics.tenant_id == "11111111-1111-1111-1111-111111111111"
    assert load_routing(values).file == ROOT / "routing.example.toml"  # the clone's copy of the deployed file
    vault = "--vault-name kv-abc --name"
    expected = [("AZURE_CLIENT_SECRET", "azure-client-secret"), ("TEAMS_WEBHOOK_URL", "teams-webhook-url"),
                ("TEAMS_WEBHOOK_DACH", "teams-webhook-dach"), ("TEAMS_WEBHOOK_US", "teams-webhook-us")]  # fmt: skip
    for setting, secret in expected:
        assert f'export {setting}="$(az keyvault secret show {vault} {secret} --query value -o tsv)"' in done.stdout


def test_it_says_what_it_needs(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "devtools.azd_settings", "--output", str(tmp_path / "x.json")],
                          input='AZURE_ENV_NAME="x"\n', cwd=ROOT, capture_output=True, text=True, check=False,
                          env={**os.environ})  # fmt: skip
    assert done.returncode == 2 and "run `azd up`" in done.stderr and not (tmp_path / "x.json").exists()
