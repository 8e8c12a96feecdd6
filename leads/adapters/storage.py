"""What the table and queue adapters share: how to reach the storage account (transport and credential)."""

from __future__ import annotations

from typing import Any

from leads.settings import StorageSettings

# A worker runs up to 32 invocations at once (the Python worker's default thread pool): one pooled
# connection each, instead of opening and discarding connections beyond requests' default of 10.
POOL_SIZE = 32

# The HTTP function must answer quickly: a few short retries, then 503 so the marketplace tries again.
CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 3,
    "retry_backoff_factor": 0.3,
    "retry_backoff_max": 4,
    "connection_timeout": 5,
    "read_timeout": 20,
}


def transport() -> Any:
    """azure-core's requests transport with a connection pool sized for the worker's concurrency. Retries
    stay off in the session: the SDK's pipeline retries (CLIENT_OPTIONS)."""
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=POOL_SIZE, max_retries=Retry(total=False, redirect=False, raise_on_status=False))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RequestsTransport(session=session, session_owner=False)


def credential(settings: StorageSettings) -> Any:
    """The Entra ID credential for identity-based access (no connection string).

    ``AzureWebJobsStorage__credential=managedidentity`` (what Azure uses) → the managed identity, the
    user-assigned one when ``AzureWebJobsStorage__clientId`` is set; otherwise the developer's sign-in
    (Azure CLI, VS Code…) through DefaultAzureCredential, as the Functions host does locally.
    """
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential  # heavy: import on first use

    if settings.managed_identity_credential:
        return ManagedIdentityCredential(client_id=settings.managed_identity_client_id or None)
    # AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET are the Dynamics app registration's: the environment
    # and workload-identity credentials would read them and sign in to storage as that app (or fail on empty
    # values), so they are left out.
    return DefaultAzureCredential(
        exclude_environment_credential=True,
        exclude_workload_identity_credential=True,
        managed_identity_client_id=settings.managed_identity_client_id or None,
    )
