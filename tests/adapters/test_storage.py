"""Choosing how to reach storage: a connection string (Azurite, keys) or Entra ID (identity-based, as in Azure).

Azurite's OAuth mode needs real Entra-issued JWTs over HTTPS, so the identity path is checked here by what
the adapters are built with; the connection-string path runs against Azurite everywhere else.
"""

from __future__ import annotations

import pytest
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from leads import runtime
from leads.adapters import storage
from leads.adapters.lead_queue import LeadQueue
from leads.adapters.lead_table import LeadTable
from leads.core import lead_row
from leads.core.clock import now
from leads.core.errors import StorageRefused
from leads.core.payload import parse_lead
from leads.settings import StorageSettings, load_storage
from tests.leadsamples import marketplace_lead

IDENTITY_BASED = {
    "AzureWebJobsStorage__tableServiceUri": "https://contosoleads.table.core.windows.net",
    "AzureWebJobsStorage__queueServiceUri": "https://contosoleads.queue.core.windows.net",
    "AzureWebJobsStorage__credential": "managedidentity",
    "AzureWebJobsStorage__clientId": "00000000-0000-0000-0000-0000000000aa",
}


def test_managed_identity_is_used_as_azure_configures_it() -> None:
    settings = load_storage(IDENTITY_BASED)
    credential = storage.credential(settings)
    assert isinstance(credential, ManagedIdentityCredential)
    table, queue = LeadTable(settings), LeadQueue(settings)
    assert table.client.url.startswith("https://contosoleads.table.core.windows.net")
    assert queue.client.url.startswith("https://contosoleads.queue.core.windows.net/leads")
    assert isinstance(table.client.credential, ManagedIdentityCredential)
    assert isinstance(queue.client.credential, ManagedIdentityCredential)


def test_developer_sign_in_without_the_managed_identity_setting() -> None:
    settings = load_storage({key: value for key, value in IDENTITY_BASED.items() if not key.endswith("credential")})
    assert isinstance(storage.credential(settings), DefaultAzureCredential)


def test_connection_string_needs_no_credential() -> None:
    settings = load_storage({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert not settings.uses_identity
    assert LeadTable(settings).client.url.startswith("http://127.0.0.1:10002/devstoreaccount1")


def test_the_dynamics_app_registration_is_not_used_for_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    # AZURE_* name the Dynamics app registration (empty in the sample settings): storage must not sign in with it.
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.setenv(name, "")
    settings = load_storage({key: value for key, value in IDENTITY_BASED.items() if not key.endswith("credential")})
    credential = storage.credential(settings)
    kinds = {type(part).__name__ for part in credential.credentials}
    assert "EnvironmentCredential" not in kinds
    assert "WorkloadIdentityCredential" not in kinds
    assert {"AzureCliCredential", "AzureDeveloperCliCredential", "ManagedIdentityCredential"} <= kinds


def test_a_request_the_table_refuses_for_good_is_not_taken_for_an_outage(storage_env: StorageSettings) -> None:
    """A 400 (here a value over the 64 KiB a property holds) will not change however often it is tried."""
    table = runtime.lead_table()
    lead = parse_lead(marketplace_lead())
    assert table.insert(lead_row.new_entity(lead, now()))
    with pytest.raises(StorageRefused, match="400"):
        table.update(lead.lead_id, {"TooLarge": "x" * 40_000})
