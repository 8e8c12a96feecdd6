"""Where the leads are kept: the storage account (connection string or identity-based), table and queue."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from leads.core.urls import AddressProblem, parse_web_address
from leads.settings.reader import Reader

_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_QUEUE_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class StorageSettings:
    """Either a connection string, or endpoints reached with an Entra ID credential."""

    connection_string: str = field(repr=False)  # holds the AccountKey: kept out of repr() (tracebacks, logs)
    table_endpoint: str
    queue_endpoint: str
    managed_identity_credential: bool  # AzureWebJobsStorage__credential=managedidentity
    managed_identity_client_id: str
    table_name: str
    queue_name: str

    @property
    def uses_identity(self) -> bool:
        return not self.connection_string


def load_storage(env: Mapping[str, str] | None = None) -> StorageSettings:
    read = Reader(env)
    prefix = "AzureWebJobsStorage"
    connection_string = read.text(prefix)
    table_endpoint = read.text(f"{prefix}__tableServiceUri")
    queue_endpoint = read.text(f"{prefix}__queueServiceUri")
    account = read.text(f"{prefix}__accountName")
    if account and not (table_endpoint or queue_endpoint):
        table_endpoint = f"https://{account}.table.core.windows.net"
        queue_endpoint = f"https://{account}.queue.core.windows.net"
    if connection_string:
        if connection_string != "UseDevelopmentStorage=true" and "=" not in connection_string:
            read.problem(
                prefix,
                "is not a storage connection string; copy it from the storage account's "
                "'Access keys' page, or use UseDevelopmentStorage=true for Azurite",
            )
    elif not (table_endpoint and queue_endpoint):
        read.problem(
            prefix,
            "is not set; set it to a storage connection string (UseDevelopmentStorage=true "
            f"for Azurite), or set {prefix}__tableServiceUri and {prefix}__queueServiceUri "
            "(or __accountName) for identity-based access",
        )
    table_endpoint = _endpoint(read, f"{prefix}__tableServiceUri", table_endpoint, connection_string)
    queue_endpoint = _endpoint(read, f"{prefix}__queueServiceUri", queue_endpoint, connection_string)
    table_name, queue_name = _table_and_queue(read)
    read.done()
    return StorageSettings(
        connection_string=connection_string,
        table_endpoint=table_endpoint,
        queue_endpoint=queue_endpoint,
        managed_identity_credential=read.text(f"{prefix}__credential").lower() == "managedidentity",
        managed_identity_client_id=read.text(f"{prefix}__clientId"),
        table_name=table_name,
        queue_name=queue_name,
    )


def _endpoint(read: Reader, name: str, endpoint: str, connection_string: str) -> str:
    """An identity-based endpoint, rebuilt from the parts the HTTP client reads (leads.core.urls): the app's
    token for storage goes to that host. Unused (and unchecked) beside a connection string."""
    if not endpoint or connection_string:
        return endpoint.rstrip("/")
    try:
        address = parse_web_address(endpoint)
    except AddressProblem as exc:
        read.problem(name, f"{exc}; use https://<account>.table.core.windows.net (or .queue.)")
        return ""
    if address.scheme != "https":
        read.problem(name, f"is {address.origin!r}; it must be an https:// URL")
    return address.url.rstrip("/")


def _table_and_queue(read: Reader) -> tuple[str, str]:
    """LEADS_TABLE and LEADS_QUEUE, checked against the storage service's naming rules."""
    table_name = read.text("LEADS_TABLE", "leads")
    if not _TABLE_NAME.match(table_name):
        read.problem(
            "LEADS_TABLE", f"is {table_name!r}; a table name is 3-63 letters and digits, starting with a letter"
        )
    queue_name = read.text("LEADS_QUEUE", "leads")
    if not _QUEUE_NAME.match(queue_name) or len(queue_name) > 56:
        read.problem(
            "LEADS_QUEUE",
            f"is {queue_name!r}; a queue name is 3-56 lower-case letters, digits and "
            "single hyphens (the poison queue adds '-poison')",
        )
    return table_name, queue_name
